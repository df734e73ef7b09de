"""Training throughput of the paper's student: sb3-contrib's RecurrentPPO against our recurrent learner.

Run: ``python benchmarks/training_throughput.py [--steps N] [--rounds R] [--profile]``. Everything on the paper's
settings (``PAPER_CONFIG``: whole-session history with market features, 30-minute steps) on the default synthetic
market, with the paper's network ``NETWORKS["gru"]`` and the recipes' ``STUDENT_KWARGS``:

- ``sb3-contrib RecurrentPPO``: sb3-contrib's algorithm and rollout buffer, the network evaluated as sb3-contrib
  evaluates any recurrent policy (features row by row, so the session's bars are encoded again at every decision;
  the recurrent layers step by step): :class:`SB3ContribGruPolicy`, on 16 orders. How the student trained before.
- ``ours, control``: the ``recurrent_ppo`` recipe of :func:`sb3_distill.training.make_model` (DistillRecurrentPPO at
  ``distill_coef=0``: dense sequence minibatches, compact session observations, the encoder once per sequence; 16
  orders, as sb3-contrib's).
- ``ours, student``: the ``student`` recipe with the ``OracleTeacher`` at ``--mu`` (the privileged env, the labels
  and the distillation term included).

``--before REV`` adds a fourth: sb3-contrib's RecurrentPPO with the network and env of an earlier commit (a git
worktree of REV, run in a subprocess), e.g. the commit before the fast learner and env, to measure the whole gain.

Each learner runs ``--rounds`` times (the order rotates every round) after a warm-up rollout and update; a rate is
env steps per second of this process's CPU time (one torch thread; other processes disturb it far less than wall
time) and per wall second. The script prints each learner's best and median rates and the speed-up of each of ours
over sb3-contrib's from the median of the rounds' paired ratios, then the CPU time of one update of our control
alone: the rate no rollout could lift it above. Compare the ratios, not the absolute numbers.
``--profile`` adds a cProfile of one run of each.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch as th
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.base_class import BaseAlgorithm

from order_exec_gym import PAPER_CONFIG
from order_exec_gym.data.dataset import MarketDataset
from sb3_distill.policies import StudentGruPolicy
from sb3_distill.training import NETWORKS, STUDENT_KWARGS, make_model, make_training_env


class SB3ContribGruPolicy(StudentGruPolicy):
    """The paper's network evaluated in training as sb3-contrib evaluates a recurrent policy: row by row, the
    recurrent layers step by step (``RecurrentActorCriticPolicy.evaluate_actions``)."""

    evaluate_actions = RecurrentActorCriticPolicy.evaluate_actions


def sb3_contrib_model(data: MarketDataset, seed: int = 0, **settings) -> RecurrentPPO:
    """sb3-contrib's RecurrentPPO with the paper's network on the public env, as the student trained before (the
    recipe's 16 orders of 128 steps per rollout)."""
    env = make_training_env({"data": data, **PAPER_CONFIG, **settings}, 16, seed=seed, privileged=False)
    return RecurrentPPO(SB3ContribGruPolicy, env, policy_kwargs=NETWORKS["gru"][1], seed=seed, **STUDENT_KWARGS)


def learners(data: MarketDataset, mu: float) -> dict[str, Callable[[], BaseAlgorithm]]:
    env_kwargs = {"data": data, **PAPER_CONFIG}
    return {
        "sb3-contrib RecurrentPPO": lambda: sb3_contrib_model(data),
        "ours, control (mu=0)": lambda: make_model("recurrent_ppo", env_kwargs, network="gru"),
        f"ours, student (mu={mu:g})": lambda: make_model("student", env_kwargs, network="gru", teacher="oracle",
                                                         distill_coef=mu),
    }  # fmt: skip


#: Run in a worktree of an earlier commit: sb3-contrib's RecurrentPPO with that commit's network and env, rates as JSON.
BEFORE = """
import json, sys, time
import torch as th
from sb3_contrib import RecurrentPPO
from order_exec_gym import PAPER_CONFIG
from order_exec_gym.data.dataset import MarketDataset
from sb3_distill.training import NETWORKS, STUDENT_KWARGS, make_training_env
th.set_num_threads(1)
steps = int(sys.argv[1])
policy, policy_kwargs = NETWORKS["gru"]
env = make_training_env({"data": MarketDataset.synthetic(), **PAPER_CONFIG}, 16, seed=0, privileged=False)
model = RecurrentPPO(policy, env, policy_kwargs=policy_kwargs, seed=0, **STUDENT_KWARGS)
model.learn(model.n_steps * model.n_envs)
cpu, wall = time.process_time(), time.perf_counter()
model.learn(steps, reset_num_timesteps=False)
print(json.dumps([steps / (time.process_time() - cpu), steps / (time.perf_counter() - wall)]))
"""


def before(revision: str, root: Path) -> Callable[[int], tuple[float, float]]:
    """Rates of sb3-contrib's RecurrentPPO at ``revision`` (see :data:`BEFORE`), each from a fresh subprocess."""
    worktree = Path(tempfile.mkdtemp(prefix="before-")) / "tree"
    subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(worktree), revision], check=True,
                   capture_output=True)  # fmt: skip
    atexit.register(subprocess.run, ["git", "-C", str(root), "worktree", "remove", "--force", str(worktree)])

    def measure(steps: int) -> tuple[float, float]:
        environment = {**os.environ, "PYTHONPATH": str(worktree)}
        done = subprocess.run([sys.executable, "-c", BEFORE, str(steps)], cwd=worktree, env=environment, check=True,
                              capture_output=True, text=True)  # fmt: skip
        return tuple(json.loads(done.stdout.strip().splitlines()[-1]))

    return measure


def rates(build: Callable[[], BaseAlgorithm], steps: int) -> tuple[float, float]:
    """Env steps per CPU second and per wall second of ``learn(steps)``, after one warm-up rollout and update."""
    model = build()
    model.learn(model.n_steps * model.n_envs)
    cpu, wall = time.process_time(), time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.process_time() - cpu), steps / (time.perf_counter() - wall)


def update_ceiling(build: Callable[[], BaseAlgorithm], repeats: int = 3) -> tuple[float, int]:
    """CPU seconds of one update (``train()`` on a full rollout buffer) and the rollout's rows: the rate the learner
    could not exceed even if the env and the rollout cost nothing."""
    model = build()
    model.learn(2 * model.n_steps * model.n_envs)
    start = time.process_time()
    for _ in range(repeats):
        model.train()
    return (time.process_time() - start) / repeats, model.n_steps * model.n_envs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=16_384, help="env steps per measured run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per learner")
    parser.add_argument("--mu", type=float, default=0.01, help="the student's distillation coefficient")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one run of each learner")
    parser.add_argument("--before", metavar="REV", help="also sb3-contrib's RecurrentPPO at this earlier commit")
    args = parser.parse_args()
    th.set_num_threads(1)
    data = MarketDataset.synthetic()
    runs: dict[str, Callable[[int], tuple[float, float]]] = {
        name: lambda steps, build=build: rates(build, steps) for name, build in learners(data, args.mu).items()
    }
    if args.before:
        runs[f"sb3-contrib RecurrentPPO @{args.before}"] = before(args.before, Path(__file__).resolve().parents[1])
    print(f"data: {data}\nsettings: PAPER_CONFIG, NETWORKS['gru'], 16 orders, {STUDENT_KWARGS}, steps={args.steps:,}")

    measured: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    names = list(runs)
    for round_ in range(args.rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            measured[name].append(runs[name](args.steps))
            cpu, wall = measured[name][-1]
            print(f"round {round_ + 1}  {name:<28} {cpu:>8,.0f} env-steps/CPU-s {wall:>8,.0f} env-steps/wall-s", flush=True)
    print()
    for name, values in measured.items():
        cpu = [c for c, _ in values]
        wall = [w for _, w in values]
        print(f"{name:<28} CPU: best {max(cpu):>7,.0f} median {statistics.median(cpu):>7,.0f}   "
              f"wall: best {max(wall):>7,.0f} median {statistics.median(wall):>7,.0f} env-steps/s")  # fmt: skip
    for reference in [names[0]] + names[3:]:
        for name in names[1:3]:
            for unit, i in (("CPU", 0), ("wall", 1)):
                pairs = zip(measured[name], measured[reference], strict=True)
                ratio = statistics.median(ours[i] / base[i] for ours, base in pairs)
                print(f"speed-up of {name} over {reference} ({unit} time, median of paired rounds): {ratio:.1f}x")

    seconds, rows = update_ceiling(learners(data, args.mu)[names[1]])
    print(f"{names[1]}: one update of {rows:,} rows takes {seconds * 1000:.0f} ms of CPU: at most "
          f"{rows / seconds:,.0f} env-steps/s with a free env and rollout")

    if args.profile:
        for name, build in learners(data, args.mu).items():
            model = build()
            profiler = cProfile.Profile()
            profiler.runcall(model.learn, args.steps)
            print(f"\n===== cProfile: {name}")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
