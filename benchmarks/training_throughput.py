"""Training throughput: env-steps/s of RecurrentPPO and DistillRecurrentPPO (OracleTeacher) with identical settings.

Run: ``python benchmarks/training_throughput.py``. Both algorithms train the same student network
(``StudentLstmPolicy``, :data:`sb3_distill.training.STUDENT_KWARGS`) on the same privileged env of the default
synthetic market; the runs alternate (``--rounds``) and each algorithm's best rate is reported, with the
distillation overhead ``rate(RecurrentPPO) / rate(DistillRecurrentPPO) - 1`` (target: <= 10%). Rates are env steps
per second of this process's CPU time (one torch thread), which other processes on a shared machine disturb far
less than wall time. ``--profile`` adds a cProfile of one distillation run. Compare the ratio, not the absolute
numbers.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import torch as th
from sb3_contrib import RecurrentPPO

from order_exec_gym.data.dataset import MarketDataset
from sb3_distill import DistillRecurrentPPO, OracleTeacher, StudentLstmPolicy
from sb3_distill.training import STUDENT_KWARGS, make_training_env


def build(algorithm: str, data: MarketDataset, n_envs: int, mu: float):
    env = make_training_env({"data": data}, n_envs, seed=0, privileged=True)
    if algorithm == "RecurrentPPO":
        return RecurrentPPO(StudentLstmPolicy, env, seed=0, **STUDENT_KWARGS)
    teacher = OracleTeacher(env)
    return DistillRecurrentPPO(StudentLstmPolicy, env, teacher=teacher, distill_coef=mu, seed=0, **STUDENT_KWARGS)


def rate(algorithm: str, data: MarketDataset, n_envs: int, mu: float, steps: int) -> float:
    """Env steps per CPU second of ``learn(steps)``, after one warm-up rollout and update."""
    model = build(algorithm, data, n_envs, mu)
    model.learn(model.n_steps * n_envs)
    start = time.process_time()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=16_384, help="env steps per measured run")
    parser.add_argument("--n-envs", type=int, default=16, help="parallel orders")
    parser.add_argument("--rounds", type=int, default=5, help="alternating runs per algorithm")
    parser.add_argument("--mu", type=float, default=0.01, help="distillation coefficient")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one distillation run")
    args = parser.parse_args()
    th.set_num_threads(1)
    data = MarketDataset.synthetic()
    print(f"data: {data}")
    print(f"settings: n_envs={args.n_envs}, {STUDENT_KWARGS}")

    rates: dict[str, list[float]] = {"RecurrentPPO": [], "DistillRecurrentPPO": []}
    for round_ in range(args.rounds):
        for algorithm, values in rates.items():
            values.append(rate(algorithm, data, args.n_envs, args.mu, args.steps))
            print(f"round {round_ + 1}  {algorithm:<20} {values[-1]:>8,.0f} env-steps/s", flush=True)
    base, distill = (max(values) for values in rates.values())
    print(f"best    RecurrentPPO         {base:>8,.0f} env-steps/s")
    print(f"best    DistillRecurrentPPO  {distill:>8,.0f} env-steps/s (OracleTeacher, mu={args.mu})")
    print(f"distillation overhead: {base / distill - 1:+.1%}")

    if args.profile:
        model = build("DistillRecurrentPPO", data, args.n_envs, args.mu)
        profiler = cProfile.Profile()
        profiler.runcall(model.learn, args.steps)
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(12)
        stats.print_stats("distill_ppo|teachers|oracle")  # what distillation adds


if __name__ == "__main__":
    main()
