"""Does a plain PPO learn the default task, OrderExec-v1, out of the box? CleanRL's ppo.py and SB3's PPO, unmodified.

Run: ``python benchmarks/default_task_learning.py --cleanrl-ppo PATH/TO/cleanrl/ppo.py [--steps 60000] [--seeds 1]``.

- **CleanRL**: the unmodified ``ppo.py`` of https://github.com/vwxyzjn/cleanrl (its Gymnasium version, which needs
  ``tyro`` and ``tensorboard``: ``pip install tyro tensorboard``; the ``cleanrl`` package on PyPI ships an older,
  gym-based ppo.py, which this script refuses). It runs with its own defaults (4 sync envs, 128 steps per rollout,
  ``gamma=0.99``, ...) and only ``--env-id`` (a helper id registered here: ``OrderExec-v1`` through Gymnasium's
  ``FlattenObservation``, and a wrapper that logs each finished order's price advantage), ``--total-timesteps`` and
  ``--seed``. CleanRL's own episode logging reads ``infos["final_info"]``, which Gymnasium 1.x no longer sends, so
  the log wrapper here is what counts episodes; it counts CleanRL's ``global_step`` too (the step after an episode,
  where Gymnasium's next-step autoreset resets the sub-env, is one of CleanRL's steps).
- **SB3**: ``PPO("MultiInputPolicy", env)`` with SB3's default hyperparameters, ``env = gym.make("OrderExec-v1")``
  with the same log wrapper.

For each learner and seed it prints the mean price advantage (bps, against the window's mean price) of the orders
that ended within the first tenth and within the last tenth of the steps, their difference (the target: at least
+10 bps), the test-day PA of the final policy (deterministic, every test order), and the wall time; and the
baselines on the same settings for scale (TWAP, the ``PublicBound``, a strong public rule derived from the market's
model, and the Oracle). ``--set name=value`` changes one of v1's settings (values in JSON, e.g. ``--set
history='"session"'``, ``--set levels='[0, 0.5, 1, 1.5, 2]'``, ``--set data='"synthetic:signal=1"'``): how v1's
defaults were chosen. ``--json PATH`` writes the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import runpy
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium.wrappers import FlattenObservation

import order_exec_gym  # noqa: F401  (registers OrderExec-v1)
from order_exec_gym.config import MARKET_ARGUMENTS
from order_exec_gym.data.resolve import load_dataset
from order_exec_gym.evaluation import evaluate

ENV_ID = "OrderExec-v1"
#: The helper id CleanRL's ppo.py makes: OrderExec-v1 (with --set's changes), flattened, its orders' PA logged.
CLEANRL_ENV_ID = "OrderExecFlatLogged-v1"


@dataclass
class EpisodeLog:
    """Each finished order's price advantage (bps) with the step count at which it ended, over all the envs that
    share the log (a learner's envs, stepped one after the other in one process)."""

    steps: int = 0
    episodes: list[tuple[int, float]] = field(default_factory=list)

    def tenths(self, total: int) -> tuple[np.ndarray, np.ndarray]:
        """The PAs of the orders that ended within the first tenth of ``total`` steps, and within the last tenth."""
        ends = np.array([step for step, _ in self.episodes], dtype=np.int64)
        pa = np.array([value for _, value in self.episodes])
        first = pa[ends <= total / 10]
        last = pa[(ends > 0.9 * total) & (ends <= total)]
        return first, last


class LogPriceAdvantage(gym.Wrapper):
    """Counts the steps into ``log`` and records the price advantage of every order that ends.

    :param count_resets: count a reset after the first as a step (Gymnasium's next-step autoreset, as CleanRL's
        sync vector env does it, spends one of the learner's steps on it; SB3 resets within the step that ends)
    """

    def __init__(self, env: gym.Env, log: EpisodeLog, count_resets: bool):
        super().__init__(env)
        self.log = log
        self.count_resets = count_resets
        self._started = False

    def reset(self, **kwargs: Any):
        if self._started and self.count_resets:
            self.log.steps += 1
        self._started = True
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.log.steps += 1
        if terminated or truncated:
            self.log.episodes.append((self.log.steps, float(info["price_advantage"])))
        return obs, reward, terminated, truncated, info


def cleanrl_ppo_path(path: Path | None) -> Path:
    """CleanRL's ppo.py: ``path``, else the installed ``cleanrl`` package's; refused (``SystemExit`` saying what to
    do) when missing, when it is the old gym-based script, or when its imports are not installed."""
    if path is None:
        spec = importlib.util.find_spec("cleanrl")
        if spec is None or spec.origin is None:
            raise SystemExit(
                "CleanRL's ppo.py not found: pass --cleanrl-ppo PATH (cleanrl/ppo.py of github.com/vwxyzjn/cleanrl)"
            )
        path = Path(spec.origin).parent / "ppo.py"
    if not path.is_file():
        raise SystemExit(f"--cleanrl-ppo {path}: no such file")
    source = path.read_text()
    if "import gymnasium" not in source or "tyro" not in source:
        raise SystemExit(
            f"{path} is not the Gymnasium version of CleanRL's ppo.py (PyPI's cleanrl ships an older, gym-based one): "
            "pass --cleanrl-ppo with cleanrl/ppo.py of github.com/vwxyzjn/cleanrl"
        )
    missing = [name for name in ("tyro", "tensorboard") if importlib.util.find_spec(name) is None]
    if missing:
        raise SystemExit(f"CleanRL's ppo.py imports {', '.join(missing)}: pip install {' '.join(missing)}")
    return path


def flatten_batch(obs: dict[str, np.ndarray], space: gym.spaces.Dict) -> np.ndarray:
    """A batch of Dict observations flattened as Gymnasium's ``FlattenObservation`` flattens one: the keys in the
    space's order, each row-major."""
    return np.concatenate([obs[key].reshape(len(obs[key]), -1) for key in space.spaces], axis=1).astype(np.float32)


def run_cleanrl(ppo: Path, settings: dict[str, Any], steps: int, seed: int) -> tuple[EpisodeLog, Any, float]:
    """CleanRL's ppo.py, as it is, on OrderExec-v1 (flattened, logged) for ``steps`` of its global steps; returns the
    log, a policy for :func:`evaluate` (its actor's most likely action) and the wall time."""
    log = EpisodeLog()

    def make(**kwargs: Any) -> gym.Env:
        return LogPriceAdvantage(FlattenObservation(gym.make(ENV_ID, **settings)), log, count_resets=True)

    gym.register(CLEANRL_ENV_ID, entry_point=make)  # re-registered per run: a new log
    argv, cwd = sys.argv, os.getcwd()
    with tempfile.TemporaryDirectory() as work:  # ppo.py writes its tensorboard runs/ into the current directory
        sys.argv = [str(ppo), "--env-id", CLEANRL_ENV_ID, "--total-timesteps", str(steps), "--seed", str(seed)]
        os.chdir(work)
        started = time.perf_counter()
        try:
            with open(Path(work) / "ppo.log", "w") as output, contextlib.redirect_stdout(output):
                namespace = runpy.run_path(str(ppo), run_name="__main__")
        finally:
            sys.argv = argv
            os.chdir(cwd)
        seconds = time.perf_counter() - started
    agent, space = namespace["agent"], gym.make(ENV_ID, **settings).observation_space

    def policy(obs: dict[str, np.ndarray]) -> np.ndarray:
        with th.no_grad():
            return agent.actor(th.as_tensor(flatten_batch(obs, space))).argmax(-1).numpy()

    return log, policy, seconds


def run_sb3(settings: dict[str, Any], steps: int, seed: int) -> tuple[EpisodeLog, Any, float]:
    """SB3's PPO with its defaults on ``gym.make("OrderExec-v1")`` (logged) for ``steps`` steps."""
    from stable_baselines3 import PPO

    log = EpisodeLog()
    env = LogPriceAdvantage(gym.make(ENV_ID, **settings), log, count_resets=False)
    started = time.perf_counter()
    model = PPO("MultiInputPolicy", env, seed=seed).learn(steps)
    return log, model, time.perf_counter() - started


def parse_settings(items: list[str]) -> dict[str, Any]:
    """``--set name=value`` items (JSON values) as keyword arguments of OrderExec-v1."""
    settings = {}
    for item in items:
        name, equals, text = item.partition("=")
        if not equals:
            raise SystemExit(f"--set {item!r}: expected name=value, the value in JSON")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise SystemExit(f"--set {item!r}: the value {text!r} is not JSON (strings need quotes)") from None
        settings[name] = tuple(value) if isinstance(value, list) else value
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cleanrl-ppo", type=Path, default=None, help="CleanRL's ppo.py (default: the installed cleanrl's)")
    parser.add_argument("--steps", type=int, default=60_000, help="env steps of each run (default: 60000)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1], help="seeds (default: 1, CleanRL's default)")
    parser.add_argument("--learners", nargs="+", choices=("cleanrl", "sb3"), default=["cleanrl", "sb3"])
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=JSON",
                        help="change one of OrderExec-v1's settings (repeatable)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    args = parser.parse_args()
    th.set_num_threads(1)
    settings = parse_settings(args.settings)
    ppo = cleanrl_ppo_path(args.cleanrl_ppo) if "cleanrl" in args.learners else None

    kwargs = {**gym.spec(ENV_ID).kwargs, **settings}
    market = load_dataset(kwargs.get("data"))
    config = {key: value for key, value in kwargs.items() if key not in MARKET_ARGUMENTS}
    print(f"{ENV_ID} with {kwargs}, {args.steps:,} steps per run, seeds {args.seeds}")
    baselines = {}
    for name in ("TWAP", "PublicBound", "Oracle"):
        if name == "PublicBound" and "signal" not in getattr(market, "model", {}):
            continue
        baselines[name] = {split: evaluate(name, market, split, config=config).summary["pa_mean"] for split in ("train", "test")}
    print("baselines, mean PA (bps): " + "; ".join(f"{name} train {pa['train']:+.1f}, test {pa['test']:+.1f}" for name, pa in baselines.items()))

    runs = []
    header = f"{'learner':<8} {'seed':>4} {'first tenth':>20} {'last tenth':>20} {'difference':>10} {'test PA':>8} {'wall s':>7}"
    print(f"\nmean PA (bps) of the orders ended in the first and the last tenth of the steps (+- s.e., orders)\n{header}")
    for learner in args.learners:
        for seed in args.seeds:
            if learner == "cleanrl":
                log, policy, seconds = run_cleanrl(ppo, settings, args.steps, seed)
            else:
                log, policy, seconds = run_sb3(settings, args.steps, seed)
            first, last = log.tenths(args.steps)
            test = evaluate(policy, market, "test", config=config).summary["pa_mean"]
            run = dict(
                learner=learner, seed=seed, steps=args.steps, first_tenth=float(first.mean()), first_n=len(first),
                last_tenth=float(last.mean()), last_n=len(last), difference=float(last.mean() - first.mean()),
                test_pa=float(test), wall_s=seconds,
            )  # fmt: skip
            runs.append(run)

            def cell(values: np.ndarray) -> str:
                return f"{values.mean():+6.1f} +- {values.std(ddof=1) / np.sqrt(len(values)):4.1f} ({len(values)})"

            print(f"{learner:<8} {seed:>4} {cell(first):>20} {cell(last):>20} {run['difference']:>+10.1f} "
                  f"{test:>+8.1f} {seconds:>7.0f}", flush=True)  # fmt: skip
    for learner in args.learners:
        mine = [run for run in runs if run["learner"] == learner]
        if len(mine) > 1:
            print(f"{learner:<8} mean: first {np.mean([r['first_tenth'] for r in mine]):+.1f}, last "
                  f"{np.mean([r['last_tenth'] for r in mine]):+.1f}, difference {np.mean([r['difference'] for r in mine]):+.1f}, "
                  f"test {np.mean([r['test_pa'] for r in mine]):+.1f} bps")  # fmt: skip
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"env_id": ENV_ID, "kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
                   "baselines_pa": baselines, "runs": runs}  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2, default=str))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
