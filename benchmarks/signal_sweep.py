"""Does oracle policy distillation help where the truth is known? A sweep over synthetic markets whose public
signal is known.

The markets (:data:`MARKETS`): the opening-gap fade at four levels (``signal`` makes each session reverse that share
of its overnight gap; 0 leaves nothing to learn from public information) and the harder regimes of
:data:`~order_exec_gym.data.synthetic.REGIMES` (a weak fade; an afternoon reversal of each instrument's own morning
move, net of a market factor). The ``PublicBound`` baseline trades on what the model makes predictable and tells how
much of the Oracle's gain a public trader can reach. For every market and seed, on the paper's settings
(``PAPER_CONFIG``, sell orders) and the paper's GRU network, with equal budgets: the privileged teacher, the OPD
student for each mu, the same network without distillation (RecurrentPPO, mu = 0, the control), each chosen on the
valid split (:func:`sb3_distill.experiment.run_trial`); and TWAP (continuous: the exact schedule), the PublicBound
and the Oracle (in the agents' levels), all evaluated on every order of the held-out test days. While they train,
the students' and the control's updates log the policy's entropy, the distillation loss ``L_d`` and the teacher
agreement (the control's teacher watches without teaching: its loss is unchanged).

Each market is a section of ``--out`` (default docs/results/signal_sweep/): ``NAME.json`` (the rows, the valid
learning curves, the training logs, the wall time and peak memory of its run) and ``NAME_training.png`` (valid PA,
teacher agreement and entropy against env steps). tables.md has every section present, each a table from its JSON
(PA, reward, GLR, paired CIs against TWAP, the control and the public bound resampling seeds and days together,
share of the public bound, steps to half the public bound on the valid days, the schedules' shape and what those
schedules earn given to the orders at random, the training logs, the chosen checkpoints), with ``signal_pa.png`` (PA
against the fade's level); a run rewrites its markets' sections only, so the markets can run in separate processes
and sessions. Finished trials are kept (``--trials``, outside the repository) so that adding seeds trains only the
new ones. It writes nothing else: docs/SIGNAL.md, the written analysis, links to these files and is never rewritten.

    python benchmarks/signal_sweep.py --markets weak-fade --seeds 0    # one market, one seed (about 30 min)
    python benchmarks/signal_sweep.py --markets weak-fade --seeds 0 1  # adds seed 1 (seed 0's trial is kept)
    python benchmarks/signal_sweep.py --ray                            # everything, 2 trials at a time (hours)
    python benchmarks/signal_sweep.py --quick --out /tmp/s             # a CI-size smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402
import numpy as np  # noqa: E402
import torch as th  # noqa: E402

from order_exec_gym import PAPER_CONFIG  # noqa: E402
from order_exec_gym.baselines import PublicBound  # noqa: E402
from order_exec_gym.data.dataset import MarketDataset  # noqa: E402
from order_exec_gym.data.resolve import default_cache_dir  # noqa: E402
from order_exec_gym.data.synthetic import REGIMES  # noqa: E402
from order_exec_gym.evaluation import EvaluationResult, evaluate  # noqa: E402
from order_exec_gym.metrics import ONE_STEP_THRESHOLD  # noqa: E402
from order_exec_gym.task import ExecutionTask  # noqa: E402
from sb3_distill.experiment import (  # noqa: E402
    CONTROL, TEACHER, TRAINING_LOGS, Experiment, Trial, compare_runs, how_run, late_means_text, peak_rss_gib,
    replace_file, run_kept_trials, training_curve,
)  # fmt: skip
from sb3_distill.experiment import trial_path as experiment_trial_path  # noqa: E402  (this module's takes a sweep)

ROOT = Path(__file__).resolve().parents[1]
#: The experiment's folder of generated files (docs/SIGNAL.md, written by hand, links to it).
OUT = ROOT / "docs" / "results" / "signal_sweep"
#: The page of every section's table, in ``OUT``.
TABLES = "tables.md"
SETTINGS = {**PAPER_CONFIG, "side": "sell"}
BASELINES = {"TWAP": ("TWAP", {"action_type": "continuous"}), "PublicBound": ("PublicBound", {}), "Oracle": ("Oracle", {})}
#: The public rule that waits for midday on the afternoon reversal (``PublicBound(wait=True)``).
WAITING = "PublicBound (waits for midday)"
#: The sweep's markets, by section name: options of ``MarketDataset.synthetic`` (beyond the size and seed).
MARKETS: dict[str, dict[str, float]] = {
    **{f"signal-{level:g}": {"signal": level} for level in (0.0, 1.0, 2.0, 4.0)},
    **REGIMES,
}


@dataclass(frozen=True)
class Sweep:
    """The sweep's markets (names of :data:`MARKETS`), seeds, market size and experiment."""

    markets: tuple[str, ...] = tuple(MARKETS)
    seeds: tuple[int, ...] = (0, 1, 2)
    size: dict[str, Any] = field(default_factory=lambda: dict(n_symbols=30, n_days=200, seed=0))
    experiment: Experiment = Experiment(
        SETTINGS, steps=dict(teacher=700_000, student=700_000, ppo=700_000), mus=(0.01, 0.1, 1.0), network="gru",
        eval_freq=25_000,
    )


QUICK = Sweep(
    markets=("signal-0", "signal-4", "afternoon-reversal"),
    seeds=(0,),
    size=dict(n_symbols=4, n_days=30, seed=0),
    experiment=Experiment(
        SETTINGS, steps=dict(teacher=1_024, student=1_024, ppo=1_024), mus=(0.01, 1.0), network="gru", n_envs=8,
        eval_freq=512,
    ),
)


def market(sweep: Sweep, name: str) -> MarketDataset:
    """The sweep's synthetic market ``name`` (a key of :data:`MARKETS`)."""
    if name not in MARKETS:
        raise ValueError(f"unknown market {name!r}; choose from {list(MARKETS)}")
    return MarketDataset.synthetic(**sweep.size, **MARKETS[name])


def baselines(data: MarketDataset, split: str) -> dict[str, EvaluationResult]:
    """TWAP, the PublicBound and the Oracle on ``split``, and, on the afternoon reversal without the fade, the public
    rule that waits for midday (:data:`WAITING`, the stronger public rule there)."""
    results = {name: evaluate(agent, data, split, config={**SETTINGS, **extra}) for name, (agent, extra) in BASELINES.items()}
    if data.model.get("reversal", 0.0) > 0 and data.model["signal"] == 0:
        results[WAITING] = evaluate(PublicBound(ExecutionTask(data, split, SETTINGS), wait=True), data, split, config=SETTINGS)
    return results


def learning_curve(trials: list[Trial], agent: str) -> dict[str, list]:
    """Valid PA against env steps: ``{"steps": (K,), "pa": (S, K)}``, each seed's PA at the evaluations."""
    histories = [t.log[agent]["valid_history"] for t in trials]
    steps = [s for s, _ in histories[0]]
    return {"steps": steps, "pa": [[summary["pa_mean"] for _, summary in h[: len(steps)]] for h in histories]}


def steps_to_reach(steps: list[int], pa: list[list[float]], level: float) -> int | None:
    """The first evaluation step at which the seeds' mean valid PA reaches ``level`` (None: never)."""
    reached = np.flatnonzero(np.mean(pa, axis=0) >= level)
    return int(steps[reached[0]]) if len(reached) else None


def trial_path(trials: Path, sweep: Sweep, name: str, seed: int) -> Path:
    """Where a finished trial of ``sweep`` on market ``name`` with ``seed`` is kept
    (:func:`~sb3_distill.experiment.trial_path` of the market's options and the experiment)."""
    return experiment_trial_path(trials, name, seed, (sweep.size, MARKETS[name], sweep.experiment))


def run_sweep(
    sweep: Sweep,
    ray: bool = False,
    address: str | None = None,
    workers: int = 2,
    trials: Path | None = None,
    parallel_agents: int = 1,
) -> tuple[dict[str, list[Trial]], int]:
    """Every trial (market x seed) of ``sweep``, one after the other or as Ray Tune trials: by market, by seed, and
    how many were kept from earlier runs.

    :param trials: a folder that keeps each finished trial (:func:`trial_path`) and gives it back to a later run
        instead of training it again (None: keep nothing)
    :param parallel_agents: processes of each trial for its agents after the teacher
        (:func:`~sb3_distill.experiment.run_trial`)
    """
    jobs = [(name, seed) for name in sweep.markets for seed in sweep.seeds]
    markets = {name: market(sweep, name) for name in sweep.markets}
    paths = [trial_path(trials, sweep, *job) for job in jobs] if trials is not None else None
    done, kept = run_kept_trials([(sweep.experiment, markets[name], seed) for name, seed in jobs], paths, ray=ray,
                                 address=address, workers=workers, parallel_agents=parallel_agents)  # fmt: skip
    finished = dict(zip(jobs, done, strict=True))
    return {name: [finished[(name, seed)] for seed in sorted(sweep.seeds)] for name in sweep.markets}, kept


def measure(sweep: Sweep, name: str, trials: list[Trial]) -> dict[str, Any]:
    """One market's section: the baselines and ``trials`` compared on the test days (rows), the valid learning
    curves and the training logs of the students and the control, and the PublicBound's valid PA."""
    data = market(sweep, name)
    runs = {agent: [result] for agent, result in baselines(data, "test").items()}
    for trial in trials:
        for agent, result in trial.results.items():
            runs.setdefault(agent, []).append(result)
    public = evaluate("PublicBound", data, "valid", config={**SETTINGS, **BASELINES["PublicBound"][1]})
    learners = [agent for agent in sweep.experiment.agents if agent != TEACHER]
    training = {
        agent: {label: curve for label in TRAINING_LOGS
                if (curve := training_curve([t.log[agent]["train_history"] for t in trials], label))}
        for agent in sweep.experiment.agents
    }  # fmt: skip
    logs = {agent: [{k: v for k, v in t.log[agent].items() if not k.endswith("history")} for t in trials]
            for agent in sweep.experiment.agents}  # fmt: skip
    return {
        "market": name,
        "options": {**sweep.size, **MARKETS[name]},
        "rows": compare_runs(runs, references=("TWAP", CONTROL, "PublicBound", WAITING)),
        "curves": {agent: learning_curve(trials, agent) for agent in learners},
        "training": training,
        "public_valid": float(public.summary["pa_mean"]),
        "logs": logs,
        "seeds": [t.seed for t in trials],
        "steps": dict(sweep.experiment.steps),
        "mus": list(sweep.experiment.mus),
        "eval_freq": sweep.experiment.eval_freq,
    }


def ci(row: dict[str, Any], reference: str) -> str:
    if f"vs_{reference}" not in row:
        return ""
    diff, low, high = row[f"vs_{reference}"]["seeds_days"]
    mark = " ✓" if low > 0 else (" ✗" if high < 0 else "")
    return f"{diff:+.2f} [{low:+.2f}, {high:+.2f}]{mark}"


def section(measured: dict[str, Any]) -> str:
    """One market's Markdown section, from its JSON (:func:`write_section`)."""
    rows, curves, public_valid = measured["rows"], measured["curves"], measured["public_valid"]
    public = next(row["pa_mean"] for row in rows if row["agent"] == "PublicBound")
    oracle = next(row["pa_mean"] for row in rows if row["agent"] == "Oracle")
    options = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in measured["options"].items())
    steps = ", ".join(f"{k} {v:,}" for k, v in measured["steps"].items())
    lines = [
        f"## {measured['market']}",
        "",
        f"`MarketDataset.synthetic({options})`; seeds {', '.join(map(str, measured['seeds']))}; steps per agent and "
        f"seed: {steps}; valid evaluations every {measured['eval_freq']:,} steps. The PublicBound earns "
        f"{public / oracle:.1%} of the Oracle's PA on the test days, {public_valid:+.2f} bps on the valid days. "
        f"Wall time of its last run {measured['wall_seconds'] / 60:.1f} min ({measured['how']}), peak RSS of its largest "
        f"process {measured['peak_rss_gib']:.2f} GiB.",
        "",
        "| agent | PA (bps) | reward ×1e4 | GLR | PA − TWAP | PA − RecurrentPPO | PA − PublicBound | share of public bound "
        f"| PA per seed | valid steps to ½ public bound | orders in one step (≥ {ONE_STEP_THRESHOLD:.0%}) "
        "| mean share per step (%) | PA of those shares at random | entropy, L_d, agreement (last tenth) "
        "| checkpoint per seed (k steps) | train min/seed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    logs, training, missing = measured["logs"], measured["training"], no_public_signal(measured)
    for row in rows:
        agent = row["agent"]
        share = f"{row['pa_mean'] / public:.0%}" if abs(public) > 1e-9 else ""
        per_seed = " / ".join(f"{p:+.1f}" for p in row["seed_pa"]) if row["n_seeds"] > 1 else ""
        reach = ""
        if agent in curves:
            reach = "–" if missing else steps_text(steps_to_reach(curves[agent]["steps"], curves[agent]["pa"], public_valid / 2))
        profile = " ".join(f"{100 * s:.0f}" for s in row["step_shares"])
        shuffled = f"{row['shuffled_pa']:+.2f}" if "shuffled_pa" in row else ""
        logged = late_means_text(training[agent]) if agent in training else ""
        minutes = f"{np.mean([log['seconds'] for log in logs[agent]]) / 60:.1f}" if agent in logs else ""
        chosen = " / ".join(f"{log['selected_at'] / 1000:.0f}" for log in logs[agent]) if agent in logs else ""
        lines.append(
            f"| {agent} | {row['pa_mean']:+.2f} | {1e4 * row['mean_reward']:+.2f} | {row['glr']:.2f} | "
            f"{ci(row, 'TWAP')} | {ci(row, CONTROL)} | {ci(row, 'PublicBound')} | {share} | {per_seed} | {reach} | "
            f"{row['one_step_share']:.0%} | {profile} | {shuffled} | {logged} | {chosen} | {minutes} |"
        )
    name = measured["market"]
    return "\n".join([*lines, "", *target(measured), "", f"![{name} training]({name}_training.png)", ""])


def steps_text(steps: int | None) -> str:
    return "never" if steps is None else f"{steps:,}"


def no_public_signal(measured: dict[str, Any]) -> str:
    """Why the market has no public signal to learn ("" where it has one): it has one where the PublicBound is above
    TWAP beyond noise on the test days (the seeds-and-days interval above 0) and above 0 on the valid days. Without
    one, half the public bound is a level within noise of TWAP's, and reaching it says nothing about learning."""
    public = next((row for row in measured["rows"] if row["agent"] == "PublicBound"), None)
    if public is None or "vs_TWAP" not in public:
        raise ValueError(f"market {measured.get('market')!r} has no PublicBound row compared with TWAP")
    if public["vs_TWAP"]["seeds_days"][1] <= 0:
        return f"the PublicBound is not above TWAP beyond noise on the test days, {ci(public, 'TWAP')}"
    if measured["public_valid"] <= 0:
        return f"the PublicBound's valid PA is {measured['public_valid']:+.2f} bps"
    return ""


def target(measured: dict[str, Any]) -> list[str]:
    """Issue 21's target, per student: does it beat the control (the seeds-and-days interval of the PA difference
    above 0), and does it reach half the public bound on the valid days in at most half the control's steps (defined
    only where the market has a public signal, :func:`no_public_signal`)?"""
    rows, curves, half = {row["agent"]: row for row in measured["rows"]}, measured["curves"], measured["public_valid"] / 2
    control = steps_to_reach(curves[CONTROL]["steps"], curves[CONTROL]["pa"], half)
    missing, lines = no_public_signal(measured), []
    for agent in curves:
        if agent == CONTROL:
            continue
        beats = rows[agent][f"vs_{CONTROL}"]["seeds_days"][1] > 0
        reach = steps_to_reach(curves[agent]["steps"], curves[agent]["pa"], half)
        faster = reach is not None and (control is None or reach <= control / 2)
        speed = (f"**not defined** (no public signal: {missing})" if missing
                 else f"**{'yes' if faster else 'no'}** ({steps_text(reach)} against {steps_text(control)})")
        lines.append(
            f"- {agent}: beats the control beyond noise: **{'yes' if beats else 'no'}**; half the public bound in at "
            f"most half the control's steps: {speed}."
        )
    waiting = [
        f"- {row['agent']}: {ci(row, WAITING)}" for row in measured["rows"] if f"vs_{WAITING}" in row and row["agent"] != WAITING
    ]
    if waiting:
        lines += ["", f"PA − {WAITING}, the stronger public rule here (95% interval over seeds and days):", "", *waiting]
    return ["Target (issue 21):", "", *lines]


def plot_training(measured: dict[str, Any], path: Path) -> Path:
    """Valid PA, teacher agreement and entropy of the students and the control against env steps (seeds' mean)."""
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for agent, curve in measured["curves"].items():
        axes[0].plot(curve["steps"], np.mean(curve["pa"], axis=0), marker=".", label=agent)
    axes[0].axhline(measured["public_valid"], color="black", linestyle="--", label="PublicBound")
    axes[0].set_ylabel("mean PA on the valid days (bps)")
    for axis, label, title in ((axes[1], "agreement", "teacher agreement (updates)"), (axes[2], "entropy", "policy entropy (nats)")):
        for agent, logged in measured["training"].items():
            if agent != TEACHER and label in logged:
                axis.plot(logged[label]["steps"], np.mean(logged[label]["values"], axis=0), label=agent)
        axis.set_ylabel(title)
    for axis in axes:
        axis.set_xlabel("environment steps")
        axis.xaxis.set_major_formatter(FuncFormatter(lambda steps, _: f"{steps / 1000:.0f}k"))
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=6)
    figure.suptitle(f"{measured['market']}: training (mean of the seeds)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_pa(sections: dict[str, dict[str, Any]], path: Path) -> Path:
    """Test PA against the fade's level, per agent, over the ``signal-*`` sections."""
    levels = {name: measured["options"]["signal"] for name, measured in sections.items() if name.startswith("signal-")}
    figure, axis = plt.subplots(figsize=(7, 4.5))
    names = sorted(levels, key=levels.get)
    for agent in [row["agent"] for row in sections[names[0]]["rows"]]:
        pa = [next(r["pa_mean"] for r in sections[n]["rows"] if r["agent"] == agent) for n in names]
        axis.plot([levels[n] for n in names], pa, "--" if agent in BASELINES else "-", marker="o", label=agent)
    axis.set_xlabel("signal (share of the overnight gap the session reverses)")
    axis.set_ylabel("mean PA on the test days (bps)")
    axis.set_title("Price advantage against the public signal")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write_section(measured: dict[str, Any], out: Path, wall: float, how: str) -> Path:
    """Write one market's ``NAME.json`` (``measured``, the run's wall time, ``how`` it ran and the peak RSS of its
    largest process, :func:`~sb3_distill.experiment.peak_rss_gib`) and
    ``NAME_training.png`` to ``out``; return the JSON's path."""
    out.mkdir(parents=True, exist_ok=True)
    measured = {**measured, "wall_seconds": wall, "peak_rss_gib": peak_rss_gib(), "how": how}
    plot_training(measured, out / f"{measured['market']}_training.png")
    path = out / f"{measured['market']}.json"
    replace_file(path, json.dumps(measured, indent=1, default=float))
    return path


def write_results(out: Path) -> Path:
    """Write tables.md: every section in ``out`` (the markets of :data:`MARKETS` with a JSON there, in its order),
    with the PA-against-signal plot when two fade levels are there; return its path."""
    sections = {name: json.loads((out / f"{name}.json").read_text()) for name in MARKETS if (out / f"{name}.json").is_file()}
    header = [
        "# Distillation where the truth is known: the tables",
        "",
        "Written by `benchmarks/signal_sweep.py` (a rerun rewrites its markets' sections and this page; the analysis "
        "is in `docs/SIGNAL.md`). Settings: `PAPER_CONFIG`, sell orders, whole-session orders (70% of the days "
        "train, 15% valid, 15% test); the paper's GRU network for the students and the control; checkpoints chosen "
        "on the valid days' mean reward. TWAP acts with continuous ratios (the exact schedule); the PublicBound and "
        "the Oracle in the agents' levels. CIs: paired 95% bootstrap of the mean PA difference per order, resampling "
        "the seeds and the test days together (2,000 resamples); ✓ / ✗: the interval is above / below 0. Share of "
        "public bound: PA / the PublicBound's PA. Valid steps to ½ public bound: the first evaluation at which the "
        "seeds' mean PA on the valid days reaches half the PublicBound's there. Orders in one step: the share of test "
        f"orders that execute at least {ONE_STEP_THRESHOLD:.0%} of the order in one step (an all-at-once bet); mean share "
        "per step: the mean executed share of the order at each 30-minute step; PA of those shares at random: the "
        "mean PA of the same schedules given to the orders at random, what the schedules' shape earns without "
        "choosing per order. Entropy (nats), L_d (−log π(ã|s), the "
        "teacher's action under the policy) and agreement (share of steps where the policy's most likely action is "
        "the teacher's): means over the seeds and the last tenth of the updates; the control's teacher watches "
        "without teaching (its train minutes include the teacher's labelling). Wall time and peak RSS: the section's "
        "last run, which may only have taken kept trials back (their train minutes are in the table), and its "
        "largest process.",
        "",
    ]
    parts = [section(measured) for measured in sections.values()]
    if sum(name.startswith("signal-") for name in sections) >= 2:
        parts.append(f"![{plot_pa(sections, out / 'signal_pa.png').stem}](signal_pa.png)\n")
    path = out / TABLES
    replace_file(path, "\n".join(header) + "\n" + "\n".join(parts))
    return path


def parser() -> argparse.ArgumentParser:
    """The command line (``--out`` defaults to :data:`OUT`)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", nargs="+", choices=list(MARKETS), default=None, help="markets to run (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="training seeds (default: 0 1 2)")
    parser.add_argument("--steps", type=int, default=None, help="env steps per agent and seed (default: 700,000)")
    parser.add_argument("--quick", action="store_true", help="tiny budgets on a small market (CI smoke run)")
    parser.add_argument("--ray", action="store_true", help="run the trials as Ray Tune trials, in parallel")
    parser.add_argument("--address", default=None, help="an existing Ray cluster (default: a local one)")
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray cluster")
    parser.add_argument("--parallel-agents", type=int, default=1,
                        help="processes of each trial for its agents after the teacher; with --ray, CPUs held by each "
                             "trial (default: 1)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where the sections, {TABLES} and the plots go")
    parser.add_argument("--trials", type=Path, default=default_cache_dir() / "signal_sweep",
                        help="where finished trials are kept and taken back by a later run; empty it after changing the "
                             "training code (default: %(default)s)")
    parser.add_argument("--no-trials", dest="trials", action="store_const", const=None, help="keep no trial")
    return parser


def configure(args: argparse.Namespace) -> Sweep:
    """The sweep the command line asks for: :data:`QUICK` or the full :class:`Sweep`, narrowed by its options."""
    sweep = QUICK if args.quick else Sweep()
    experiment = sweep.experiment
    if args.steps is not None:
        experiment = replace(experiment, steps={agent: args.steps for agent in experiment.steps})
    return replace(sweep, markets=tuple(args.markets or sweep.markets), seeds=tuple(args.seeds or sweep.seeds),
                   experiment=experiment)  # fmt: skip


def main() -> None:
    args = parser().parse_args()
    sweep = configure(args)
    th.set_num_threads(1)
    how = how_run(args.ray, args.workers, args.address, args.parallel_agents)
    for name in sweep.markets:  # one section at a time, written as soon as it is done (with --ray, a market's last
        # round of trials may leave workers idle)
        started = time.perf_counter()
        trials, reused = run_sweep(replace(sweep, markets=(name,)), args.ray, args.address, args.workers, args.trials,
                                   args.parallel_agents)  # fmt: skip
        trained = f"trials trained {len(sweep.seeds) - reused}, kept from earlier runs {reused}"
        write_section(measure(sweep, name, trials[name]), args.out, time.perf_counter() - started, f"{how}; {trained}")
        print(write_results(args.out).read_text(), flush=True)


if __name__ == "__main__":
    main()
