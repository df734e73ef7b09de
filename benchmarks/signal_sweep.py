"""Does oracle policy distillation help where the truth is known? A sweep over the synthetic market's public signal.

The synthetic market's ``signal`` makes each session reverse ``signal`` times its overnight gap
(:mod:`order_exec_gym.data.synthetic`): 0 leaves nothing to learn from public information; the ``PublicBound``
baseline trades on what the model makes predictable and tells how much of the Oracle's gain a public trader can
reach. For every signal level and seed, on the paper's settings (``PAPER_CONFIG``, sell orders) and the paper's GRU
network, with equal budgets: the privileged teacher, the OPD student for each mu, the same network without
distillation (RecurrentPPO, mu = 0), each chosen on the valid split (:func:`sb3_distill.experiment.run_trial`); and
TWAP (continuous: the exact schedule), the PublicBound and the Oracle (in the agents' levels). Everything is evaluated
on every order of the held-out test days. Trials (signal x seed) run one after the other, or with ``--ray`` as Ray
Tune trials in parallel (a local cluster of ``--workers`` CPUs, or the cluster at ``--address``).

Writes to ``--out`` (default docs/results/signal_sweep/) tables.md (the table per signal: PA, reward, GLR, paired CIs
against TWAP, the control and the public bound, resampling seeds and days together; share of the public bound
reached; steps to reach half the public bound's valid PA), signal.json, and two plots: PA against signal for each
agent, and the valid-split learning curves of the students and the control at the middle signal. It writes nothing
else: docs/SIGNAL.md, the written analysis, links to these files and is never rewritten.

    python benchmarks/signal_sweep.py --ray                  # the full sweep, 2 trials at a time (about 50 min)
    python benchmarks/signal_sweep.py --ray --address auto   # on an existing Ray cluster
    python benchmarks/signal_sweep.py --quick --out /tmp/s   # a CI-size smoke run
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch as th  # noqa: E402

from order_exec_gym import PAPER_CONFIG  # noqa: E402
from order_exec_gym.data.dataset import MarketDataset  # noqa: E402
from order_exec_gym.evaluation import EvaluationResult, evaluate  # noqa: E402
from sb3_distill.experiment import CONTROL, TEACHER, Experiment, Trial, compare_runs, run_trials  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: The experiment's folder of generated files (docs/SIGNAL.md, written by hand, links to it).
OUT = ROOT / "docs" / "results" / "signal_sweep"
#: The page of the sweep's tables, in ``OUT``.
TABLES = "tables.md"
SETTINGS = {**PAPER_CONFIG, "side": "sell"}
BASELINES = {"TWAP": ("TWAP", {"action_type": "continuous"}), "PublicBound": ("PublicBound", {}), "Oracle": ("Oracle", {})}


@dataclass(frozen=True)
class Sweep:
    """The sweep's signal levels, seeds, market and experiment."""

    signals: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    market: dict[str, Any] = field(default_factory=lambda: dict(n_symbols=30, n_days=200, seed=0))
    experiment: Experiment = Experiment(
        SETTINGS, steps=dict(teacher=70_000, student=70_000, ppo=70_000), mus=(0.01, 0.1, 1.0), network="gru",
        eval_freq=10_000,
    )


QUICK = Sweep(
    signals=(0.0, 4.0),
    seeds=(0,),
    market=dict(n_symbols=4, n_days=30, seed=0),
    experiment=Experiment(
        SETTINGS, steps=dict(teacher=1_024, student=1_024, ppo=1_024), mus=(0.01, 1.0), network="gru", n_envs=8,
        eval_freq=512,
    ),
)


@dataclass(frozen=True)
class Measured:
    """What the sweep measured at one signal level.

    :param rows: :func:`~sb3_distill.experiment.compare_runs`' rows of every agent on the test days
    :param curves: the valid-day learning curves (:func:`learning_curve`) of the students and the control
    :param public_valid: the PublicBound's mean PA on the valid days
    :param logs: per ``"seedS"``, that trial's training log
    """

    rows: list[dict[str, Any]]
    curves: dict[str, tuple[np.ndarray, np.ndarray]]
    public_valid: float
    logs: dict[str, dict[str, Any]]


def market(sweep: Sweep, signal: float) -> MarketDataset:
    """The sweep's synthetic market at ``signal`` (built once per process)."""
    return MarketDataset.synthetic(**sweep.market, signal=signal)


def baselines(sweep: Sweep, signal: float, split: str) -> dict[str, EvaluationResult]:
    return {
        name: evaluate(agent, market(sweep, signal), split, config={**SETTINGS, **extra})
        for name, (agent, extra) in BASELINES.items()
    }


def learning_curve(trials: list[Trial], agent: str) -> tuple[np.ndarray, np.ndarray]:
    """Valid PA against env steps: the steps of the evaluations and each seed's PA there, ``(steps, (S, K))``."""
    histories = [t.log[agent]["valid_history"] for t in trials]
    steps = np.array([s for s, _ in histories[0]])
    return steps, np.array([[summary["pa_mean"] for _, summary in history[: len(steps)]] for history in histories])


def steps_to_reach(steps: np.ndarray, pa: np.ndarray, level: float) -> int | None:
    """The first evaluation step at which the seeds' mean valid PA reaches ``level`` (None: never)."""
    reached = np.flatnonzero(pa.mean(axis=0) >= level)
    return int(steps[reached[0]]) if len(reached) else None


def ci(row: dict[str, Any], reference: str) -> str:
    if f"vs_{reference}" not in row:
        return ""
    diff, low, high = row[f"vs_{reference}"]["seeds_days"]
    mark = " ✓" if low > 0 else (" ✗" if high < 0 else "")
    return f"{diff:+.2f} [{low:+.2f}, {high:+.2f}]{mark}"


def section(signal: float, rows: list[dict], curves: dict[str, tuple], public_valid: float) -> list[str]:
    public = next(row["pa_mean"] for row in rows if row["agent"] == "PublicBound")
    lines = [
        f"### signal = {signal:g}",
        "",
        "| agent | PA (bps) | reward ×1e4 | GLR | PA − TWAP | PA − RecurrentPPO | PA − PublicBound | share of public bound "
        "| PA per seed | valid steps to ½ public bound |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        share = f"{row['pa_mean'] / public:.0%}" if abs(public) > 1e-9 else ""
        per_seed = " / ".join(f"{p:+.1f}" for p in row["seed_pa"]) if row["n_seeds"] > 1 else ""
        reach = ""
        if row["agent"] in curves:
            first = steps_to_reach(*curves[row["agent"]], public_valid / 2)
            reach = f"{first:,}" if first is not None else "never"
        lines.append(
            f"| {row['agent']} | {row['pa_mean']:+.2f} | {1e4 * row['mean_reward']:+.2f} | {row['glr']:.2f} | "
            f"{ci(row, 'TWAP')} | {ci(row, CONTROL)} | {ci(row, 'PublicBound')} | {share} | {per_seed} | {reach} |"
        )
    return [*lines, ""]


def plot_pa(summary: dict[float, list[dict]], path: Path) -> Path:
    figure, axis = plt.subplots(figsize=(7, 4.5))
    agents = [row["agent"] for row in next(iter(summary.values()))]
    signals = sorted(summary)
    for agent in agents:
        pa = [next(r["pa_mean"] for r in summary[s] if r["agent"] == agent) for s in signals]
        style = "--" if agent in BASELINES else "-"
        axis.plot(signals, pa, style, marker="o", label=agent)
    axis.set_xlabel("signal (share of the overnight gap the session reverses)")
    axis.set_ylabel("mean PA on the test days (bps)")
    axis.set_title("Price advantage against the public signal")
    return save(figure, axis, path)


def plot_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], public_valid: float, signal: float, path: Path) -> Path:
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for agent, (steps, pa) in curves.items():
        line = axis.plot(steps, pa.mean(axis=0), marker=".", label=agent)[0]
        axis.fill_between(steps, pa.min(axis=0), pa.max(axis=0), color=line.get_color(), alpha=0.15)
    axis.axhline(public_valid, color="black", linestyle="--", label="PublicBound")
    axis.set_xlabel("environment steps")
    axis.set_ylabel("mean PA on the valid days (bps)")
    axis.set_title(f"Learning curves at signal = {signal:g} (mean of the seeds, band: min..max)")
    return save(figure, axis, path)


def save(figure: plt.Figure, axis: plt.Axes, path: Path) -> Path:
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def run_sweep(
    sweep: Sweep, ray: bool = False, address: str | None = None, workers: int = 2
) -> dict[float, list[Trial]]:
    """Every trial (signal x seed) of ``sweep``, one after the other or as Ray Tune trials; by signal, by seed."""
    jobs = [(signal, seed) for signal in sweep.signals for seed in sweep.seeds]
    done = run_trials([(sweep.experiment, market(sweep, signal), seed) for signal, seed in jobs], ray, address, workers)
    trials: dict[float, list[Trial]] = {signal: [] for signal in sweep.signals}
    for (signal, _), result in zip(jobs, done, strict=True):
        trials[signal].append(result)
    return {signal: sorted(runs, key=lambda t: t.seed) for signal, runs in trials.items()}


def measure(sweep: Sweep, signal: float, trials: list[Trial]) -> Measured:
    """The baselines and ``trials`` (one signal level's) compared on the test days, and the valid learning curves."""
    runs = {name: [result] for name, result in baselines(sweep, signal, "test").items()}
    for trial in trials:
        for agent, result in trial.results.items():
            runs.setdefault(agent, []).append(result)
    public = evaluate("PublicBound", market(sweep, signal), "valid", config={**SETTINGS, **BASELINES["PublicBound"][1]})
    students = [a for a in sweep.experiment.agents if a != TEACHER]
    return Measured(
        rows=compare_runs(runs, references=("TWAP", CONTROL, "PublicBound")),
        curves={agent: learning_curve(trials, agent) for agent in students},
        public_valid=public.summary["pa_mean"],
        logs={f"seed{t.seed}": t.log for t in trials},
    )


def header(sweep: Sweep, wall: float, how: str) -> list[str]:
    """The tables' title and how they were made (``how``: how the trials ran)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    experiment = sweep.experiment
    return [
        "# Distillation where the truth is known: the tables",
        "",
        "Written by `benchmarks/signal_sweep.py` (a rerun rewrites this page; the analysis is in `docs/SIGNAL.md`). "
        f"Regenerate with `python benchmarks/signal_sweep.py`. Market: `MarketDataset.synthetic({', '.join(f'{k}={v}' for k, v in sweep.market.items())}, signal=...)`"
        f" (70% of the days train, 15% valid, 15% test); settings: `PAPER_CONFIG`, sell orders; "
        f"{len(sweep.seeds)} seeds; steps per agent and seed: {', '.join(f'{k} {v:,}' for k, v in experiment.steps.items())};"
        f" network {experiment.network.upper()} for the students and the control; checkpoints chosen on the valid days' "
        f"{experiment.select} every {experiment.eval_freq:,} steps. TWAP acts with continuous ratios (the exact "
        "schedule); the PublicBound and the Oracle in the agents' levels. CIs: paired 95% bootstrap of the mean PA "
        "difference per order, resampling the seeds and the test days together (2,000 resamples); ✓ / ✗: the interval "
        "is above / below 0. Share of public bound: PA / the PublicBound's PA. Valid steps to ½ public bound: the "
        "first evaluation at which the seeds' mean PA on the valid days reaches half the PublicBound's there. "
        f"Wall time {wall / 60:.1f} min ({how}); peak RSS of the main process {rss:.2f} GiB.",
        "",
    ]


def write_results(sweep: Sweep, measured: dict[float, Measured], out: Path, wall: float, how: str) -> Path:
    """Write the sweep's tables.md, signal.json and two plots to ``out`` and return the path of tables.md.

    :param measured: every signal level of ``sweep``'s measurements
    :param wall: the sweep's wall time, in seconds
    :param how: how the trials ran, for the tables' header
    """
    out.mkdir(parents=True, exist_ok=True)
    middle = sweep.signals[len(sweep.signals) // 2]
    plots = [
        plot_pa({signal: measured[signal].rows for signal in sweep.signals}, out / "signal_pa.png"),
        plot_curves(measured[middle].curves, measured[middle].public_valid, middle, out / "signal_learning_curves.png"),
    ]
    lines: list[str] = []
    for signal in sweep.signals:
        lines += section(signal, measured[signal].rows, measured[signal].curves, measured[signal].public_valid)
    path = out / TABLES
    path.write_text("\n".join(header(sweep, wall, how) + lines + [f"![{p.stem}]({p.name})" for p in plots] + [""]))
    rows = {f"{signal:g}": measured[signal].rows for signal in sweep.signals}
    logs = {f"{signal:g}": measured[signal].logs for signal in sweep.signals}
    dump = {"rows": rows, "logs": logs, "wall_seconds": wall}
    (out / "signal.json").write_text(json.dumps(dump, indent=1, default=float))
    return path


def parser() -> argparse.ArgumentParser:
    """The command line (``--out`` defaults to :data:`OUT`)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny budgets on a small market (CI smoke run)")
    parser.add_argument("--ray", action="store_true", help="run the trials as Ray Tune trials, in parallel")
    parser.add_argument("--address", default=None, help="an existing Ray cluster (default: a local one)")
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray cluster")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where {TABLES}, signal.json and the plots go")
    return parser


def main() -> None:
    args = parser().parse_args()
    sweep = QUICK if args.quick else Sweep()
    started = time.perf_counter()
    th.set_num_threads(1)
    trials = run_sweep(sweep, args.ray, args.address, args.workers)
    measured = {signal: measure(sweep, signal, trials[signal]) for signal in sweep.signals}
    how = f"Ray Tune, {args.workers} trials at a time" if args.ray else "one trial at a time"
    path = write_results(sweep, measured, args.out, time.perf_counter() - started, how)
    print(path.read_text(), flush=True)


if __name__ == "__main__":
    main()
