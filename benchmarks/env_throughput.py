"""Env throughput: steps/s of the single env, env-steps/s of the batched vector env, and memory per order.

Run: ``python benchmarks/env_throughput.py``. All figures come from one run on the default synthetic market;
compare the ratios, not the absolute numbers (machines are shared and noisy). The ``PAPER_CONFIG`` lines (session
history, market features: ``public`` of (480, 8)) compare the session observation kept up to date step by step
with the same env rebuilding it from scratch at every step.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import gymnasium as gym
import numpy as np

import order_exec_gym  # noqa: F401
from order_exec_gym import PAPER_CONFIG
from order_exec_gym.data.dataset import MarketDataset


def single_env_rate(dataset: MarketDataset, step_minutes: int, seconds: float) -> float:
    env = gym.make("OrderExec-v0", data=dataset, step_minutes=step_minutes)
    env.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(1000):
            _, _, terminated, _, _ = env.step(2)
            if terminated:
                env.reset()
        steps += 1000
    return steps / (time.perf_counter() - start)


def vector_rate(make, num_envs: int, seconds: float) -> float:
    venv = make(num_envs)
    venv.reset(seed=0)
    actions = np.full(num_envs, 2)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(20):
            venv.step(actions)
        steps += 20 * num_envs
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    dataset = MarketDataset.synthetic()
    print(f"data: {dataset}")

    for k in (30, 1):
        print(f"single env  gym.make k={k:<2}            {single_env_rate(dataset, k, args.seconds):>12,.0f} steps/s")

    def vector(n):
        return gym.make_vec("OrderExec-v0", num_envs=n, vectorization_mode="vector_entry_point", data=dataset)

    def sync(n):
        return gym.make_vec("OrderExec-v0", num_envs=n, vectorization_mode="sync", data=dataset)

    rates = {}
    for n in (1, 16, 256, 1024, 4096):
        rates[n] = vector_rate(vector, n, args.seconds)
        print(f"vector env  N={n:<5}                 {rates[n]:>12,.0f} env-steps/s")
    sync_rate = vector_rate(sync, 16, args.seconds)
    print(f"SyncVectorEnv of single envs N=16    {sync_rate:>12,.0f} env-steps/s")
    print(f"ratio vector/sync at N=16: {rates[16] / sync_rate:.1f}x; vector N=1024 / sync N=16: {rates[1024] / sync_rate:.0f}x")

    for n in (16, 1024):
        incremental = vector_rate(lambda n: paper_vector(dataset, n, incremental=True), n, args.seconds)
        scratch = vector_rate(lambda n: paper_vector(dataset, n, incremental=False), n, args.seconds)
        print(f"PAPER_CONFIG vector env N={n:<5}     {incremental:>12,.0f} env-steps/s; rebuilt from scratch at "
              f"every step {scratch:,.0f}: {incremental / scratch:.1f}x")

    venv = vector(1)
    obs, _ = venv.reset(seed=0)
    size = sum(v.nbytes for v in obs.values())
    print(f"default observation: {', '.join(f'{k} {v.shape[1:]}' for k, v in obs.items())} = {size} bytes float32")

    sizes = (1, 100_000)
    peaks = {n: traced_peak_mib(vector, n) for n in sizes}
    per_order = (peaks[sizes[1]] - peaks[sizes[0]]) * 1024 / (sizes[1] - sizes[0])
    print(f"memory traced while building, resetting and stepping: {peaks[1]:,.0f} MiB for 1 order (the market's "
          f"features), {peaks[100_000]:,.0f} MiB for 100,000 orders: {per_order:.1f} KiB per order")


def paper_vector(dataset: MarketDataset, num_envs: int, incremental: bool):
    """The ``PAPER_CONFIG`` vector env; ``incremental=False`` drops the task's session state, so ``public`` is
    rebuilt from scratch (:meth:`~order_exec_gym.features.FeatureBuilder.public`) at every step."""
    venv = gym.make_vec(
        "OrderExec-v0", num_envs=num_envs, vectorization_mode="vector_entry_point", data=dataset, **PAPER_CONFIG
    )
    if not incremental:
        venv.task._session = None
    return venv


def traced_peak_mib(make, num_envs: int) -> float:
    """Peak of the numpy/Python allocations made while building a vector env and stepping it three times."""
    tracemalloc.start()
    venv = make(num_envs)
    venv.reset(seed=0)
    for _ in range(3):
        venv.step(np.full(num_envs, 2))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del venv
    return peak / 2**20


if __name__ == "__main__":
    main()
