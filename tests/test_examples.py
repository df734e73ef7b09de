"""The README's main job (examples/train_opd.py) runs end to end and prints a verdict its interval supports: in this
process on a small saved market and a tiny budget, and (slow) as a script on its default market."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

from order_exec_gym.data.dataset import MarketDataset

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "train_opd.py"
VERDICT = re.compile(
    r"OPD student - RecurrentPPO: ([+-][\d.]+) bps, 95% CI resampling days \[([+-][\d.]+), ([+-][\d.]+)\]: "
    r"the student (beats|loses to|does not differ, beyond noise, from) its control"
)


def check_run(out: Path, stdout: str) -> None:
    """The run's table in ``out``, its verdict in ``stdout`` (as its interval says), its models and plots."""
    table = pl.read_csv(out / "comparison.csv")
    agents = ["TWAP", "PublicBound", "RecurrentPPO", "OPD student", "teacher (privileged)", "Oracle"]
    assert table["agent"].to_list() == agents
    pa = dict(zip(table["agent"], table["pa_mean"], strict=True))
    assert abs(pa["TWAP"]) < 1e-6 and pa["Oracle"] >= max(pa.values())  # nothing beats the perfect-information optimum

    found = VERDICT.search(stdout)
    assert found, stdout
    diff, low, high = (float(value) for value in found.groups()[:3])
    assert low <= diff <= high
    assert abs(diff - (pa["OPD student"] - pa["RecurrentPPO"])) <= 0.005 + 1e-9  # printed to 2 decimals
    expected = "beats" if low > 0 else ("loses to" if high < 0 else "does not differ, beyond noise, from")
    assert found.group(4) == expected
    assert "share of the PublicBound's PA" in stdout or "does not beat TWAP beyond noise" in stdout
    for name in ("schedule.png", "pa_distribution.png", "models/teacher.zip", "models/student.zip", "models/recurrent_ppo.zip"):
        assert (out / name).stat().st_size > 0


def example() -> ModuleType:
    """examples/train_opd.py as a module, to call its ``main`` in this process."""
    spec = importlib.util.spec_from_file_location("train_opd", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_opd_in_this_process_on_a_small_saved_market(tmp_path, monkeypatch, capsys):
    """The whole example on a saved market of 4 instruments x 30 days with a signal, one rollout per model."""
    MarketDataset.synthetic(n_symbols=4, n_days=30, seed=0, signal=2.0).save(tmp_path / "market")
    out = tmp_path / "out"
    argv = ["train_opd.py", "--data", str(tmp_path / "market"), "--steps", "64", "--n-envs", "4", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    example().main()
    check_run(out, capsys.readouterr().out)


def test_train_opd_refuses_a_signal_for_real_data_in_this_process(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["train_opd.py", "--data", "ashare-1min", "--signal", "1", "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as refused:
        example().main()
    stderr = capsys.readouterr().err
    assert refused.value.code == 2 and "--signal" in stderr and "does not apply to --data" in stderr


@pytest.mark.slow
def test_train_opd_runs_and_compares_the_student_with_its_control(tmp_path):
    command = [sys.executable, str(EXAMPLE), "--steps", "512", "--n-envs", "8", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    check_run(tmp_path, done.stdout)


@pytest.mark.slow
def test_train_opd_refuses_a_signal_for_real_data(tmp_path):
    command = [sys.executable, str(EXAMPLE), "--data", "ashare-1min", "--signal", "1", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--signal" in done.stderr and "does not apply to --data" in done.stderr
