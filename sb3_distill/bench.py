"""``order-exec bench``: score an agent on the frozen benchmark tasks and compare results files.

::

    order-exec bench list                                     the tasks, with what each needs
    order-exec bench run AGENT [--tasks ...] --out FILE       AGENT: a saved SB3 model (.zip, any algorithm),
                                                              a baseline name, or module:callable
    order-exec bench compare FILE ... [--out leaderboard.md]  a leaderboard and a performance-profile plot

Registered in the ``order_exec_gym.commands`` entry-point group by this package, which can load any saved
Stable-Baselines3 or sb3-contrib model (:func:`sb3_distill.cli.load_model`); the tasks, the scores and the results
files are :mod:`order_exec_gym.benchmark`'s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from order_exec_gym.benchmark import TASKS, available, leaderboard, load, markdown, performance_profile, run, save_results
from order_exec_gym.benchmark.runner import PublicAgent, load_agent
from order_exec_gym.cli import UsageError
from sb3_distill.cli import ALGORITHMS, load_model, sees_the_future


def add_bench(subparsers: argparse._SubParsersAction) -> None:
    """``order-exec bench {list,run,compare}``."""
    parser = subparsers.add_parser(
        "bench",
        help="score an agent on the frozen benchmark tasks, and compare results files",
        description="The benchmark: versioned tasks that freeze a market, a split, the env settings, every order "
        "and the evaluation seeds; one normalised score per task (0 = TWAP, 100 = the Oracle); results files that "
        "compare. See docs/BENCHMARK.md.",
    )
    commands = parser.add_subparsers(title="bench commands", metavar="{list,run,compare}")
    commands.required = True

    listing = commands.add_parser("list", help="the tasks, with what each needs", description="List the current tasks.")
    listing.set_defaults(handler=run_list)

    runner = commands.add_parser(
        "run",
        help="score an agent on the tasks and write its results file",
        description="Score AGENT on each task's frozen orders, once per evaluation seed, with TWAP and the Oracle on "
        "the same orders, and write the results file. An agent that reads the privileged observation (a teacher) or "
        "sees the future (the Oracle) is scored on the privileged track; one that fails a task is reported as failed.",
    )
    runner.add_argument("agent", metavar="AGENT", help="a saved SB3 model's .zip, a baseline name (TWAP, VWAP, "
                        "AlmgrenChriss, Random, Oracle, PublicBound) or module:callable")  # fmt: skip
    runner.add_argument("--tasks", default=None, metavar="IDS",
                        help="comma-separated task ids (default: every task whose data is here)")  # fmt: skip
    runner.add_argument("--out", type=Path, required=True, help="the results file (.json, or .json.gz compressed)")
    runner.add_argument("--name", default=None, help="the agent's name on the leaderboard (default: AGENT's name)")
    runner.add_argument("--description", default="", help="what the agent is: recipe, budget, seeds")
    runner.add_argument("--algo", default="auto", choices=("auto", *ALGORITHMS), metavar="ALGO",
                        help="a saved model's algorithm (default: auto, read from the zip)")  # fmt: skip
    runner.add_argument("--no-progress", action="store_true", help="no progress bar")
    runner.set_defaults(handler=run_run)

    compare = commands.add_parser(
        "compare",
        help="a leaderboard of results files",
        description="Check results files against the task registry (a file scored on other orders or another task "
        "version is refused) and print the leaderboard: IQM and mean scores with 95% stratified bootstrap "
        "intervals, the probability of improvement over TWAP, each task's score.",
    )
    compare.add_argument("files", nargs="+", type=Path, metavar="FILE", help="results files of 'order-exec bench run'")
    compare.add_argument("--out", type=Path, default=None, help="also write the leaderboard (Markdown) here")
    compare.add_argument("--plot", type=Path, default=None, help="write the performance-profile plot here (PNG)")
    compare.set_defaults(handler=run_compare)


def run_list(args: argparse.Namespace) -> int:
    for task in TASKS.current():
        missing = available(task)
        state = "ready" if missing is None else f"missing: {missing}"
        print(f"{task.id:<31} {task.description}\n{'':<31} needs {task.needs}; {state}")
    return 0


def run_run(args: argparse.Namespace) -> int:
    spec = args.agent
    if Path(spec).is_file() or Path(spec + ".zip").is_file():
        model, algo = load_model(Path(spec), args.algo)
        agent = model if sees_the_future(model) else PublicAgent(model)  # a student never reads the privileged key
        name, spec = args.name or Path(spec).stem, f"{spec} ({algo})"
    else:
        try:
            agent = load_agent(spec)
        except (ValueError, ImportError, AttributeError) as error:
            raise UsageError(f"AGENT {spec!r}: {error}") from None
        name = args.name or spec
    tasks = args.tasks.split(",") if args.tasks else None
    results = run(agent, name, tasks, description=args.description, spec=spec, progress=not args.no_progress)
    path = save_results(results, args.out)
    for task_id, entry in results["tasks"].items():
        shown = f"score {entry['score']:.1f}" if entry["status"] == "ok" else f"FAILED: {entry['reason']}"
        print(f"{task_id:<31} {shown}")
    print(f"{name} ({results['agent']['track']} track): results in {path}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    runs = load(args.files)
    tasks, rows = leaderboard(runs)
    table = markdown(tasks, rows)
    print(table)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
    if args.plot is not None:
        print(f"performance profiles: {performance_profile(tasks, runs, args.plot)}")
    return 0
