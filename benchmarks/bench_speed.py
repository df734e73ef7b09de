"""How long ``order-exec bench run`` takes for each baseline on every synthetic task (target: 60 s or less on 2
cores). Each baseline runs in a fresh process, so the synthetic markets' build counts once per agent, as for a user.

Run: ``python benchmarks/bench_speed.py``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from order_exec_gym.baselines import BASELINES
from order_exec_gym.benchmark import TASKS


def main() -> None:
    tasks = ",".join(task.id for task in TASKS.current() if "synthetic" in task.market)
    print(f"order-exec bench run BASELINE --tasks {tasks}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in BASELINES:
            started = time.perf_counter()
            command = [sys.executable, "-m", "order_exec_gym.cli", "bench", "run", name, "--tasks", tasks,
                       "--out", str(Path(tmp) / f"{name}.json"), "--no-progress"]  # fmt: skip
            subprocess.run(command, check=True, capture_output=True)
            print(f"  {name:<14} {time.perf_counter() - started:6.1f} s (process start and imports included)")


if __name__ == "__main__":
    main()
