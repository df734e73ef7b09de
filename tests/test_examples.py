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


# ------------------------------------------------------------------- the other examples, and print(compare(...))


def load_example(name: str) -> ModuleType:
    """examples/NAME.py as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_print_compare_shows_the_whole_table_whatever_the_display_settings(small_market):
    """The README's ``print(compare(...))``: polars hid ``glr`` behind "…" and wrapped "mean_reward" in a terminal."""
    from order_exec_gym.evaluation import compare

    agents = {name: name for name in ("VWAP", "AlmgrenChriss", "Random", "Oracle", "PublicBound")}
    agents["an agent with a long name (privileged: sees the future)"] = "Oracle"
    table = compare(agents, data=small_market, n_orders=10)
    assert isinstance(table, pl.DataFrame)
    with pl.Config(tbl_cols=4, tbl_rows=3, tbl_width_chars=60, fmt_str_lengths=10):  # a narrow, short display
        text, html = str(table), table._repr_html_()
        assert "…" in str(table.drop("glr"))  # a plain frame is cut short there ...
    assert "…" not in text and "&#x2026;" not in html and "…" not in html  # ... the comparison is not
    header = next(line for line in text.splitlines() if line.startswith("│ agent"))
    assert [cell.strip() for cell in header.strip("│").split("┆")] == table.columns  # one line: no name wrapped
    for name in ("TWAP", *agents):
        assert f"│ {name} " in text and f"<td>&quot;{name}&quot;</td>" in html
    assert repr(table) == text


def test_evaluate_your_agent_prints_rewards_in_bps_with_a_legend(small_market, tmp_path, monkeypatch, capsys):
    """Its mean_reward printed as -0.000 (three decimals of a ~1e-4 reward)."""
    small_market.save(tmp_path / "market")
    monkeypatch.setattr(sys, "argv", ["evaluate_your_agent.py", "--data", str(tmp_path / "market"), "--n-orders", "20"])
    load_example("evaluate_your_agent").main()
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith("│ agent"))
    assert "┆ mean_reward_bps ┆" in header and "…" not in printed
    rewards = [float(line.split("┆")[1]) for line in printed.splitlines() if line.startswith(("│ my rule", "│ Oracle"))]
    assert len(rewards) == 2 and all(abs(reward) >= 0.01 for reward in rewards)  # in bps they show
    assert "mean_reward_bps: mean episode reward x 1e4, in bps" in printed and "glr: gain-loss ratio" in printed


def test_custom_data_docstring_says_what_it_does(capsys):
    """It said it trains, and it did not: it reads bars, steps the env and evaluates baselines."""
    module = load_example("custom_data")
    summary = module.__doc__.split("\n\n")[0]
    assert "evaluate" in summary and "train" not in summary
    assert "It trains nothing" in module.__doc__
    source = (ROOT / "examples" / "custom_data.py").read_text()
    assert not re.search(r"\.learn\(|\btrain(_\w+)?\(", source)  # indeed: no training in it
    module.main()
    printed = capsys.readouterr().out
    assert "first order:" in printed and "┆ mean_reward_bps ┆" in printed and "│ Oracle" in printed
