"""The ``order-exec`` command line.

::

    order-exec data check PATH [--preset NAME]     validate bar files, print what was loaded, repaired, dropped
    order-exec data summary [--data DATA]          episodes and splits of a market
    order-exec baselines [--data DATA] [...]       evaluate TWAP, VWAP, AC, Random and Oracle on a split
    order-exec train {teacher,student,ppo} [...]   train a model with sb3_distill.training and save it
    order-exec evaluate MODEL_PATH [...]           compare a saved model with the baselines on a split

Every subcommand is one ``add_<name>(subparsers)`` function that builds its parser and sets ``handler`` to the
function that runs it; :data:`COMMANDS` registers them in one place.
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
    from order_exec_gym.data.presets import PRESETS

    parser.add_argument(
        "--data",
        default=SYNTHETIC,
        help=f"'{SYNTHETIC}' (default: the embedded market), a preset ({', '.join(PRESETS)}) or a directory "
        "written by MarketDataset.save",
    )


def add_order_arguments(parser: argparse.ArgumentParser) -> None:
    """The OrderExec-v0 settings of the orders (shared by training and evaluation), as options."""
    parser.add_argument("--step-minutes", type=int, default=30, help="minutes per decision step (default: 30)")
    parser.add_argument("--side", default="sell", choices=("sell", "buy", "random"), help="order side (default: sell)")
    parser.add_argument("--alpha", type=float, default=0.01, help="temporary-impact penalty alpha (default: 0.01)")
    parser.add_argument(
        "--action-type", default="discrete", choices=("discrete", "continuous"), help="action encoding (default: discrete)"
    )
    parser.add_argument("--benchmark", default="mean", choices=("mean", "vwap"), help="benchmark price (default: mean)")
    parser.add_argument("--window-minutes", type=int, default=None, help="order window; default the whole session")


def add_env_arguments(parser: argparse.ArgumentParser) -> None:
    """The OrderExec-v0 settings of an evaluation, as options."""
    parser.add_argument("--split", default="test", help="split to trade: train, valid, test or all (default: test)")
    add_order_arguments(parser)
    parser.add_argument(
        "--n-orders", type=int, default=None, help="orders drawn with --seed (default: every episode of the split once)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the orders and of the bootstrap (default: 0)")


def env_kwargs(args: argparse.Namespace) -> dict:
    """OrderExec-v0 keyword arguments from :func:`add_order_arguments`' options."""
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
    report(args, market, results, table, loaded - started, time.perf_counter() - loaded)
    return 0


def report(args: argparse.Namespace, market, results: dict, table, data_seconds: float, eval_seconds: float) -> None:
    """Print an evaluation's settings, its comparison table and timings; write the outputs when ``--out`` is set."""
    print(
        f"{market.source} split={args.split} orders={table['n_orders'][0]} side={args.side} "
        f"step_minutes={args.step_minutes} action_type={args.action_type} alpha={args.alpha} benchmark={args.benchmark}"
    )
    print_table(table)
    print(f"data {data_seconds:.1f} s, evaluation {eval_seconds:.1f} s")
    if args.out is not None:
        write_outputs(args.out, results, table, args.plot_order)
        print(f"wrote {args.out}")


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


# ------------------------------------------------------------------------------------------------------ train

#: What ``order-exec train`` trains: ``kind -> sb3_distill.training`` function.
TRAINERS = {"teacher": "train_teacher", "student": "train_student", "ppo": "train_ppo", "dqn": "train_dqn"}


def add_train(subparsers: argparse._SubParsersAction) -> None:
    """``order-exec train {teacher,student,ppo,dqn}``."""
    parser = subparsers.add_parser(
        "train",
        help="train the PPO teacher, the distilled student, the recurrent PPO or the DQN baseline, and save it",
        description="Train a model with sb3_distill.training on OrderExec-v0 orders of a split and save it with SB3's "
        "model.save. teacher: PPO with the TeacherPolicy on the privileged observation; student: DistillRecurrentPPO "
        "(LSTM) distilled from --teacher; ppo: RecurrentPPO with the student's network and no teacher; dqn: DQN.",
    )
    parser.add_argument("kind", choices=tuple(TRAINERS), help="what to train: %(choices)s")
    add_data_argument(parser)
    parser.add_argument("--split", default="train", help="split whose orders are trained on (default: train)")
    parser.add_argument("--steps", type=int, default=100_000, help="env steps (decisions) to train for (default: 100000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the model and the env (default: 0)")
    parser.add_argument("--n-envs", type=int, default=16, help="orders stepped in parallel (default: 16)")
    add_order_arguments(parser)
    student = parser.add_argument_group("student only")
    student.add_argument("--mu", type=float, default=None, help="distillation coefficient mu (default: 0.01)")
    student.add_argument(
        "--teacher", default=None, metavar="PATH_OR_oracle",
        help="a teacher saved by 'order-exec train teacher' (loaded with PPO.load), or 'oracle' for the "
        "perfect-information OracleTeacher (default: oracle)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="where to save the model (default: models/KIND.zip)")
    parser.add_argument("--tensorboard", metavar="DIR", help="write tensorboard logs here (needs tensorboard)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Train one model, save it, print where and how long it took."""
    import importlib.util

    import torch

    from sb3_distill import training

    if args.kind != "student" and (args.teacher is not None or args.mu is not None):
        print("error: --teacher and --mu apply to 'train student' only", file=sys.stderr)
        return 2
    if args.tensorboard is not None and importlib.util.find_spec("tensorboard") is None:
        print("error: --tensorboard needs the tensorboard package (pip install tensorboard)", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    kwargs = {"data": resolve_data(args.data), "split": args.split, **env_kwargs(args)}
    common = dict(
        env_kwargs=kwargs, total_timesteps=args.steps, seed=args.seed, n_envs=args.n_envs,
        progress_bar=not args.no_progress, tensorboard_log=args.tensorboard,
    )  # fmt: skip
    out = args.out if args.out is not None else Path("models") / f"{args.kind}.zip"
    if not out.suffix:
        out = out.with_name(out.name + ".zip")  # where SB3's save writes a path without suffix
    started = time.perf_counter()
    try:
        if args.kind == "student":
            teacher = args.teacher or "oracle"
            if teacher != "oracle":
                from stable_baselines3 import PPO

                teacher = PPO.load(teacher)
            mu = 0.01 if args.mu is None else args.mu
            model = training.train_student(teacher, distill_coef=mu, **common)
        else:
            model = getattr(training, TRAINERS[args.kind])(**common)
    except (DataError, FileNotFoundError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    print(f"saved {type(model).__name__} ({args.kind}, {model.num_timesteps} steps) to {out}")
    print(f"training {seconds:.1f} s")
    return 0


# --------------------------------------------------------------------------------------------------- evaluate

#: Algorithms ``order-exec evaluate`` loads: ``--algo`` name -> (module, class).
ALGORITHMS = {
    "ppo": ("stable_baselines3", "PPO"),
    "recurrent_ppo": ("sb3_contrib", "RecurrentPPO"),
    "distill": ("sb3_distill", "DistillRecurrentPPO"),
    "dqn": ("stable_baselines3", "DQN"),
}
EVAL_BASELINES = ("TWAP", "VWAP", "AC", "Oracle")


def add_evaluate(subparsers: argparse._SubParsersAction) -> None:
    """``order-exec evaluate MODEL_PATH``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="compare a saved model with the baselines on a split",
        description="Load a model saved by SB3 (e.g. by 'order-exec train'), evaluate it deterministically and the "
        "baselines on the same orders of a split, and print the table of 'order-exec baselines'. Use the env "
        "settings (--step-minutes, --action-type, ...) the model was trained with.",
    )
    parser.add_argument("model", metavar="MODEL_PATH", type=Path, help="the model's .zip, as written by model.save")
    parser.add_argument(
        "--algo", default="auto", choices=("auto", *ALGORITHMS),
        help="the model's algorithm; auto reads the policy class saved in the zip (default: auto)",
    )  # fmt: skip
    parser.add_argument("--name", default="model", help="the model's row in the table (default: model)")
    add_data_argument(parser)
    add_env_arguments(parser)
    parser.add_argument(
        "--baselines", default=",".join(EVAL_BASELINES),
        help="comma-separated baselines to compare with; TWAP, the reference, is always added (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="write comparison.csv, orders.parquet/.csv and PNG plots here")
    parser.add_argument("--plot-order", type=int, default=0, help="order drawn in schedule.png (default: 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_evaluate)


def saved_algorithm(path: Path) -> str:
    """The :data:`ALGORITHMS` name of the model saved at ``path``, from the policy class recorded in the zip's
    ``data`` entry (a recurrent policy with a ``distill_coef`` is DistillRecurrentPPO's)."""
    import base64
    import json
    import zipfile

    import cloudpickle
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.dqn.policies import DQNPolicy

    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
        policy = cloudpickle.loads(base64.b64decode(data["policy_class"][":serialized:"]))
    except (zipfile.BadZipFile, KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a model saved by SB3 ({type(error).__name__}: {error})") from None
    if issubclass(policy, RecurrentActorCriticPolicy):
        return "distill" if "distill_coef" in data else "recurrent_ppo"
    if issubclass(policy, DQNPolicy):
        return "dqn"
    if issubclass(policy, ActorCriticPolicy):
        return "ppo"
    raise ValueError(f"cannot tell the algorithm of {path} from its policy {policy.__name__}: pass --algo")


def load_model(path: Path, algo: str = "auto"):
    """Load a saved SB3 model with ``algo``'s class (:data:`ALGORITHMS`), or the class :func:`saved_algorithm`
    reads from the zip; returns ``(model, algo)``."""
    import importlib

    if not path.exists() and path.with_name(path.name + ".zip").exists():
        path = path.with_name(path.name + ".zip")
    if not path.is_file():
        raise FileNotFoundError(f"no model at {path}")
    if algo == "auto":
        algo = saved_algorithm(path)
    module, name = ALGORITHMS[algo]
    try:
        return getattr(importlib.import_module(module), name).load(path), algo
    except Exception as error:  # a wrong --algo fails anywhere in SB3's load, with any exception
        raise ValueError(f"cannot load {path} as {name} ({type(error).__name__}: {error}): check --algo") from error


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a saved model and the baselines on the same orders, print the table, optionally write outputs."""
    from gymnasium import spaces

    from order_exec_gym.baselines import BASELINES
    from order_exec_gym.data.dataset import load_dataset
    from order_exec_gym.evaluation import comparison_table, evaluate_agents

    names = [name.strip() for name in args.baselines.split(",") if name.strip()]
    unknown = [name for name in names if name not in BASELINES]
    if unknown:
        print(f"error: unknown baselines {unknown}; choose from {list(BASELINES)}", file=sys.stderr)
        return 2
    if args.name in BASELINES:
        print(f"error: --name {args.name!r} is a baseline's name", file=sys.stderr)
        return 2
    if "TWAP" not in names:
        names.insert(0, "TWAP")
    try:
        started = time.perf_counter()
        model, algo = load_model(args.model, args.algo)
        print(f"{args.model}: {type(model).__name__} (--algo {algo}), {model.num_timesteps} training steps, "
              f"loaded in {time.perf_counter() - started:.1f} s")  # fmt: skip
        discrete = isinstance(model.action_space, spaces.Discrete)
        if discrete != (args.action_type == "discrete"):
            raise ValueError(
                f"the model acts in {model.action_space}: evaluate it with --action-type "
                f"{'discrete' if discrete else 'continuous'} (the settings it was trained with)"
            )
        started = time.perf_counter()
        market = load_dataset(resolve_data(args.data))
        loaded = time.perf_counter()
        agents = {args.name: model, **{name: name for name in names}}
        results = evaluate_agents(
            agents, market, args.split, args.n_orders, args.seed, env_kwargs(args), progress=not args.no_progress
        )
        table = comparison_table(results, "TWAP", seed=args.seed)
    except (DataError, FileNotFoundError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    report(args, market, results, table, loaded - started, time.perf_counter() - loaded)
    return 0


# ------------------------------------------------------------------------------------------------------- main

#: One entry per subcommand: ``add(subparsers)`` builds its parser and sets ``handler(args) -> exit status``.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_data, add_baselines, add_train, add_evaluate]


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
