"""The benchmark: frozen, versioned tasks, one normalised score, results files and a leaderboard.

::

    from order_exec_gym.benchmark import TASKS, run, save_results, load, leaderboard, markdown

    results = run(model, "my agent", ["OrderExec/Signal2-v0"])   # any SB3 model, baseline name or callable
    save_results(results, "my_agent.json")
    tasks, rows = leaderboard(load(["my_agent.json", "docs/results/bench_reference/TWAP.json.gz"]))
    print(markdown(tasks, rows))

The same from the command line: ``order-exec bench list | run | compare`` (docs/BENCHMARK.md).
"""

from order_exec_gym.benchmark.leaderboard import check_results, leaderboard, load, markdown, performance_profile
from order_exec_gym.benchmark.runner import FORMAT, available, load_results, run, save_results
from order_exec_gym.benchmark.scoring import aggregate, iqm, normalized_score, probability_of_improvement
from order_exec_gym.benchmark.tasks import TASKS, Registry, Task, TaskVersionError

__all__ = [
    "FORMAT", "TASKS", "Registry", "Task", "TaskVersionError", "aggregate", "available", "check_results", "iqm",
    "leaderboard", "load", "load_results", "markdown", "normalized_score", "performance_profile",
    "probability_of_improvement", "run", "save_results",
]
