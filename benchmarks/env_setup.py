"""Env set-up cost: time and peak RSS of building many envs over one market.

Run: ``python benchmarks/env_setup.py [--preset ashare-1min]``. Each phase runs in a fresh process, so its peak RSS
is its own and nothing is cached from an earlier phase:

- ``SyncVectorEnv`` of 16 default envs (``gym.make_vec(..., vectorization_mode="sync")`` on the embedded synthetic
  market, which is built once per process and shared);
- SB3's ``DummyVecEnv`` of 16 ``gym.make("OrderExec-v0", data=market)`` envs over one loaded preset (the envs
  share its split, its features and its price sums), next to one env and to the batched adapter
  ``OrderExecutionVecEnv(16)``.

The preset phases need the shared data (``../shared/data``); they are skipped with a note when it is absent.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

PHASES = {
    "sync16": """
import gymnasium as gym
import order_exec_gym
start = time.perf_counter()
envs = gym.make_vec("OrderExec-v0", num_envs=16, vectorization_mode="sync")
envs.reset(seed=0)
""",
    "one": """
import gymnasium as gym
import order_exec_gym
from order_exec_gym.data.dataset import MarketDataset
market = MarketDataset.from_preset(PRESET)
start = time.perf_counter()
envs = gym.make("OrderExec-v0", data=market)
envs.reset(seed=0)
""",
    "dummy16": """
import gymnasium as gym
from stable_baselines3.common.vec_env import DummyVecEnv
import order_exec_gym
from order_exec_gym.data.dataset import MarketDataset
market = MarketDataset.from_preset(PRESET)
start = time.perf_counter()
envs = DummyVecEnv([lambda: gym.make("OrderExec-v0", data=market) for _ in range(16)])
envs.reset()
""",
    "batched16": """
from order_exec_gym.data.dataset import MarketDataset
from sb3_distill import OrderExecutionVecEnv
market = MarketDataset.from_preset(PRESET)
start = time.perf_counter()
envs = OrderExecutionVecEnv(16, data=market)
envs.reset()
""",
}
RUN = """
import json, resource, sys, time
PRESET = sys.argv[1]
{body}
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
LABELS = {
    "sync16": "SyncVectorEnv of 16 default envs (synthetic)",
    "one": "1 gym.make env over the preset",
    "dummy16": "DummyVecEnv of 16 gym.make envs over the preset",
    "batched16": "OrderExecutionVecEnv(16) over the preset",
}


def run(phase: str, preset: str) -> dict:
    """Time and peak RSS of one phase, in a fresh process (the preset comes from its cache after the first)."""
    out = subprocess.run(
        [sys.executable, "-c", RUN.format(body=PHASES[phase]), preset], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="ashare-1min", help="the market of the DummyVecEnv phases")
    args = parser.parse_args()
    from order_exec_gym.data.dataset import MarketDataset

    try:
        MarketDataset.from_preset(args.preset)  # build the cache once, so every phase loads the same arrays
        phases = list(PHASES)
    except FileNotFoundError as error:
        print(f"note: {error}; only the synthetic phase runs")
        phases = ["sync16"]
    for phase in phases:
        result = run(phase, args.preset)
        print(f"{LABELS[phase]:<52} build {result['seconds']:6.2f} s   process peak RSS {result['peak_mib']:7,.0f} MiB")


if __name__ == "__main__":
    main()
