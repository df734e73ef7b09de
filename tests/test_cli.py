"""The order-exec command: in-process through main() and once as a subprocess."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

from order_exec_gym.cli import COMMANDS, build_parser, main
from order_exec_gym.data.loaders import PRESETS, shared_data_dir
from order_exec_gym.data.synthetic import synthetic_bars

AGENTS = ("TWAP", "VWAP", "AC", "Random", "Oracle")


@pytest.fixture(scope="module")
def saved_market(small_market, tmp_path_factory):
    """The small market written by MarketDataset.save, as --data takes it."""
    folder = tmp_path_factory.mktemp("market") / "small"
    small_market.save(folder)
    return folder


def test_parser_registers_every_command():
    assert len(COMMANDS) >= 2
    parser = build_parser()
    for argv in (["data", "check", "x.csv"], ["data", "summary"], ["baselines"]):
        assert callable(parser.parse_args(argv).handler)
    assert main([]) == 2


@pytest.mark.parametrize("argv", [["--help"], ["data", "--help"], ["data", "check", "--help"], ["data", "summary", "--help"], ["baselines", "--help"]])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert len(capsys.readouterr().out.splitlines()) > 5


def test_baselines_prints_the_table_and_writes_outputs(saved_market, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["baselines", "--data", str(saved_market), "--n-orders", "30", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    for name in AGENTS:
        assert f"│ {name}" in printed
    assert "orders=30" in printed and "pa_diff" in printed
    table = pl.read_csv(out / "comparison.csv")
    assert table["agent"].to_list() == list(AGENTS)
    orders = pl.read_parquet(out / "orders.parquet")
    assert orders.height == 5 * 30 and orders.columns[0] == "agent"
    assert pl.read_csv(out / "orders.csv").height == 5 * 30
    for png in ("schedule.png", "pa_distribution.png"):
        assert (out / png).stat().st_size > 5000


def test_baselines_options(saved_market, capsys):
    argv = ["baselines", "--data", str(saved_market), "--split", "valid", "--step-minutes", "1", "--side", "random",
            "--action-type", "continuous", "--agents", "Oracle,AC", "--reference", "TWAP", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "step_minutes=1" in printed and "action_type=continuous" in printed
    rows = [line.strip("│ ").split("┆")[0].strip() for line in printed.splitlines() if line.startswith("│ ")]
    assert rows == ["agent", "TWAP", "Oracle", "AC"]
    assert main(["baselines", "--data", str(saved_market), "--agents", "TWAP,Nobody"]) == 2
    assert "unknown baselines ['Nobody']" in capsys.readouterr().err
    assert main(["baselines", "--data", str(saved_market), "--step-minutes", "7", "--window-minutes", "10", "--split", "nope"]) == 1
    assert "unknown split 'nope'" in capsys.readouterr().err


def test_data_summary(saved_market, capsys):
    assert main(["data", "summary", "--data", str(saved_market)]) == 0
    printed = capsys.readouterr().out
    assert "episodes=80" in printed and "split test" in printed
    assert main(["data", "summary", "--data", "no-such-preset"]) == 1
    assert "cannot resolve data='no-such-preset'" in capsys.readouterr().err


def test_data_check_generic_csv(tmp_path, capsys):
    frame = synthetic_bars(n_symbols=2, n_days=4).frame.drop("price").rename({"timestamp": "time", "volume": "vol"})
    good = tmp_path / "bars.csv"
    frame.write_csv(good)
    assert main(["data", "check", str(good), "--column", "timestamp=time", "--column", "volume=vol"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("OK") and "episodes=8" in printed

    bad = tmp_path / "bad.csv"
    frame.with_columns(pl.when(pl.int_range(pl.len()) == 100).then(-5.0).otherwise(pl.col("vol")).alias("vol")).write_csv(bad)
    assert main(["data", "check", str(bad), "--column", "timestamp=time", "--column", "volume=vol"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error:") and "bad.csv" in error and "volume" in error
    assert main(["data", "check", str(good), "--column", "timestamp"]) == 1
    assert "NAME=COLUMN" in capsys.readouterr().err
    assert main(["data", "check", str(tmp_path / "missing"), "--preset", "ashare-1min"]) == 1


def test_data_check_real_preset(capsys):
    root = shared_data_dir()
    folder = PRESETS["ashare-2018"].folder
    if root is None or not (root / folder).is_dir():
        pytest.skip(f"../shared/data/{folder} not found: real-data test needs the shared data folder")
    assert main(["data", "check", str(root / folder), "--preset", "ashare-2018"]) == 0
    assert "episodes=21" in capsys.readouterr().out


def test_console_script_in_a_subprocess(saved_market):
    command = [sys.executable, "-m", "order_exec_gym.cli", "baselines", "--data", str(saved_market), "--n-orders", "10"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "│ Oracle" in done.stdout and "agents" in done.stderr  # the progress bar goes to stderr
