"""The ``order-exec`` command line.

::

    order-exec data check PATH [--preset NAME]     validate bar files, print what was loaded, repaired, dropped
    order-exec data summary [--data DATA]          episodes and splits of a market
    order-exec baselines [--data DATA] [...]       evaluate TWAP, VWAP, AC, Random and Oracle on a split

Every subcommand is one ``add_<name>(subparsers)`` function that builds its parser and sets ``handler`` to the
function that runs it; :data:`COMMANDS` registers them in one place (add ``train`` or ``evaluate`` there).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from order_exec_gym.errors import DataError

AGENTS = ("TWAP", "VWAP", "AC", "Random", "Oracle")
SYNTHETIC = "synthetic"


def resolve_data(data: str | None):
    """The ``--data`` value as ``load_dataset`` takes it: None for the synthetic market, else a preset name or a
    saved dataset directory."""
    return None if data in (None, SYNTHETIC) else data


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """``--data``: shared by every command that runs on a market."""
    from order_exec_gym.data.loaders import PRESETS

    parser.add_argument(
        "--data",
        default=SYNTHETIC,
        help=f"'{SYNTHETIC}' (default: the embedded market), a preset ({', '.join(PRESETS)}) or a directory "
        "written by MarketDataset.save",
    )


def add_env_arguments(parser: argparse.ArgumentParser) -> None:
    """The OrderExec-v0 settings of an evaluation, as options."""
    parser.add_argument("--split", default="test", help="split to trade: train, valid, test or all (default: test)")
    parser.add_argument("--step-minutes", type=int, default=30, help="minutes per decision step (default: 30)")
    parser.add_argument("--side", default="sell", choices=("sell", "buy", "random"), help="order side (default: sell)")
    parser.add_argument("--alpha", type=float, default=0.01, help="temporary-impact penalty alpha (default: 0.01)")
    parser.add_argument(
        "--action-type", default="discrete", choices=("discrete", "continuous"), help="action encoding (default: discrete)"
    )
    parser.add_argument("--benchmark", default="mean", choices=("mean", "vwap"), help="benchmark price (default: mean)")
    parser.add_argument("--window-minutes", type=int, default=None, help="order window; default the whole session")
    parser.add_argument(
        "--n-orders", type=int, default=None, help="orders drawn with --seed (default: every episode of the split once)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the orders and of the bootstrap (default: 0)")


def env_kwargs(args: argparse.Namespace) -> dict:
    """OrderExec-v0 keyword arguments from :func:`add_env_arguments`' options."""
    return {
        "side": args.side,
        "step_minutes": args.step_minutes,
        "alpha": args.alpha,
        "action_type": args.action_type,
        "benchmark": args.benchmark,
        "window_minutes": args.window_minutes,
    }


def print_table(frame, file=None) -> None:
    """Print a polars frame in full, six decimals."""
    import polars as pl

    with pl.Config(
        tbl_rows=-1, tbl_cols=-1, float_precision=6, tbl_width_chars=200,
        tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True,
    ):  # fmt: skip
        print(frame, file=file or sys.stdout)


# ------------------------------------------------------------------------------------------------------- data


def add_data(subparsers: argparse._SubParsersAction) -> None:
    """``order-exec data check`` and ``order-exec data summary``."""
    parser = subparsers.add_parser("data", help="check bar files, summarise a market", description="Market data tools.")
    commands = parser.add_subparsers(title="data commands", metavar="{check,summary}")

    def usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=usage)

    from order_exec_gym.data.loaders import PRESETS

    check = commands.add_parser(
        "check",
        help="load and validate bar files; print the report or the first rule broken",
        description="Load bar files through a preset's loader (or the generic CSV/Parquet reader without --preset), "
        "validate them, and print what was loaded, repaired and dropped, then the episodes they make. "
        "Exit status 1 when the data breaks a rule.",
    )
    check.add_argument("path", nargs="+", help="the preset's folder, or CSV/Parquet file(s) for the generic reader")
    check.add_argument("--preset", choices=sorted(PRESETS), help="read PATH as this preset's folder")
    generic = check.add_argument_group("generic reader (without --preset)")
    generic.add_argument("--bar-minutes", type=int, default=1, help="bar length in minutes (default: 1)")
    generic.add_argument(
        "--column", action="append", default=[], metavar="NAME=COLUMN",
        help="map a canonical column (symbol, timestamp, open, high, low, close, volume) to the file's name; repeatable",
    )  # fmt: skip
    generic.add_argument("--amount", help="column of traded amounts: price = amount / volume (default: close)")
    generic.add_argument("--symbol", help="the instrument of every row, for single-instrument files")
    generic.add_argument("--volume-multiplier", type=float, default=1.0, help="to shares, e.g. 100 for lots")
    generic.add_argument("--separator", default=",", help="CSV field separator (default: ',')")
    check.set_defaults(handler=run_data_check)

    summary = commands.add_parser(
        "summary",
        help="episodes, splits and repairs of a market",
        description="Print the MarketDataset summary of a market: episodes, instruments, dates, splits, bars per "
        "episode, and what was dropped or filled.",
    )
    add_data_argument(summary)
    summary.set_defaults(handler=run_data_summary)


def run_data_check(args: argparse.Namespace) -> int:
    """Load and validate bar files; print the loading report and the episodes, or the first rule broken."""
    from order_exec_gym.data.dataset import MarketDataset
    from order_exec_gym.data.loaders import PRESETS, load_preset, read_bars

    try:
        if args.preset is not None:
            if len(args.path) != 1:
                raise ValueError(f"--preset reads one folder, got {len(args.path)} paths")
            table = load_preset(args.preset, args.path[0])
            splits = PRESETS[args.preset].splits
        else:
            columns = dict(_mapping(item) for item in args.column)
            table = read_bars(
                args.path, columns=columns or None, bar_minutes=args.bar_minutes, amount=args.amount, symbol=args.symbol,
                volume_multiplier=args.volume_multiplier, separator=args.separator,
            )  # fmt: skip
            splits = None
        dataset = MarketDataset.from_bars(table, splits=splits)
    except (DataError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    frame = table.frame
    print(f"OK: {table.source}")
    first, last = frame["timestamp"].min(), frame["timestamp"].max()
    print(f"  {frame.height} bars of {table.bar_minutes} min, {table.n_symbols} instruments, {first} .. {last}")
    print(dataset.summary())
    return 0


def _mapping(item: str) -> tuple[str, str]:
    name, sep, column = item.partition("=")
    if not sep or not name or not column:
        raise ValueError(f"--column expects NAME=COLUMN, got {item!r}")
    return name, column


def run_data_summary(args: argparse.Namespace) -> int:
    """Print a market's :meth:`MarketDataset.summary`."""
    from order_exec_gym.data.dataset import load_dataset

    try:
        dataset = load_dataset(resolve_data(args.data))
    except (DataError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(dataset.summary())
    return 0


# -------------------------------------------------------------------------------------------------- baselines


def add_baselines(subparsers: argparse._SubParsersAction) -> None:
    """``order-exec baselines``."""
    parser = subparsers.add_parser(
        "baselines",
        help="compare TWAP, VWAP, Almgren-Chriss, Random and the Oracle on a split",
        description="Evaluate the baselines on the same orders of a split and print mean reward, mean PA (bps), "
        "PA std, gain-loss ratio and the paired bootstrap 95%% interval of each one's mean PA difference to the "
        "reference. VWAP's profile and AC's volatility come from the market's training split.",
    )
    add_data_argument(parser)
    add_env_arguments(parser)
    parser.add_argument("--agents", default=",".join(AGENTS), help="comma-separated baselines (default: %(default)s)")
    parser.add_argument("--reference", default="TWAP", help="agent the PA differences are taken against (default: TWAP)")
    parser.add_argument("--out", type=Path, help="write comparison.csv, orders.parquet/.csv and PNG plots here")
    parser.add_argument("--plot-order", type=int, default=0, help="order drawn in schedule.png (default: 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_baselines)


def run_baselines(args: argparse.Namespace) -> int:
    """Evaluate the baselines on the same orders, print the comparison table, optionally write the outputs."""
    from order_exec_gym.baselines import BASELINES
    from order_exec_gym.data.dataset import load_dataset
    from order_exec_gym.evaluation import comparison_table, evaluate_agents

    names = [name.strip() for name in args.agents.split(",") if name.strip()]
    unknown = [name for name in [*names, args.reference] if name not in BASELINES]
    if unknown:
        print(f"error: unknown baselines {unknown}; choose from {list(BASELINES)}", file=sys.stderr)
        return 2
    if args.reference not in names:
        names.insert(0, args.reference)
    started = time.perf_counter()
    try:
        market = load_dataset(resolve_data(args.data))
        loaded = time.perf_counter()
        results = evaluate_agents(
            {name: name for name in names}, market, args.split, args.n_orders, args.seed, env_kwargs(args),
            progress=not args.no_progress,
        )  # fmt: skip
        table = comparison_table(results, args.reference, seed=args.seed)
    except (DataError, FileNotFoundError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    done = time.perf_counter()
    print(
        f"{market.source} split={args.split} orders={table['n_orders'][0]} side={args.side} "
        f"step_minutes={args.step_minutes} action_type={args.action_type} alpha={args.alpha} benchmark={args.benchmark}"
    )
    print_table(table)
    print(f"data {loaded - started:.1f} s, evaluation {done - loaded:.1f} s")
    if args.out is not None:
        write_outputs(args.out, results, table, args.plot_order)
        print(f"wrote {args.out}")
    return 0


def write_outputs(out: Path, results: dict, table, plot_order: int = 0) -> None:
    """The comparison table (CSV), every agent's per-order rows (Parquet and CSV, with an ``agent`` column) and the
    schedule and PA-distribution plots (PNG) in ``out``."""
    import polars as pl

    from order_exec_gym.plots import plot_pa_distribution, plot_schedule

    out.mkdir(parents=True, exist_ok=True)
    table.write_csv(out / "comparison.csv")
    orders = pl.concat([result.orders.insert_column(0, pl.lit(name).alias("agent")) for name, result in results.items()])
    orders.write_parquet(out / "orders.parquet")
    orders.write_csv(out / "orders.csv")
    plot_schedule(results, plot_order, out / "schedule.png")
    plot_pa_distribution(results, out / "pa_distribution.png")


# ------------------------------------------------------------------------------------------------------- main

#: One entry per subcommand: ``add(subparsers)`` builds its parser and sets ``handler(args) -> exit status``.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_data, add_baselines]


def build_parser() -> argparse.ArgumentParser:
    """The ``order-exec`` parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="order-exec",
        description="Optimal order execution: market data, baselines and agents on the OrderExec-v0 environment.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``order-exec`` with ``argv`` (default: the process arguments); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
