"""The ``order-exec`` command line.

::

    order-exec data check PATH [--preset NAME]     validate bar files, print what was loaded, repaired, dropped
    order-exec data summary [--data DATA]          episodes and splits of a market
    order-exec baselines [--data DATA] [...]       evaluate the baselines (TWAP, VWAP, AlmgrenChriss, Random, Oracle,
                                                   PublicBound on a synthetic market) on a split

Every command that runs on a market takes ``--data`` and ``--signal`` (the synthetic market's opening-gap fade), and
those that build envs take the env settings and ``--paper`` (:data:`~order_exec_gym.config.PAPER_CONFIG`, which the
settings given with it override).

Every subcommand is one ``add_<name>(subparsers)`` function that builds its parser and sets ``handler`` to the
function that runs it; :data:`COMMANDS` lists this package's. Other packages add commands through the
:data:`COMMAND_GROUP` entry-point group, each entry point an ``add(subparsers)`` function (``sb3_distill`` adds
``train`` and ``evaluate MODEL``), so this package never imports them.

Handlers return an exit status; bad input raises, and :func:`main` prints it as one ``error: ...`` line: a
:class:`UsageError` exits with status 2, a :data:`INPUT_ERRORS` error (bad data, missing file, wrong setting) with 1.
The options of the env's settings are made from the fields of :class:`~order_exec_gym.config.ExecutionConfig`
(:func:`add_config_arguments`), so their defaults, help and checks have one owner.

Comparison tables print whole (:func:`~order_exec_gym.evaluation.format_table`), rewards in bps as
``mean_reward_bps`` (the name and unit of the ``comparison.csv`` the commands write too), with a legend of the
columns and of the agents that know more than a trader could.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from order_exec_gym.config import PAPER_CONFIG, ExecutionConfig
from order_exec_gym.data.resolve import SYNTHETIC
from order_exec_gym.errors import DataError

if TYPE_CHECKING:
    from order_exec_gym.data.dataset import MarketDataset

#: The entry-point group through which other packages add ``order-exec`` commands.
COMMAND_GROUP = "order_exec_gym.commands"
#: Errors of the user's input that :func:`main` reports in one line (exit status 1).
INPUT_ERRORS = (DataError, FileNotFoundError, KeyError, ValueError)
#: The namespace attribute holding the env settings given on the command line (which ``--paper`` does not override).
GIVEN = "given_settings"
#: Lines printed under a comparison table for the baselines that know more than a trader could.
AGENT_NOTES = {
    "Oracle": "Oracle: perfect information (it sees the future): the best schedule there was, an upper bound, "
    "not a strategy",
    "PublicBound": "PublicBound: knows the synthetic market's model (the opening-gap fade, the afternoon reversal), "
    "a strong public rule it implies",
}


class UsageError(Exception):
    """A command line that asks for something that does not exist (exit status 2)."""


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """``--data`` and ``--signal``: shared by every command that runs on a market (see :func:`market_data`)."""
    from order_exec_gym.data.presets import PRESETS

    parser.add_argument(
        "--data",
        default=SYNTHETIC,
        help=f"the market: '{SYNTHETIC}' (the embedded synthetic market), a preset ({', '.join(PRESETS)}) or a "
        f"directory written by MarketDataset.save (default: {SYNTHETIC})",
    )
    parser.add_argument(
        "--signal", type=float, default=None, metavar="S",
        help=f"the synthetic market's opening-gap fade: each session reverses S times its overnight gap, a public "
        f"signal a learner can use (OrderExec-v1 and examples/train_opd.py use 2); with --data {SYNTHETIC} only "
        "(default: 0, no signal)",
    )  # fmt: skip


def market_data(args: argparse.Namespace) -> MarketDataset | str:
    """The market of ``--data`` and ``--signal``: ``--data`` as given, or the synthetic market with that signal
    (:meth:`MarketDataset.synthetic`); a signal for any other market raises :class:`UsageError`."""
    signal = getattr(args, "signal", None)
    if signal is None:
        return args.data
    if args.data != SYNTHETIC:
        raise UsageError(f"--signal sets the synthetic market's signal; it does not apply to --data {args.data}")
    from order_exec_gym.data.dataset import MarketDataset

    return MarketDataset.synthetic(signal=signal)


def _levels(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(level) for level in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, e.g. 0,0.5,1,1.5,2, got {text!r}") from None


def _optional_int(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or None, got {text!r}") from None


def shown(value: Any) -> str:
    """A setting's value as it is written on the command line: levels as ``0,0.5,1``, booleans as on or off."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(f"{level:g}" for level in value)
    return str(value)


def as_options(settings: dict[str, Any]) -> str:
    """``settings`` as the options that set them, e.g. ``--levels 0,0.5,1 --market-features``."""
    options = []
    for name, value in settings.items():
        option = name.replace("_", "-")
        if isinstance(value, bool):
            options.append(f"--{option}" if value else f"--no-{option}")
        else:
            options.append(f"--{option} {shown(value)}")
    return " ".join(options)


class _Setting(argparse.Action):
    """Store an env setting and record that it was given (:data:`GIVEN`), so that ``--paper`` does not override it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None):
        setattr(namespace, self.dest, values)
        setattr(namespace, GIVEN, {*getattr(namespace, GIVEN, ()), self.dest})


class _BooleanSetting(argparse.BooleanOptionalAction):
    """``--NAME`` / ``--no-NAME`` for a boolean env setting, recorded as given like :class:`_Setting`."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None):
        super().__call__(parser, namespace, values, option)
        setattr(namespace, GIVEN, {*getattr(namespace, GIVEN, ()), self.dest})


def add_config_arguments(parser: argparse.ArgumentParser, exclude: Sequence[str] = ()) -> None:
    """One option per field of :class:`ExecutionConfig` (``--step-minutes``, ``--alpha``, ...), with the field's
    default, help and choices, and ``--paper``; ``exclude`` names fields the command sets itself."""
    group = parser.add_argument_group("env settings (OrderExec-v0)")
    defaults = ExecutionConfig()
    paper = as_options({name: value for name, value in PAPER_CONFIG.items() if value != defaults[name]})
    group.add_argument(
        "--paper", action="store_true",
        help=f"start from the paper's settings, order_exec_gym.PAPER_CONFIG ({paper}; the others as their defaults, "
        "e.g. 30-minute steps); the settings given with it override them",
    )  # fmt: skip
    for f in dataclasses.fields(ExecutionConfig):
        if f.name in exclude:
            continue
        option = "--" + f.name.replace("_", "-")
        help = f"{f.metadata['help']} (default: {shown(f.default)})".replace("%", "%%")
        if f.type == "bool":
            action = group.add_argument(option, action=_BooleanSetting, default=f.default)
            action.help = help  # set after: Python 3.10's BooleanOptionalAction appends its own default to the help
            continue
        kinds = {"int": int, "int | None": _optional_int, "float": float, "str": str, "tuple[float, ...]": _levels}
        kind = kinds[f.type]
        metavar = "L0,L1,..." if kind is _levels else ("MINUTES" if f.metadata.get("unit") == "minutes" else None)
        if metavar is None and f.metadata.get("choices") is None:
            metavar = f.name.split("_")[-1].upper()  # ALPHA, SCALE
        group.add_argument(
            option, action=_Setting, type=kind, default=f.default, choices=f.metadata.get("choices"), metavar=metavar,
            help=help,
        )  # fmt: skip


def config_from_args(args: argparse.Namespace, **fixed: Any) -> ExecutionConfig:
    """The :class:`ExecutionConfig` of :func:`add_config_arguments`' options (and ``fixed`` settings), checked: with
    ``--paper``, :data:`~order_exec_gym.config.PAPER_CONFIG` with the settings given on the command line."""
    names = [f.name for f in dataclasses.fields(ExecutionConfig) if hasattr(args, f.name)]
    if getattr(args, "paper", False):
        given = getattr(args, GIVEN, set())
        return PAPER_CONFIG.replace(**{name: getattr(args, name) for name in names if name in given}, **fixed)
    return ExecutionConfig(**{name: getattr(args, name) for name in names}, **fixed)


def add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    """The orders of an evaluation and its outputs, as options (with ``--data`` and the env settings)."""
    add_data_argument(parser)
    parser.add_argument("--split", default="test", help="split to trade: train, valid, test or all (default: test)")
    parser.add_argument(
        "--n-orders", type=int, default=None, metavar="N",
        help="orders drawn with --seed (default: every episode of the split once)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the orders and of the bootstrap (default: 0)")
    add_config_arguments(parser, exclude=("privileged", "reward_scale"))  # set by the agent / not in the metrics
    parser.add_argument(
        "--out", type=Path, metavar="DIR",
        help="write comparison.csv, orders.parquet and orders.csv (every order of every agent), schedule.png and "
        "pa_distribution.png here",
    )  # fmt: skip
    parser.add_argument(
        "--plot-order", type=int, default=0, metavar="INDEX",
        help="the order drawn in schedule.png, by its index among the evaluated orders (default: 0, the first)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (default: one, on stderr)")


def baseline_names(text: str) -> list[str]:
    """The baselines of a comma-separated list; unknown names raise :class:`UsageError`."""
    from order_exec_gym.baselines import BASELINES

    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in BASELINES]
    if unknown:
        raise UsageError(f"unknown baselines {unknown}; choose from {list(BASELINES)}")
    return names


def run_evaluation(
    args: argparse.Namespace, agents: dict[str, Any], reference: str, notes: dict[str, str] | None = None
) -> int:
    """Evaluate ``agents`` on the same orders (:func:`add_evaluation_arguments`' options), print the comparison
    table with the settings, a legend (its columns; :data:`AGENT_NOTES` and ``notes``, ``{agent: line}``, for the
    agents there) and the timings, and write the outputs when ``--out`` is set."""
    from order_exec_gym.data.resolve import load_dataset
    from order_exec_gym.evaluation import comparison_table, evaluate_agents, reward_in_bps

    config = config_from_args(args)
    started = time.perf_counter()
    market = load_dataset(market_data(args))
    loaded = time.perf_counter()
    results = evaluate_agents(agents, market, args.split, args.n_orders, args.seed, config, progress=not args.no_progress)
    table = reward_in_bps(comparison_table(results, reference, seed=args.seed))
    finished = time.perf_counter()
    settings = " ".join(f"{name}={value}" for name, value in config.items() if name not in ("privileged", "reward_scale"))
    print(f"{market.source} split={args.split} orders={table['n_orders'][0]} {settings}")
    notes = {**AGENT_NOTES, **(notes or {})}
    print_table(table, reference, [line for name, line in notes.items() if name in results])
    print(f"data {loaded - started:.1f} s, evaluation {finished - loaded:.1f} s")
    if args.out is not None:
        write_outputs(args.out, results, table, args.plot_order, market.source, args.split)
        print(f"wrote {args.out}")
    return 0


def print_table(table, reference: str | None = None, notes: Sequence[str] = (), file=None) -> None:
    """Print a comparison table whole (two decimals) with its legend, ``pa_diff`` against ``reference``, and
    ``notes`` (a line each)."""
    from order_exec_gym.evaluation import format_table

    notes = [textwrap.fill(note, 118, subsequent_indent="  ") for note in notes]
    print("\n".join([format_table(table, reference=reference), *notes]), file=file or sys.stdout)


def write_outputs(
    out: Path, results: dict, table, plot_order: int = 0, market: str | None = None, split: str | None = None
) -> None:
    """The comparison table (CSV, as printed), every agent's per-order rows (Parquet and CSV, with an ``agent``
    column) and the schedule and PA-distribution plots (PNG) in ``out``; ``market`` and ``split`` are named in the
    PA distribution's title."""
    import polars as pl

    from order_exec_gym.plots import plot_pa_distribution, plot_schedule

    out.mkdir(parents=True, exist_ok=True)
    table.write_csv(out / "comparison.csv")
    orders = pl.concat([result.orders.insert_column(0, pl.lit(name).alias("agent")) for name, result in results.items()])
    orders.write_parquet(out / "orders.parquet")
    orders.write_csv(out / "orders.csv")
    plot_schedule(results, plot_order, out / "schedule.png", chosen="chosen with --plot-order")
    plot_pa_distribution(results, out / "pa_distribution.png", market=market, split=split)


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
    check.add_argument(
        "path", nargs="+", metavar="PATH", help="the preset's folder, or CSV/Parquet file(s) for the generic reader"
    )
    check.add_argument(
        "--preset", choices=sorted(PRESETS), metavar="NAME",
        help=f"read PATH as this preset's folder: {', '.join(sorted(PRESETS))}",
    )  # fmt: skip
    generic = check.add_argument_group("generic reader (without --preset)")
    generic.add_argument(
        "--bar-minutes", type=int, default=1, metavar="MINUTES", help="bar length in minutes (default: 1)"
    )
    generic.add_argument(
        "--column", action="append", default=[], metavar="NAME=COLUMN",
        help="the file's COLUMN holding a canonical column NAME (symbol, timestamp, open, high, low, close, volume); "
        "repeatable",
    )  # fmt: skip
    generic.add_argument(
        "--amount", metavar="COLUMN",
        help="column of traded amounts: the bar's price is amount / volume (default: none, the close)",
    )  # fmt: skip
    generic.add_argument("--symbol", help="the instrument of every row, for single-instrument files")
    generic.add_argument(
        "--volume-multiplier", type=float, default=1.0, metavar="FACTOR",
        help="turns the volume column into shares, e.g. 100 for lots of 100 (default: 1)",
    )  # fmt: skip
    generic.add_argument("--separator", default=",", metavar="CHAR", help="CSV field separator (default: ',')")
    generic.add_argument(
        "--timestamp-format", metavar="FORMAT", help="strftime format of text timestamps (default: ISO 8601)"
    )
    generic.add_argument(
        "--time-zone", metavar="ZONE",
        help="the exchange's time zone, for timestamps with a zone or UTC offset (e.g. Asia/Shanghai)",
    )  # fmt: skip
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

    print(load_dataset(market_data(args)).summary())
    return 0


# -------------------------------------------------------------------------------------------------- baselines


def add_baselines(subparsers: argparse._SubParsersAction) -> None:
    """``order-exec baselines``."""
    from order_exec_gym.baselines import BASELINES

    parser = subparsers.add_parser(
        "baselines",
        help=f"compare the baselines ({', '.join(BASELINES)}) on a split",
        description="Evaluate the baselines on the same orders of a split and print, for each, the mean reward and "
        "mean price advantage (PA) in bps, the PA's standard deviation, the gain-loss ratio, and its mean PA "
        "difference to the reference with a paired bootstrap 95% interval; a legend under the table says what "
        "each column means. VWAP's profile and AlmgrenChriss's volatility come from the market's training split.",
    )
    add_evaluation_arguments(parser)
    parser.add_argument(
        "--agents", default=None, metavar="NAMES",
        help=f"comma-separated baselines, of {', '.join(BASELINES)} (default: every one that applies to the market)",
    )  # fmt: skip
    parser.add_argument(
        "--reference", default="TWAP", metavar="NAME",
        help="the baseline the PA differences are taken against (default: TWAP)",
    )  # fmt: skip
    parser.set_defaults(handler=run_baselines)


def run_baselines(args: argparse.Namespace) -> int:
    """Evaluate the baselines on the same orders, print the comparison table, optionally write the outputs."""
    from order_exec_gym.baselines import BASELINES
    from order_exec_gym.data.resolve import load_dataset

    if args.agents is None:
        market = load_dataset(market_data(args))
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
