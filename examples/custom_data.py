"""Bring your own minute bars: read a CSV or Parquet file with a column mapping, build episodes, step the env on
them, and evaluate baselines on them.

The file below is generated on the fly (two instruments, three weeks) so the example runs anywhere; replace
``write_example_csv`` with your own file and mapping. It trains nothing: to train on your market, save it
(``market.save("my_market")``) and pass the directory as ``--data`` to ``order-exec train`` or
``examples/train_opd.py``.

    python examples/custom_data.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import polars as pl

import order_exec_gym  # noqa: F401
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.readers import read_bars
from order_exec_gym.data.synthetic import synthetic_bars
from order_exec_gym.evaluation import compare, format_table, reward_in_bps


def write_example_csv(path: Path) -> None:
    """A vendor-style CSV: own column names, a turnover column, volume in shares."""
    bars = synthetic_bars(n_symbols=2, n_days=15, seed=3).frame
    bars.select(
        pl.col("symbol").alias("code"),
        pl.col("timestamp").dt.strftime("%Y-%m-%d %H:%M:%S").alias("datetime"),
        pl.col("open").alias("o"),
        pl.col("high").alias("h"),
        pl.col("low").alias("l"),
        pl.col("close").alias("c"),
        pl.col("volume").alias("vol"),
        (pl.col("price") * pl.col("volume")).alias("turnover"),
    ).write_csv(path)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "my_bars.csv"
        write_example_csv(path)
        table = read_bars(
            path,
            columns={"symbol": "code", "timestamp": "datetime", "open": "o", "high": "h", "low": "l", "close": "c", "volume": "vol"},
            amount="turnover",  # price = turnover / volume (the bar VWAP)
            bar_minutes=1,
        )
    market = MarketDataset.from_bars(table, splits={"train": ("2023-01-02", "2023-01-13"), "test": ("2023-01-16", "2023-01-20")})
    print(market.summary())

    env = gym.make("OrderExec-v0", data=market, split="train")
    obs, info = env.reset(seed=0)
    print(f"first order: {info['symbol']} {info['date']}, {info['n_steps']} steps; private obs {np.round(obs['private'], 3)}")
    table = compare({"VWAP": "VWAP", "Oracle": "Oracle"}, data=market, split="test")
    print(format_table(reward_in_bps(table), reference="TWAP"))


if __name__ == "__main__":
    main()
