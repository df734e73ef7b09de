"""Calibration of the synthetic market's regimes: what the public information is worth in each (docs/REGIMES.md).

Run: ``python benchmarks/regimes.py`` (about 20 s on one core). For each regime of
:data:`~order_exec_gym.data.synthetic.REGIMES`, with the market without a signal and the opening-gap fade at
signal 1 for reference, on a 30-instrument x 200-day synthetic market (seed 0) with the paper's settings
(``PAPER_CONFIG``: sell orders over the whole session, 30-minute steps), every order of the valid and the test days
is executed by TWAP, the PublicBound and the Oracle. It prints, per regime and split, their mean price advantage
(bps), the PublicBound's share of the Oracle's, and the PublicBound's difference to TWAP with a 95% interval that
resamples whole days (the orders of one day share the market's moves). On the afternoon-reversal regime it adds the
PublicBound without the market context (``PublicBound(market_context=False)``: the instrument's own morning move
only), what the market context's columns add, and the one that waits for midday (``PublicBound(wait=True)``), the
stronger public rule there.

``--n-symbols``, ``--n-days`` and ``--seed`` change the market; ``--quick`` runs a small one (a smoke run);
``--signals 0.4 0.5 ...`` adds the fade at those levels (how :data:`~order_exec_gym.data.synthetic.WEAK_SIGNAL` was
chosen: the level whose PublicBound earns 5-10% of the Oracle on the test days).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from order_exec_gym import PAPER_CONFIG
from order_exec_gym.baselines import PublicBound
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.synthetic import REGIMES
from order_exec_gym.evaluation import evaluate
from order_exec_gym.metrics import paired_bootstrap_ci
from order_exec_gym.task import ExecutionTask

#: The regimes calibrated, as options of ``MarketDataset.synthetic``: two references, then the named regimes.
CALIBRATED: dict[str, dict[str, float]] = {"no signal": {}, "fade, signal 1": {"signal": 1.0}, **REGIMES}
#: The splits reported (the valid days choose checkpoints in the experiments, the test days report them).
SPLITS = ("valid", "test")


@dataclass(frozen=True)
class Row:
    """One regime on one split: mean PA (bps) of TWAP, the PublicBound and the Oracle, the PublicBound's difference
    to TWAP with its day-clustered 95% interval, and the rule behind the PublicBound column (``agent``)."""

    regime: str
    split: str
    agent: str
    n_orders: int
    n_days: int
    twap: float
    public: float
    oracle: float
    difference: float
    low: float
    high: float

    @property
    def share(self) -> float:
        """The PublicBound's share of the Oracle's mean PA."""
        return self.public / self.oracle


def calibrate(market: MarketDataset, split: str, regime: str, market_context: bool = True, wait: bool = False) -> Row:
    """TWAP, the PublicBound (with or without the market context, waiting for midday or not) and the Oracle on
    every order of ``split``."""
    task = ExecutionTask(market, split, PAPER_CONFIG, 1)
    bound = PublicBound(task, market_context=market_context, wait=wait)
    results = {name: evaluate(agent, market, split, config=PAPER_CONFIG) for name, agent in
               (("TWAP", "TWAP"), ("PublicBound", bound), ("Oracle", "Oracle"))}  # fmt: skip
    pa = {name: result.orders["price_advantage"].to_numpy() for name, result in results.items()}
    dates = results["TWAP"].orders["date"].to_numpy()
    difference, low, high = paired_bootstrap_ci(pa["PublicBound"], pa["TWAP"], groups=dates)
    return Row(regime, split, repr(bound), len(dates), len(np.unique(dates)), float(pa["TWAP"].mean()),
               float(pa["PublicBound"].mean()), float(pa["Oracle"].mean()), difference, low, high)  # fmt: skip


def calibration(n_symbols: int = 30, n_days: int = 200, seed: int = 0, signals: tuple[float, ...] = ()) -> list[Row]:
    """Every row of the table: each regime of :data:`CALIBRATED` (and the fade at each of ``signals``) on each split,
    and on the afternoon reversal the PublicBound without the market context and the one that waits for midday as
    well."""
    rows = []
    extra = {f"fade, signal {signal:g}": {"signal": signal} for signal in signals}
    for regime, options in {**CALIBRATED, **extra}.items():
        market = MarketDataset.synthetic(n_symbols=n_symbols, n_days=n_days, seed=seed, **options)
        for split in SPLITS:
            rows.append(calibrate(market, split, regime))
            if options.get("market_volatility", 0) > 0 and options.get("reversal", 0) > 0:
                rows.append(calibrate(market, split, regime, market_context=False))
            if options.get("reversal", 0) > 0 and options.get("signal", 0) == 0:
                rows.append(calibrate(market, split, regime, wait=True))
    return rows


def table(rows: list[Row]) -> str:
    """The rows as a markdown table."""
    lines = [
        "| regime | split | PublicBound rule | TWAP | PublicBound | Oracle | PublicBound / Oracle "
        "| PublicBound − TWAP [95% CI, days] |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.regime} | {row.split} ({row.n_days} days) | {row.agent} | {row.twap:+.1f} | {row.public:+.1f} | "
            f"{row.oracle:+.1f} | {100 * row.share:.1f}% | {row.difference:+.1f} [{row.low:+.1f}, {row.high:+.1f}] |"
        )
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-symbols", type=int, default=30)
    parser.add_argument("--n-days", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a 10-instrument x 60-day market (a smoke run)")
    parser.add_argument("--signals", type=float, nargs="*", default=[], help="fade levels to add to the table")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    size: dict[str, Any] = dict(n_symbols=args.n_symbols, n_days=args.n_days)
    if args.quick:
        size = dict(n_symbols=10, n_days=60)
    started = time.perf_counter()
    rows = calibration(seed=args.seed, signals=tuple(args.signals), **size)
    print(f"Synthetic market: {size['n_symbols']} instruments x {size['n_days']} days, seed {args.seed}; "
          "PAPER_CONFIG (sell orders, whole session, 30-minute steps); mean price advantage in bps\n")  # fmt: skip
    print(table(rows))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
