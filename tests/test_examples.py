"""The README's main job (examples/train_opd.py) runs end to end and prints a verdict its interval supports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "train_opd.py"
VERDICT = re.compile(
    r"OPD student - RecurrentPPO: ([+-][\d.]+) bps, 95% CI resampling days \[([+-][\d.]+), ([+-][\d.]+)\]: "
    r"the student (beats|loses to|does not differ, beyond noise, from) its control"
)


def test_train_opd_runs_and_compares_the_student_with_its_control(tmp_path):
    command = [sys.executable, str(EXAMPLE), "--steps", "512", "--n-envs", "8", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    table = pl.read_csv(tmp_path / "comparison.csv")
    agents = ["TWAP", "PublicBound", "RecurrentPPO", "OPD student", "teacher (privileged)", "Oracle"]
    assert table["agent"].to_list() == agents
    pa = dict(zip(table["agent"], table["pa_mean"], strict=True))
    assert abs(pa["TWAP"]) < 1e-6 and pa["Oracle"] >= max(pa.values())  # nothing beats the perfect-information optimum

    found = VERDICT.search(done.stdout)
    assert found, done.stdout
    diff, low, high = (float(value) for value in found.groups()[:3])
    assert low <= diff <= high
    assert abs(diff - (pa["OPD student"] - pa["RecurrentPPO"])) <= 0.005 + 1e-9  # printed to 2 decimals
    expected = "beats" if low > 0 else ("loses to" if high < 0 else "does not differ, beyond noise, from")
    assert found.group(4) == expected
    assert "share of the PublicBound's PA" in done.stdout or "does not beat TWAP beyond noise" in done.stdout
    for name in ("schedule.png", "pa_distribution.png", "models/teacher.zip", "models/student.zip", "models/recurrent_ppo.zip"):
        assert (tmp_path / name).stat().st_size > 0


def test_train_opd_refuses_a_signal_for_real_data(tmp_path):
    command = [sys.executable, str(EXAMPLE), "--data", "ashare-1min", "--signal", "1", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--signal" in done.stderr and "does not apply to --data" in done.stderr
