"""The ``order-exec`` command line.

::

    order-exec data check PATH [--preset NAME]     validate bar files, print what was loaded, repaired, dropped
    order-exec data summary [--data DATA]          episodes and splits of a market
    order-exec baselines [--data DATA] [...]       evaluate the baselines (TWAP, VWAP, AlmgrenChriss, Random, Oracle,
                                                   PublicBound on a synthetic market) on a split

Every subcommand is one ``add_<name>(subparsers)`` function that builds its parser and sets ``handler`` to the
function that runs it; :data:`COMMANDS` lists this package's. Other packages add commands through the
:data:`COMMAND_GROUP` entry-point group, each entry point an ``add(subparsers)`` function (``sb3_distill`` adds
``train`` and ``evaluate MODEL``), so this package never imports them.

Handlers return an exit status; bad input raises, and :func:`main` prints it as one ``error: ...`` line: a
:class:`UsageError` exits with status 2, a :data:`INPUT_ERRORS` error (bad data, missing file, wrong setting) with 1.
The options of the env's settings are made from the fields of :class:`~order_exec_gym.config.ExecutionConfig`
(:func:`add_config_arguments`), so their defaults, help and checks have one owner.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from order_exec_gym.config import ExecutionConfig
from order_exec_gym.data.resolve import SYNTHETIC
from order_exec_gym.errors import DataError

#: The entry-point group through which other packages add ``order-exec`` commands.
COMMAND_GROUP = "order_exec_gym.commands"
#: Errors of the user's input that :func:`main` reports in one line (exit status 1).
INPUT_ERRORS = (DataError, FileNotFoundError, KeyError, ValueError)


class UsageError(Exception):
    """A command line that asks for something that does not exist (exit status 2)."""


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """``--data``: shared by every command that runs on a market."""
    from order_exec_gym.data.presets import PRESETS

    parser.add_argument(
        "--data",
        default=SYNTHETIC,
        help=f"'{SYNTHETIC}' (default: the embedded market), a preset ({', '.join(PRESETS)}) or a directory "
        "written by MarketDataset.save",
    )


def _levels(text: str) -> tuple[float, ...]:
    return tuple(float(level) for level in text.split(","))


def add_config_arguments(parser: argparse.ArgumentParser, exclude: Sequence[str] = ()) -> None:
    """One option per field of :class:`ExecutionConfig` (``--step-minutes``, ``--alpha``, ...), with the field's
    default, help and choices; ``exclude`` names fields the command sets itself."""
    group = parser.add_argument_group("env settings (OrderExec-v0)")
    for f in dataclasses.fields(ExecutionConfig):
        if f.name in exclude:
            continue
        option = "--" + f.name.replace("_", "-")
        help = f"{f.metadata['help']} (default: {f.default})"
        if f.type == "bool":
            group.add_argument(option, action=argparse.BooleanOptionalAction, default=f.default, help=help)
            continue
        kind = {"int": int, "int | None": int, "float": float, "str": str, "tuple[float, ...]": _levels}[f.type]
        metavar = "L0,L1,..." if kind is _levels else ("MINUTES" if f.metadata.get("unit") == "minutes" else None)
        group.add_argument(
            option, type=kind, default=f.default, choices=f.metadata.get("choices"), metavar=metavar, help=help
        )


def config_from_args(args: argparse.Namespace, **fixed: Any) -> ExecutionConfig:
    """The :class:`ExecutionConfig` of :func:`add_config_arguments`' options (and ``fixed`` settings), checked."""
    names = [f.name for f in dataclasses.fields(ExecutionConfig) if hasattr(args, f.name)]
    return ExecutionConfig(**{name: getattr(args, name) for name in names}, **fixed)


def add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    """The orders of an evaluation and its outputs, as options (with ``--data`` and the env settings)."""
    add_data_argument(parser)
    parser.add_argument("--split", default="test", help="split to trade: train, valid, test or all (default: test)")
    parser.add_argument(
        "--n-orders", type=int, default=None, help="orders drawn with --seed (default: every episode of the split once)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the orders and of the bootstrap (default: 0)")
    add_config_arguments(parser, exclude=("privileged", "reward_scale"))  # set by the agent / not in the metrics
    parser.add_argument("--out", type=Path, help="write comparison.csv, orders.parquet/.csv and PNG plots here")
    parser.add_argument("--plot-order", type=int, default=0, help="order drawn in schedule.png (default: 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def baseline_names(text: str) -> list[str]:
    """The baselines of a comma-separated list; unknown names raise :class:`UsageError`."""
    from order_exec_gym.baselines import BASELINES

    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in BASELINES]
    if unknown:
        raise UsageError(f"unknown baselines {unknown}; choose from {list(BASELINES)}")
    return names


def run_evaluation(args: argparse.Namespace, agents: dict[str, Any], reference: str) -> int:
    """Evaluate ``agents`` on the same orders (:func:`add_evaluation_arguments`' options), print the comparison
    table with the settings and timings, and write the outputs when ``--out`` is set."""
    from order_exec_gym.data.resolve import load_dataset
    from order_exec_gym.evaluation import comparison_table, evaluate_agents

    config = config_from_args(args)
    started = time.perf_counter()
    market = load_dataset(args.data)
    loaded = time.perf_counter()
    results = evaluate_agents(agents, market, args.split, args.n_orders, args.seed, config, progress=not args.no_progress)
    table = comparison_table(results, reference, seed=args.seed)
    finished = time.perf_counter()
    settings = " ".join(f"{name}={value}" for name, value in config.items() if name not in ("privileged", "reward_scale"))
    print(f"{market.source} split={args.split} orders={table['n_orders'][0]} {settings}")
    print_table(table)
    print(f"data {loaded - started:.1f} s, evaluation {finished - loaded:.1f} s")
    if args.out is not None:
        write_outputs(args.out, results, table, args.plot_order)
        print(f"wrote {args.out}")
    return 0


def print_table(frame, file=None) -> None:
    """Print a polars frame in full, six decimals."""
    import polars as pl

    with pl.Config(
        tbl_rows=-1, tbl_cols=-1, float_precision=6, tbl_width_chars=200,
        tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True,
    ):  # fmt: skip
        print(frame, file=file or sys.stdout)


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


# ------------------------------------------------------------------------------------------------------- data


def add_data(subparsers: argparse._SubParsersAction) -> None:
    """``order-exec data check`` and ``order-exec data summary``."""
    parser = subparsers.add_parser("data", help="check bar files, summarise a market", description="Market data tools.")
    commands = parser.add_subparsers(title="data commands", metavar="{check,summary}")

    def usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=usage)

    from order_exec_gym.data.presets import PRESETS

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
    generic.add_argument("--timestamp-format", help="strftime format of text timestamps (default: ISO 8601)")
    generic.add_argument(
        "--time-zone", help="the exchange's time zone, for timestamps with a zone or UTC offset (e.g. Asia/Shanghai)"
    )
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
    from order_exec_gym.data.presets import PRESETS, load_preset
    from order_exec_gym.data.readers import read_bars

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
            timestamp_format=args.timestamp_format, time_zone=args.time_zone,
        )  # fmt: skip
        splits = None
    dataset = MarketDataset.from_bars(table, splits=splits)
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
    from order_exec_gym.data.resolve import load_dataset

    print(load_dataset(args.data).summary())
    return 0


# -------------------------------------------------------------------------------------------------- baselines


def add_baselines(subparsers: argparse._SubParsersAction) -> None:
    """``order-exec baselines``."""
    from order_exec_gym.baselines import BASELINES

    parser = subparsers.add_parser(
        "baselines",
        help=f"compare the baselines ({', '.join(BASELINES)}) on a split",
        description="Evaluate the baselines on the same orders of a split and print mean reward, mean PA (bps), "
        "PA std, gain-loss ratio and the paired bootstrap 95%% interval of each one's mean PA difference to the "
        "reference. VWAP's profile and AlmgrenChriss's volatility come from the market's training split.",
    )
    add_evaluation_arguments(parser)
    parser.add_argument(
        "--agents", default=None, help="comma-separated baselines (default: every one that applies to the market)"
    )
    parser.add_argument("--reference", default="TWAP", help="agent the PA differences are taken against (default: TWAP)")
    parser.set_defaults(handler=run_baselines)


def run_baselines(args: argparse.Namespace) -> int:
    """Evaluate the baselines on the same orders, print the comparison table, optionally write the outputs."""
    from order_exec_gym.baselines import BASELINES
    from order_exec_gym.data.resolve import load_dataset

    if args.agents is None:
        market = load_dataset(args.data)
        names = [name for name, baseline in BASELINES.items() if baseline.applies_to(market)]
    else:
        names = baseline_names(args.agents)
    baseline_names(args.reference)
    if args.reference not in names:
        names.insert(0, args.reference)
    return run_evaluation(args, {name: name for name in names}, args.reference)


# ------------------------------------------------------------------------------------------------------- main

#: This package's subcommands: ``add(subparsers)`` builds a parser and sets ``handler(args) -> exit status``.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_data, add_baselines]


def build_parser() -> argparse.ArgumentParser:
    """The ``order-exec`` parser with this package's subcommands and those of the :data:`COMMAND_GROUP` entry
    points; a plugin that cannot be loaded is named on stderr, and the other commands still work."""
    parser = argparse.ArgumentParser(
        prog="order-exec",
        description="Optimal order execution: market data, baselines and agents on the OrderExec-v0 environment.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    for plugin in entry_points(group=COMMAND_GROUP):
        try:
            add = plugin.load()
        except ImportError as error:
            print(f"warning: order-exec command {plugin.name!r} ({plugin.value}) is unavailable: {error}", file=sys.stderr)
            continue
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
    try:
        return int(handler(args) or 0)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except INPUT_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
