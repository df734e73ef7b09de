"""The README's main job (examples/train_opd.py) runs end to end and prints an honest verdict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_opd_runs_and_compares_the_student_with_its_control(tmp_path):
    command = [sys.executable, str(ROOT / "examples" / "train_opd.py"), "--steps", "512", "--n-envs", "8", "--out", str(tmp_path)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
    for agent in ("TWAP", "PublicBound", "RecurrentPPO", "OPD student", "teacher (privileged)", "Oracle"):
        assert f"│ {agent}" in done.stdout
    assert "OPD student - RecurrentPPO:" in done.stdout and "95% CI resampling days" in done.stdout
    assert "share of the PublicBound's PA" in done.stdout
    for name in ("comparison.csv", "schedule.png", "pa_distribution.png", "models/student.zip"):
        assert (tmp_path / name).stat().st_size > 0
