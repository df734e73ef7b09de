"""Data loading: cold load + episode build, cached load, peak RSS, episodes built and dropped.

Run: ``python benchmarks/data_loading.py [--preset ashare-1min]``. Each phase runs in a fresh process so its
peak RSS is its own; the cache lives in a temporary directory, so the cold run is really cold.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

PHASE = """
import json, resource, sys, time
t0 = time.perf_counter()
from order_exec_gym.data.dataset import MarketDataset
t1 = time.perf_counter()
dataset = MarketDataset.from_preset(sys.argv[1], cache=sys.argv[2])
touched = float(dataset.bars["price"].sum())  # read every bar, so a memory-mapped load is not free
t2 = time.perf_counter()
print(json.dumps({
    "seconds": t2 - t1, "import_seconds": t1 - t0, "episodes": len(dataset), "report": dataset.report,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def run_phase(preset: str, cache: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PHASE, preset, cache], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="ashare-1min")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        cold = run_phase(args.preset, cache)
        cached = run_phase(args.preset, cache)
    print(f"preset {args.preset}: {cold['episodes']:,} episodes built")
    for reason, count in cold["report"].items():
        print(f"  {reason}: {count:,}")
    print(f"cold load + build : {cold['seconds']:6.2f} s   peak RSS {cold['peak_rss_mib']:7,.0f} MiB")
    print(f"cached load       : {cached['seconds']:6.2f} s   peak RSS {cached['peak_rss_mib']:7,.0f} MiB")
    print(f"(package import, not counted above: {cold['import_seconds']:.2f} s)")


if __name__ == "__main__":
    main()
