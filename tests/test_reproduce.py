"""The OPD reproduction script runs end to end in its quick mode and writes its results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_quick_reproduction_writes_the_table_and_plots(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "reproduce_opd.py"), "--quick", "--out", str(tmp_path)], check=True, capture_output=True, timeout=300)
    results = (tmp_path / "RESULTS.md").read_text()
    agents = ("TWAP", "VWAP", "AlmgrenChriss", "Oracle (bound)", "teacher (privileged)", "OPD student (μ = 0.01)",
              "OPD student (μ = 1)", "RecurrentPPO (no distillation)", "DQN")  # fmt: skip
    for agent in agents:
        assert f"| {agent} |" in results
    rows = {row["agent"]: row for row in json.loads((tmp_path / "quick.json").read_text())["rows"]}
    oracle = rows.pop("Oracle (bound)")["mean_reward"]
    assert all(oracle >= row["mean_reward"] for row in rows.values())  # the bound bounds every agent
    assert rows["TWAP"]["pa_mean"] == pytest.approx(0.0, abs=1e-9)
    assert [row["n_seeds"] for row in rows.values()] == [1] * 8
    assert (tmp_path / "quick_pa_distribution.png").stat().st_size > 0
    assert (tmp_path / "quick_schedule.png").stat().st_size > 0
