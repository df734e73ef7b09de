"""The OPD reproduction script runs end to end and writes its results: its quick mode as a script in one process
(the CI's run of the benchmark) and (slow) as Ray Tune trials."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks import reproduce_opd as reproduce
from sb3_distill import experiment

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "benchmarks" / "reproduce_opd.py")
#: Every agent of the quick reproduction, in its table's order.
AGENTS = ("TWAP", "VWAP", "AlmgrenChriss", "Oracle (bound)", "teacher (privileged)", "OPD student (μ = 0.01)",
          "OPD student (μ = 1)", "RecurrentPPO (no distillation)", "DQN")  # fmt: skip


def check_quick_run(out: Path, n_seeds: int) -> None:
    """The quick run's tables.md, JSON and plots in ``out``: every agent, the bound above them, TWAP at 0 PA."""
    results = (out / reproduce.TABLES).read_text()
    for agent in AGENTS:
        assert f"| {agent} |" in results
    rows = {row["agent"]: row for row in json.loads((out / "quick.json").read_text())["rows"]}
    assert list(rows) == list(AGENTS)
    oracle = rows.pop("Oracle (bound)")["mean_reward"]
    assert all(oracle >= row["mean_reward"] for row in rows.values())  # the bound bounds every agent
    assert rows["TWAP"]["pa_mean"] == pytest.approx(0.0, abs=1e-9)
    assert [row["n_seeds"] for row in rows.values()] == [1] * 3 + [n_seeds] * 5  # the baselines, the learned agents
    assert all(len(row["step_shares"]) == 8 and 0 <= row["one_step_share"] <= 1 for row in rows.values())
    assert "orders in one step" in results and "entropy, L_d, agreement" in results
    log = json.loads((out / "quick.json").read_text())["log"]  # the per-update history only as the table's late means
    assert log and all("train_history" not in run and run["valid_history"] for run in log.values())
    assert (out / "quick_pa_distribution.png").stat().st_size > 0
    assert (out / "quick_schedule.png").stat().st_size > 0


def test_a_variant_is_its_own_section():
    """--steps, --mu/--select and --seeds change the section's experiment, and name the section."""
    args = reproduce.parser().parse_args(["--steps", "1500000", "--seeds", "0", "1"])
    label, config = reproduce.variant("ashare-etf-5min-paper", reproduce.CONFIGS["ashare-etf-5min-paper"], args)
    assert label == "ashare-etf-5min-paper-1500k-seeds0_1" and config.seeds == (0, 1)
    assert set(config.experiment.steps.values()) == {1_500_000}
    assert config.experiment.mus == reproduce.CONFIGS["ashare-etf-5min-paper"].experiment.mus
    args = reproduce.parser().parse_args(["--mu", "1", "--select", "pa_mean"])
    label, config = reproduce.variant("ashare-1min", reproduce.CONFIGS["ashare-1min"], args)
    assert label == "ashare-1min-mu1-pa_mean" and config.experiment.mus == (1.0,) and config.seeds == (0, 1, 2)
    args = reproduce.parser().parse_args(["--steps", "1500"])
    assert reproduce.variant("ashare-1min", reproduce.CONFIGS["ashare-1min"], args)[0] == "ashare-1min-1500"
    assert reproduce.variant("ashare-1min", reproduce.CONFIGS["ashare-1min"], reproduce.parser().parse_args([])) == (
        "ashare-1min", reproduce.CONFIGS["ashare-1min"])


@pytest.fixture(scope="module")
def sequential(tmp_path_factory) -> Path:
    """The quick reproduction, its two seeds one after the other."""
    out = tmp_path_factory.mktemp("sequential")
    command = [sys.executable, SCRIPT, "--quick", "--out", str(out), "--no-trials"]  # trains, never takes a kept trial
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    return out


def test_quick_reproduction_writes_the_table_and_plots(sequential):
    """The script's --quick run (the CI's benchmark run): trials, evaluation, the section and tables.md."""
    check_quick_run(sequential, n_seeds=2)
    assert sorted(p.name for p in sequential.iterdir()) == sorted(
        ["quick.json", "quick.md", "quick_pa_distribution.png", "quick_schedule.png", reproduce.TABLES]
    )


@pytest.mark.slow
def test_quick_reproduction_as_ray_tune_trials_gives_the_sequential_table(sequential, tmp_path):
    pytest.importorskip("ray", reason="Ray is installed by the test extra")
    command = [sys.executable, SCRIPT, "--quick", "--out", str(tmp_path), "--ray", "--workers", "2", "--no-trials"]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    tune, reference = (json.loads((out / "quick.json").read_text())["rows"] for out in (tmp_path, sequential))
    assert tune == reference  # both seeds' trials ran at once on two Ray workers, with the same results


def test_kept_trials_are_taken_back_and_combined_with_new_seeds(tmp_path, monkeypatch):
    """A seed's trial run once is kept: a later run with more seeds trains only the new one, and its section pools
    both seeds, equal to training them together (here with the agents after the teacher in two processes); the
    section says which were kept."""
    tiny = replace(reproduce.QUICK.experiment, steps=dict(teacher=512, student=512, ppo=512, dqn=512), n_envs=4,
                   dqn=False, mus=(0.01,))  # fmt: skip
    one, both = (replace(reproduce.QUICK, experiment=tiny, seeds=seeds) for seeds in ((0,), (0, 1)))
    trained: list[int] = []
    run_trials = experiment.run_trials

    def counting(jobs, **options):
        trained.extend(seed for _, _, seed in jobs)
        return run_trials(jobs, **options)

    monkeypatch.setattr(experiment, "run_trials", counting)
    kept = tmp_path / "trials"
    reproduce.run_dataset("quick", one, tmp_path / "one", kept)
    reproduce.run_dataset("quick", both, tmp_path / "kept", kept)
    assert trained == [0, 1]  # seed 0 was taken back
    assert len(list(kept.glob("synthetic-seed*.pkl"))) == 2
    reproduce.run_dataset("quick", both, tmp_path / "fresh", None, parallel_agents=2)  # the agents in two processes
    assert trained == [0, 1, 0, 1] and len(list(kept.iterdir())) == 2  # nothing kept without a folder
    kept_run, fresh = (json.loads((tmp_path / out / "quick.json").read_text()) for out in ("kept", "fresh"))
    assert kept_run["rows"] == fresh["rows"]
    assert kept_run["how"] == "one trial at a time, one process per trial; trials trained 1, kept from earlier runs 1"
    assert fresh["how"] == "one trial at a time, 2 processes per trial after its teacher; trials trained 2, kept from earlier runs 0"
    assert f"({kept_run['how']})" in (tmp_path / "kept" / "quick.md").read_text()
    reproduce.run_dataset("quick", replace(one, extra=dict(n_symbols=4, n_days=21)), tmp_path / "other", kept)
    assert trained == [0, 1, 0, 1, 0] and len(list(kept.iterdir())) == 3  # another market's seed 0 is not this one's
