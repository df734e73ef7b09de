"""The OPD reproduction script runs end to end and writes its results: its quick mode as a script in one process
(the CI's run of the benchmark) and (slow) as Ray Tune trials."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import reproduce_opd as reproduce

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
    subprocess.run([sys.executable, SCRIPT, "--quick", "--out", str(out)], check=True, capture_output=True, timeout=600)
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
    command = [sys.executable, SCRIPT, "--quick", "--out", str(tmp_path), "--ray", "--workers", "2"]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    tune, reference = (json.loads((out / "quick.json").read_text())["rows"] for out in (tmp_path, sequential))
    assert tune == reference  # both seeds' trials ran at once on two Ray workers, with the same results
