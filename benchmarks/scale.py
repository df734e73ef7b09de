"""Paper scale on one machine, and past one process on Ray: build, evaluate, and parallel speed-up.

Run: ``python benchmarks/scale.py [--instruments 3569 --days 730] [--out /big/disk/dir]``. Each phase runs in a fresh
process, so its peak RSS (``ru_maxrss``: resident memory, memory-mapped pages included) is its own:

1. the synthetic market of the paper's size (3,569 instruments x 730 days of 240 one-minute bars, about 2.6 million
   instrument-days) written shard by shard (``synthetic_shards``): wall time, disk size, peak RSS;
2. TWAP and the Oracle evaluated on every order of it, one shard at a time: orders/s and peak RSS;
3. evaluation orders/s in one process against Ray with ``--workers`` workers (a local cluster), on the first
   ``--ray-shards`` shards, in one run: the speed-up;
4. the A-share 1-minute preset built as shards (``preset_shards``) against today's in-memory build: time and peak RSS
   (skipped when ../shared/data is absent).

``--instruments`` and ``--days`` build a fraction of the paper's market (with the extrapolation printed) when the disk
cannot hold it; the shards are deleted at the end unless ``--keep`` (only what the script wrote: ``--out`` itself stays).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PAPER_INSTRUMENTS, PAPER_DAYS = 3569, 730

RUN = """
import json, resource, sys, time
{body}
print(json.dumps({{**result, "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}}))
"""
BUILD = """
from order_exec_gym.data.shards import synthetic_shards
started = time.perf_counter()
market = synthetic_shards(sys.argv[1], n_symbols=int(sys.argv[2]), n_days=int(sys.argv[3]), symbols_per_shard=25)
result = {"seconds": time.perf_counter() - started, "episodes": len(market), "shards": market.n_shards}
"""
EVALUATE = """
from order_exec_gym.evaluation import evaluate
result = {}
for agent in ("TWAP", "Oracle"):
    started = time.perf_counter()
    orders = evaluate(agent, sys.argv[1], "all").orders.height
    result[agent] = {"seconds": time.perf_counter() - started, "orders": orders}
"""
PARALLEL = """
import ray
from order_exec_gym.data.shards import ShardedMarket
from order_exec_gym.evaluation import evaluate
subset = ShardedMarket.open(sys.argv[1])
workers = int(sys.argv[2])
started = time.perf_counter()
one = evaluate("Oracle", subset, "all")
single = time.perf_counter() - started
ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
evaluate("TWAP", subset, "all", workers=workers)  # start the workers
started = time.perf_counter()
many = evaluate("Oracle", subset, "all", workers=workers)
parallel = time.perf_counter() - started
assert many.orders.equals(one.orders)
result = {"orders": one.orders.height, "single": single, "ray": parallel}
"""
PRESET_SHARDS = """
from order_exec_gym.data.shards import preset_shards
started = time.perf_counter()
market = preset_shards("ashare-1min", sys.argv[1])
result = {"seconds": time.perf_counter() - started, "episodes": len(market), "shards": market.n_shards}
"""
PRESET_MEMORY = """
from order_exec_gym.data.dataset import MarketDataset
started = time.perf_counter()
market = MarketDataset.from_preset("ashare-1min", cache=False)
result = {"seconds": time.perf_counter() - started, "episodes": len(market)}
"""


def run(body: str, *args: str) -> dict:
    """One phase in a fresh process: its printed result and its peak RSS."""
    done = subprocess.run([sys.executable, "-c", RUN.format(body=body), *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def disk_gib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instruments", type=int, default=PAPER_INSTRUMENTS)
    parser.add_argument("--days", type=int, default=PAPER_DAYS)
    parser.add_argument("--workers", type=int, default=2, help="Ray workers of the speed-up measurement")
    parser.add_argument("--ray-shards", type=int, default=8, help="shards (25 instruments each) of the speed-up run")
    parser.add_argument("--out", type=Path, default=None, help="where the shards go (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the shards")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="scale-"))
    root.mkdir(parents=True, exist_ok=True)
    written = [root / name for name in ("synthetic", "subset", "ashare")]  # what this script writes, and deletes
    fraction = args.instruments * args.days / (PAPER_INSTRUMENTS * PAPER_DAYS)
    try:
        market = root / "synthetic"
        build = run(BUILD, str(market), str(args.instruments), str(args.days))
        size = disk_gib(market)
        print(f"1. synthetic market {args.instruments:,} x {args.days} days ({fraction:.1%} of the paper's): "
              f"{build['episodes']:,} instrument-days in {build['shards']} shards, {build['seconds'] / 60:.1f} min, "
              f"{size:.1f} GiB on disk, peak RSS {build['peak_gib']:.2f} GiB")  # fmt: skip
        if fraction < 1:
            print(f"   the paper's size, extrapolated: {build['seconds'] / fraction / 60:.0f} min, {size / fraction:.1f} GiB")
        evaluation = run(EVALUATE, str(market))
        for agent in ("TWAP", "Oracle"):
            done = evaluation[agent]
            print(f"2. {agent:<6} on every order: {done['orders']:,} orders in {done['seconds']:.0f} s = "
                  f"{done['orders'] / done['seconds']:,.0f} orders/s (peak RSS {evaluation['peak_gib']:.2f} GiB)")  # fmt: skip
        subset = root / "subset"
        subset_build = run(BUILD, str(subset), str(25 * args.ray_shards), str(args.days))
        parallel = run(PARALLEL, str(subset), str(args.workers))
        single, ray = parallel["orders"] / parallel["single"], parallel["orders"] / parallel["ray"]
        print(f"3. Oracle on {parallel['orders']:,} orders ({subset_build['shards']} shards): one process "
              f"{single:,.0f} orders/s, Ray with {args.workers} workers {ray:,.0f} orders/s: {ray / single:.2f}x")  # fmt: skip
        from order_exec_gym.data.readers import shared_data_dir

        if shared_data_dir() is None:
            print("4. skipped: no ../shared/data")
            return
        shards = run(PRESET_SHARDS, str(root / "ashare"))
        memory = run(PRESET_MEMORY)
        print(f"4. ashare-1min ({memory['episodes']:,} stock-days): in memory {memory['seconds']:.1f} s, peak RSS "
              f"{memory['peak_gib']:.2f} GiB; as {shards['shards']} shards {shards['seconds']:.1f} s, peak RSS "
              f"{shards['peak_gib']:.2f} GiB")  # fmt: skip
    finally:
        if not args.keep:
            for path in written:
                shutil.rmtree(path, ignore_errors=True)
            if args.out is None:
                root.rmdir()


if __name__ == "__main__":
    main()
