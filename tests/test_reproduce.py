"""The OPD reproduction script runs end to end in its quick mode and writes its results, in one process or as Ray Tune
trials."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "benchmarks" / "reproduce_opd.py")


@pytest.fixture(scope="module")
def sequential(tmp_path_factory) -> Path:
    """The quick reproduction, its two seeds one after the other."""
    out = tmp_path_factory.mktemp("sequential")
    subprocess.run([sys.executable, SCRIPT, "--quick", "--out", str(out)], check=True, capture_output=True, timeout=600)
    return out


def test_quick_reproduction_writes_the_table_and_plots(sequential):
    results = (sequential / "RESULTS.md").read_text()
    agents = ("TWAP", "VWAP", "AlmgrenChriss", "Oracle (bound)", "teacher (privileged)", "OPD student (μ = 0.01)",
              "OPD student (μ = 1)", "RecurrentPPO (no distillation)", "DQN")  # fmt: skip
    for agent in agents:
        assert f"| {agent} |" in results
    rows = {row["agent"]: row for row in json.loads((sequential / "quick.json").read_text())["rows"]}
    oracle = rows.pop("Oracle (bound)")["mean_reward"]
    assert all(oracle >= row["mean_reward"] for row in rows.values())  # the bound bounds every agent
    assert rows["TWAP"]["pa_mean"] == pytest.approx(0.0, abs=1e-9)
    assert [row["n_seeds"] for row in rows.values()] == [1] * 3 + [2] * 5  # the baselines, the learned agents
    assert (sequential / "quick_pa_distribution.png").stat().st_size > 0
    assert (sequential / "quick_schedule.png").stat().st_size > 0


def test_quick_reproduction_as_ray_tune_trials_gives_the_sequential_table(sequential, tmp_path):
    pytest.importorskip("ray", reason="Ray is installed by the test extra")
    command = [sys.executable, SCRIPT, "--quick", "--out", str(tmp_path), "--ray", "--workers", "2"]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    tune, reference = (json.loads((out / "quick.json").read_text())["rows"] for out in (tmp_path, sequential))
    assert tune == reference  # both seeds' trials ran at once on two Ray workers, with the same results
