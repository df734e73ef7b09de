"""Every baseline's per-order results, as digests, to check that a refactor changes no result.

Run: ``python benchmarks/baseline_identity.py --before REV``. For each market (the synthetic one, and where the real
data is present the ``ashare-1min`` and ``ashare-etf-5min`` presets), each configuration (the defaults, one-bar
steps, continuous actions, random sides on windows, the paper's settings) and each baseline, every order of the
test split is evaluated and its whole result (the order table, schedules and step prices) hashed. ``--before REV``
computes the same digests with the code of an earlier commit (a git worktree of REV, in a subprocess) and prints
every difference. It also checks that a sharded market gives, order for order, the in-memory results (all
baselines but :data:`PER_PARTITION`'s).

Only public API that every release since the redesign has (``evaluate``'s first seven positional arguments,
``MarketDataset.synthetic`` / ``from_preset``, ``synthetic_shards``) is used, so the digests of two commits compare.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "one-bar steps": {"step_minutes": None},  # None: the market's bar length
    "continuous": {"action_type": "continuous"},
    "random side, windows": {"side": "random", "window_minutes": 120, "step_minutes": 10},
    "paper": {"paper": True},
}
BASELINE_NAMES = ("TWAP", "VWAP", "AlmgrenChriss", "Random", "Oracle", "PublicBound")
#: Not equal order for order between a sharded market and the same in memory, by design (evaluate's docstring):
#: VWAP and AlmgrenChriss calibrate on each partition's training days, Random's draws follow the batches.
PER_PARTITION = ("VWAP", "AlmgrenChriss", "Random")


def result_digest(result: Any) -> str:
    """A hash of an evaluation's order table (every column), schedules and step prices."""
    digest = hashlib.sha256()
    for name in result.orders.columns:
        values = result.orders[name].to_numpy()
        digest.update(name.encode())
        digest.update(values.astype(str).tobytes() if values.dtype.kind in "OUM" else np.ascontiguousarray(values).tobytes())
    for array in (result.schedules, result.step_prices):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def settings(name: str, bar_minutes: int) -> dict[str, Any]:
    from order_exec_gym.config import PAPER_CONFIG

    config = dict(CONFIGS[name])
    if config.pop("paper", False):
        config = {**PAPER_CONFIG, **config}
    if "step_minutes" in config and config["step_minutes"] is None:
        config["step_minutes"] = bar_minutes
    if "step_minutes" in config:
        config["step_minutes"] = max(config["step_minutes"], bar_minutes)
    return config


def markets() -> dict[str, Any]:
    """The synthetic market (signal 2, so the PublicBound has a model) and the presets whose data is here."""
    from order_exec_gym.data.dataset import MarketDataset
    from order_exec_gym.data.presets import PRESETS, preset_path

    found = {"synthetic": MarketDataset.synthetic(n_symbols=12, n_days=40, seed=3, signal=2.0)}
    for preset in ("ashare-1min", "ashare-etf-5min"):
        try:
            preset_path(PRESETS[preset], None)
        except Exception:  # noqa: BLE001 - the data is not on this machine: the synthetic market only
            continue
        found[preset] = MarketDataset.from_preset(preset)
    return found


def digests() -> dict[str, str]:
    """``{"market | config | baseline": digest}`` with this checkout's code."""
    from order_exec_gym.evaluation import evaluate

    out = {}
    for market_name, market in markets().items():
        for config_name in CONFIGS:
            config = settings(config_name, market.bar_minutes)
            for baseline in BASELINE_NAMES:
                if baseline == "PublicBound" and not market.model:
                    continue
                result = evaluate(baseline, market, "test", None, 0, True, config)
                out[f"{market_name} | {config_name} | {baseline}"] = result_digest(result)
                print(f"  {market_name} | {config_name} | {baseline}: {out[f'{market_name} | {config_name} | {baseline}']}", file=sys.stderr)
    return out


def sharded_mismatches() -> list[str]:
    """The (config, baseline) pairs whose results on a sharded synthetic market differ from those in memory."""
    from order_exec_gym.data.shards import synthetic_shards
    from order_exec_gym.evaluation import evaluate

    mismatches = []
    with tempfile.TemporaryDirectory() as tmp:
        market = synthetic_shards(Path(tmp) / "market", n_symbols=12, n_days=40, symbols_per_shard=5, seed=3, signal=2.0)
        in_memory = market.to_dataset()
        for config_name in CONFIGS:
            config = settings(config_name, market.bar_minutes)
            for baseline in BASELINE_NAMES:
                if baseline in PER_PARTITION:
                    continue
                sharded = evaluate(baseline, market, "test", None, 0, True, config)
                whole = evaluate(baseline, in_memory, "test", None, 0, True, config)
                if result_digest(sharded) != result_digest(whole):
                    mismatches.append(f"{config_name} | {baseline}")
    return mismatches


def digests_at(revision: str, root: Path) -> dict[str, str]:
    """:func:`digests` with the code of ``revision`` (a git worktree), computed by this script in a subprocess."""
    worktree = Path(tempfile.mkdtemp(prefix="identity-")) / "tree"
    subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(worktree), revision], check=True,
                   capture_output=True)  # fmt: skip
    atexit.register(subprocess.run, ["git", "-C", str(root), "worktree", "remove", "--force", str(worktree)])
    cache = tempfile.mkdtemp(prefix="identity-cache-")  # the earlier code builds its own preset caches
    environment = {**os.environ, "PYTHONPATH": str(worktree), "ORDER_EXEC_GYM_CACHE": cache}
    done = subprocess.run([sys.executable, __file__, "--digests-only"], cwd=worktree, env=environment, check=True,
                          stdout=subprocess.PIPE, text=True)  # fmt: skip
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="REV", help="compare with the digests of this earlier commit")
    parser.add_argument("--digests-only", action="store_true", help="print this checkout's digests as JSON")
    args = parser.parse_args()
    if args.digests_only:
        print(json.dumps(digests()))
        return
    now = digests()
    print(f"{len(now)} results: {len({key.split(' | ')[0] for key in now})} markets x {len(CONFIGS)} configs x baselines")
    if args.before:
        before = digests_at(args.before, Path(__file__).resolve().parents[1])
        changed = sorted(key for key in now.keys() | before.keys() if now.get(key) != before.get(key))
        print(f"bit-identical to {args.before}: {len(now) - len(changed)} of {len(now)}")
        for key in changed:
            print(f"  DIFFERS: {key}: {before.get(key)} -> {now.get(key)}")
    mismatches = sharded_mismatches()
    print(f"sharded = in memory, order for order: {'yes' if not mismatches else 'NO: ' + ', '.join(mismatches)}")


if __name__ == "__main__":
    main()
