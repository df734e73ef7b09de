"""Results files side by side: checked against the registry, aggregated, tabulated and plotted.

:func:`check_results` refuses a results file whose task is out of date (naming the current id), whose task hash
differs from the registry's, whose orders do not hash to it (a file cannot be scored against other orders), whose
references (TWAP, the Oracle) are not the task's frozen ones, or whose runs are not one per evaluation seed over
every order. Every score shown is recomputed from the per-order PAs; the agent's own PAs are what its results file
claims (a submission says how to reproduce them: docs/BENCHMARK.md).
:func:`leaderboard` ranks agents by the IQM of their scores over the tasks, public track first,
with each task's score, the mean, the intervals and each agent's probability of improvement over TWAP; an agent
that did not run (or failed) a task gets no aggregate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from order_exec_gym.benchmark.runner import PRIVILEGED, PUBLIC, load_results
from order_exec_gym.benchmark.scoring import TaskScores, aggregate, probability_of_improvement
from order_exec_gym.benchmark.tasks import TASKS, Registry, TaskVersionError, content_hash


def check_results(results: Mapping[str, Any], source: str, registry: Registry = TASKS) -> None:
    """Raise ``ValueError`` naming ``source`` and the task when a task of ``results`` is not the registry's."""
    for task_id, entry in results["tasks"].items():
        try:
            task = registry.get(task_id)
        except (KeyError, TaskVersionError) as error:
            raise ValueError(f"{source}: {error.args[0]}") from None
        if entry["content_hash"] != task.content_hash:
            raise ValueError(f"{source}: task {task_id} was scored on orders hashed {entry['content_hash']}, the "
                             f"registry's are {task.content_hash}: scores of other orders do not compare")  # fmt: skip
        if content_hash(task, entry["orders"], entry["market_fingerprint"]) != task.content_hash:
            raise ValueError(f"{source}: task {task_id}'s orders or market in the file are not the task's "
                             "(changed after the run): its scores cannot be checked")  # fmt: skip
        task.check_references(entry["references"], f"{source}: ")
        n_orders = len(entry["orders"]["symbol"])
        if entry["status"] == "ok":
            seeds = [run["seed"] for run in entry["runs"]]
            lengths = {len(run[key]) for run in entry["runs"] for key in ("price_advantage", "reward")}
            if seeds != list(task.seeds) or lengths != {n_orders}:
                raise ValueError(f"{source}: task {task_id} holds runs of seeds {seeds} over {sorted(lengths)} orders; "
                                 f"the task's are seeds {list(task.seeds)} over {n_orders} orders")  # fmt: skip


def task_scores(entry: Mapping[str, Any], bound: str = "Oracle") -> TaskScores:
    """One task's per-order PAs of the agent's runs and of the references (``bound`` at 100), with the orders'
    days (the bootstrap resamples days)."""
    return TaskScores(
        pa=np.array([run["price_advantage"] for run in entry["runs"]], dtype=np.float64),
        low=np.array(entry["references"]["TWAP"], dtype=np.float64),
        high=np.array(entry["references"][bound], dtype=np.float64),
        days=np.array(entry["orders"]["date"]),
    )


def load(paths: Sequence[str | Path], registry: Registry = TASKS) -> list[dict[str, Any]]:
    """The results files, each checked (:func:`check_results`); two files of one agent name are refused."""
    loaded, names = [], {}
    for path in paths:
        results = load_results(path)
        check_results(results, str(path), registry)
        name = results["agent"]["name"]
        if name in names:
            raise ValueError(f"{path} and {names[name]} both hold agent {name!r}: give each run its own name")
        names[name] = path
        loaded.append(results)
    return loaded


def leaderboard(
    runs: Sequence[Mapping[str, Any]], tasks: Sequence[str] | None = None, seed: int = 0
) -> tuple[list[str], list[dict[str, Any]]]:
    """``(tasks, rows)``: the tasks (default: every task of any file), and one row per agent (name, track, each
    task's score, ``"failed"`` or None where not run, and where it completed every task the IQM and mean with 95%
    intervals and P(improvement over TWAP)), public track first, best IQM first."""
    tasks = sorted(tasks or set().union(*(run["tasks"] for run in runs)))
    if not tasks:
        raise ValueError("the results files hold no task")
    twap = next((run for run in runs if run["agent"]["name"] == "TWAP" and set(tasks) <= set(run["tasks"])), None)
    rows = []
    for run in runs:
        entries = {task: run["tasks"].get(task) for task in tasks}
        failed = {task: entry["reason"] for task, entry in entries.items() if entry is not None and entry["status"] != "ok"}
        row: dict[str, Any] = {
            "agent": run["agent"]["name"],
            "track": run["agent"]["track"],
            "description": run["agent"]["description"],
            "tasks": {  # each score recomputed from the orders, never read from the file
                task: None if entry is None else "failed" if task in failed else float(task_scores(entry).scores().mean())
                for task, entry in entries.items()
            },
            "failed": failed,
        }
        if not failed and None not in entries.values():
            scores = {task: task_scores(entry) for task, entry in entries.items()}
            row.update(aggregate(scores, seed=seed))
            if twap is not None and twap is not run:
                reference = {task: task_scores(twap["tasks"][task]) for task in tasks}
                row["p_improvement_vs_twap"] = probability_of_improvement(scores, reference, seed=seed)
        rows.append(row)
    rows.sort(key=lambda row: (row["track"] != PUBLIC, -row.get("iqm", (float("-inf"),))[0]))
    return tasks, rows


def markdown(tasks: list[str], rows: list[dict[str, Any]]) -> str:
    """The leaderboard as a Markdown table: one row per agent, the tracks apart."""
    short = [task.split("/")[1] for task in tasks]
    header = ["agent", "track", "IQM [95% CI]", "mean [95% CI]", "P(> TWAP) [95% CI]", *short]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        def interval(key: str, scale: float = 1.0) -> str:
            if key not in row:
                return "—"
            value, low, high = (scale * x for x in row[key])
            return f"{value:.1f} [{low:.1f}, {high:.1f}]" if scale == 1.0 else f"{value:.0f}% [{low:.0f}, {high:.0f}]"

        cells = [row["agent"], row["track"], interval("iqm"), interval("mean"), interval("p_improvement_vs_twap", 100.0)]
        cells += [_cell(row["tasks"][task]) for task in tasks]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        "",
        "Score: 100 (PA − PA_TWAP) / (PA_Oracle − PA_TWAP) on each task's frozen orders (0 = TWAP, 100 = the Oracle, "
        "the perfect-information optimum in the task's actions), the mean over the evaluation seeds; IQM and mean over "
        "seeds x tasks with stratified bootstrap intervals (runs and days resampled within each task); P(> TWAP): the "
        f"probability of improvement over TWAP. The {PRIVILEGED} track sees the future and is no rival to the public one. "
        "—: not run on that task (no aggregate unless every task was run).",
    ]
    for row in rows:
        for task, reason in row["failed"].items():
            notes.append(f"- {row['agent']} failed {task}: {reason}")
    return "\n".join(lines + notes) + "\n"


def _cell(score: float | str | None) -> str:
    return "—" if score is None else score if isinstance(score, str) else f"{score:.1f}"


def performance_profile(tasks: list[str], runs: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Plot each agent's performance profile (the share of its run x task scores above each threshold) to
    ``path``; agents that failed or did not run a task are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {}
    for run in runs:
        entries = [run["tasks"].get(task) for task in tasks]
        if any(entry is None or entry["status"] != "ok" for entry in entries):
            continue
        curves[run["agent"]["name"]] = np.concatenate([task_scores(entry).scores() for entry in entries])
    if not curves:
        raise ValueError("no agent completed every task: nothing to plot")
    everything = np.concatenate(list(curves.values()))
    thresholds = np.linspace(min(everything.min(), 0.0), max(everything.max(), 100.0), 300)
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, scores in curves.items():
        ax.plot(thresholds, (scores[None, :] > thresholds[:, None]).mean(axis=1), label=name)
    ax.set(xlabel="normalised score τ (0 = TWAP, 100 = Oracle)", ylabel="share of runs x tasks with score > τ",
           title=f"Performance profiles over {len(tasks)} tasks")  # fmt: skip
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
