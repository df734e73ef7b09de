"""Training throughput: what distillation costs over RecurrentPPO as users train it without distillation.

Run: ``python benchmarks/training_throughput.py [--network gru]``. The baseline is RecurrentPPO on the public env
(``privileged=False``); the student is DistillRecurrentPPO with the ``OracleTeacher`` (``--mu``) on the privileged
env. Both use :data:`sb3_distill.training.STUDENT_KWARGS` and the same network (``--network``, from
:data:`sb3_distill.training.NETWORKS`: ``lstm``, today's default, on the default env; ``gru``, the paper's student
network, on the paper's env ``PAPER_CONFIG``: whole-session history with market features) on the default synthetic
market. The two alternate within each round (the order
flips every round) and the script prints each one's best and median rate and the distillation overhead
``rate(RecurrentPPO) / rate(DistillRecurrentPPO) - 1`` from the best rates and from the median of the rounds' paired
ratios (target: <= 10%). The overhead includes everything distillation brings: the env building the privileged
window, the teacher's labels, the extra loss term. Rates are env steps per second of this process's CPU time (one
torch thread), which other processes on a shared machine disturb far less than wall time. ``--profile`` adds a
cProfile of one run of each. Compare the ratio, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

import torch as th
from sb3_contrib import RecurrentPPO

from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym import PAPER_CONFIG
from sb3_distill import DistillRecurrentPPO, OracleTeacher
from sb3_distill.training import NETWORKS, STUDENT_KWARGS, make_training_env

ALGORITHMS = ("RecurrentPPO", "DistillRecurrentPPO")


def build(algorithm: str, data: MarketDataset, n_envs: int, mu: float, network: str) -> RecurrentPPO:
    """RecurrentPPO on the public env, or DistillRecurrentPPO (OracleTeacher, ``mu``) on the privileged env."""
    policy, policy_kwargs = NETWORKS[network]
    settings = {"data": data, **(PAPER_CONFIG if network == "gru" else {})}
    kwargs = {**STUDENT_KWARGS, "policy_kwargs": policy_kwargs, "seed": 0}
    if algorithm == "RecurrentPPO":
        return RecurrentPPO(policy, make_training_env(settings, n_envs, seed=0, privileged=False), **kwargs)
    env = make_training_env(settings, n_envs, seed=0, privileged=True)
    return DistillRecurrentPPO(policy, env, teacher=OracleTeacher(env), distill_coef=mu, **kwargs)


def rate(algorithm: str, data: MarketDataset, n_envs: int, mu: float, steps: int, network: str) -> float:
    """Env steps per CPU second of ``learn(steps)``, after one warm-up rollout and update."""
    model = build(algorithm, data, n_envs, mu, network)
    model.learn(model.n_steps * n_envs)
    start = time.process_time()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.process_time() - start)


def profile(algorithm: str, data: MarketDataset, n_envs: int, mu: float, steps: int, network: str) -> None:
    """Print a cProfile of ``learn(steps)``: the costliest functions, then what distillation adds."""
    model = build(algorithm, data, n_envs, mu, network)
    profiler = cProfile.Profile()
    profiler.runcall(model.learn, steps)
    print(f"\n===== cProfile: {algorithm}")
    stats = pstats.Stats(profiler).sort_stats("tottime")
    stats.print_stats(15)
    stats.sort_stats("cumulative").print_stats("distill_ppo|teachers|oracle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=16_384, help="env steps per measured run")
    parser.add_argument("--n-envs", type=int, default=16, help="parallel orders")
    parser.add_argument("--rounds", type=int, default=5, help="alternating runs per algorithm")
    parser.add_argument("--mu", type=float, default=0.01, help="distillation coefficient")
    parser.add_argument("--network", choices=tuple(NETWORKS), default="lstm", help="the student's network")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one run of each algorithm")
    args = parser.parse_args()
    th.set_num_threads(1)
    data = MarketDataset.synthetic()
    print(f"data: {data}")
    print(f"settings: network={args.network}, n_envs={args.n_envs}, steps={args.steps}, {STUDENT_KWARGS}")

    rates: dict[str, list[float]] = {algorithm: [] for algorithm in ALGORITHMS}
    for round_ in range(args.rounds):
        for algorithm in ALGORITHMS if round_ % 2 == 0 else ALGORITHMS[::-1]:
            rates[algorithm].append(rate(algorithm, data, args.n_envs, args.mu, args.steps, args.network))
            print(f"round {round_ + 1}  {algorithm:<20} {rates[algorithm][-1]:>8,.0f} env-steps/s", flush=True)
    labels = {"RecurrentPPO": "RecurrentPPO, public env", "DistillRecurrentPPO": f"DistillRecurrentPPO, mu={args.mu:g}"}
    for algorithm, values in rates.items():
        best, median = max(values), statistics.median(values)
        print(f"{labels[algorithm]:<30} best {best:>8,.0f}  median {median:>8,.0f} env-steps/s")
    base, distill = rates["RecurrentPPO"], rates["DistillRecurrentPPO"]
    paired = statistics.median(b / d for b, d in zip(base, distill, strict=True))
    print(f"distillation overhead: {max(base) / max(distill) - 1:+.1%} (best), {paired - 1:+.1%} (median of rounds)")

    if args.profile:
        for algorithm in ALGORITHMS:
            profile(algorithm, data, args.n_envs, args.mu, args.steps, args.network)


if __name__ == "__main__":
    main()
