"""The benchmark's reference results: the baselines, and the teacher, OPD student and control trained per task.

Writes ``docs/results/bench_reference/<agent>.json.gz`` (the results files of ``order-exec bench run``), the
leaderboards ``tables.md`` and the performance profiles ``profiles.png`` (docs/BENCHMARK.md, written by hand, links
to them). Baselines run on every task whose data is here
(the PublicBound on the synthetic tasks, whose model it needs). The learned agents are trained on each task's
training days with its settings (``task.env_kwargs("train")``), one seed, ``--steps`` env steps each, the
checkpoint chosen on the valid days by mean PA: the teacher (PPO on the privileged observation), the OPD student
(``DistillRecurrentPPO``, the GRU network, distilled from that teacher with mu = 0.01) and its control (the same
learner and network at mu = 0).

Run: ``python benchmarks/bench_reference.py [--steps 100000] [--tasks ...]`` (about an hour on 2 cores with the
real data).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch as th

from order_exec_gym.benchmark import TASKS, available, leaderboard, load, markdown, performance_profile, run, save_results
from order_exec_gym.benchmark.runner import PublicAgent, freeze
from sb3_distill.callbacks import BestOnValidation
from sb3_distill.teachers import PolicyTeacher
from sb3_distill.training import train

OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "bench_reference"
BASELINE_NAMES = ("TWAP", "VWAP", "AlmgrenChriss", "Random", "Oracle", "PublicBound")
LEARNED = ("teacher", "OPD student", "control")


def learned_agents(task_id: str, steps: int, seed: int) -> dict[str, Any]:
    """The teacher, the student and the control trained on the task's training days, chosen on its valid days."""
    task = TASKS.get(task_id)
    env_kwargs = task.env_kwargs("train")

    def fit(kind: str, **kwargs: Any):
        selector = BestOnValidation(env_kwargs["data"], "valid", task.config, eval_freq=max(steps // 5, 1), metric="pa_mean")
        return train(kind, env_kwargs, total_timesteps=steps, seed=seed, callback=selector, **kwargs)

    teacher = fit("teacher")
    student = fit("student", teacher=PolicyTeacher(teacher), distill_coef=0.01, network="gru")
    control = fit("recurrent_ppo", network="gru")
    return {"teacher": teacher, "OPD student": PublicAgent(student), "control": PublicAgent(control)}


def parser() -> argparse.ArgumentParser:
    """The command line (``--out`` defaults to :data:`OUT`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="env steps per learned agent and task")
    parser.add_argument("--seed", type=int, default=0, help="the learned agents' training seed")
    parser.add_argument("--tasks", default=None, help="comma-separated task ids (default: every task whose data is here)")
    parser.add_argument("--out", type=Path, default=OUT, help="where the results files, tables.md and profiles.png go")
    parser.add_argument("--freeze", action="store_true",
                        help="only print each task's values for order_exec_gym.benchmark.tasks.FROZEN")  # fmt: skip
    return parser


def main() -> None:
    args = parser().parse_args()
    th.set_num_threads(1)
    tasks = args.tasks.split(",") if args.tasks else [task.id for task in TASKS.current() if available(task) is None]
    if args.freeze:
        for task_id in tasks:
            print(f"    {TASKS.get(task_id).name!r}: {freeze(TASKS.get(task_id))},")
        return
    synthetic = [task_id for task_id in tasks if "synthetic" in TASKS.get(task_id).market]
    paths = []
    for name in BASELINE_NAMES:
        started = time.perf_counter()
        results = run(name, name, synthetic if name == "PublicBound" else tasks, description=f"the {name} baseline")
        paths.append(save_results(results, args.out / f"{name}.json.gz"))
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
    learned: dict[str, dict[str, Any]] = {}
    for task_id in tasks:
        started = time.perf_counter()
        for name, agent in learned_agents(task_id, args.steps, args.seed).items():
            recipe = f"trained on the task's training days, {args.steps:,} env steps, seed {args.seed}, chosen on its valid days"
            results = run(agent, name, [task_id], description=recipe)
            if name in learned:
                learned[name]["tasks"].update(results["tasks"])
            else:
                learned[name] = results
        print(f"learned agents on {task_id}: {time.perf_counter() - started:.0f} s", flush=True)
    paths += [save_results(results, args.out / f"{name.replace(' ', '_')}.json.gz") for name, results in learned.items()]
    runs = load(paths)
    every, rows = leaderboard(runs)
    board = markdown(every, rows)
    if synthetic != tasks:  # the synthetic tasks alone, where the PublicBound runs too
        board = "## Every task\n\n" + board + "\n## The synthetic tasks\n\n" + markdown(*leaderboard(runs, synthetic))
    (args.out / "tables.md").write_text(board)
    performance_profile(synthetic, runs, args.out / "profiles.png")
    print(board)


if __name__ == "__main__":
    main()
