"""Reproduce the OPD experiment (Fang et al., AAAI 2021) on real minute data; write docs/results/reproduce_opd/.

For each section (a dataset and its settings): train, for every seed, the teacher (PPO on the privileged
observation), an OPD student per distillation coefficient mu (DistillRecurrentPPO distilled from that seed's
teacher), RecurrentPPO without distillation (mu = 0: the same network, settings and budget as the students) and, in
today's settings, DQN; select each model's checkpoint on the valid split only (BestOnValidation); evaluate everything
on every order of the test split against TWAP, VWAP, AlmgrenChriss and the Oracle bound.

The table pools the learned agents' orders over the seeds (mean reward, PA, PA std, GLR); the paired 95% bootstrap
intervals compare the seed-averaged PA of each order with TWAP and with RecurrentPPO without distillation,
resampling orders and, more honestly, whole days (cluster bootstrap).

Everything goes to ``--out`` (default docs/results/reproduce_opd/): per section NAME.json, NAME.md and two plots, and
tables.md, every section in one page. Each seed's finished trial is kept (``--trials``, outside the repository) and
taken back by a later run on the same data with the same options and experiment, so seeds can be added one run at a
time (the code is not in the trial's key: empty the folder after changing the training code, or run with
``--no-trials``). The script writes nothing else: docs/RESULTS.md, the written analysis, links to these files and
is never rewritten.

    python benchmarks/reproduce_opd.py --dataset paper              # the paper's settings, both datasets (~1.5 h)
    python benchmarks/reproduce_opd.py --dataset ashare-1min        # one section (today's settings), full budget
    python benchmarks/reproduce_opd.py --dataset all                # every section, one after the other
    python benchmarks/reproduce_opd.py --quick --out /tmp/opd       # a CI-size smoke run on the synthetic market
    python benchmarks/reproduce_opd.py --dataset ashare-1min --mu 1 --select pa_mean   # a variant, its own section
    python benchmarks/reproduce_opd.py --dataset ashare-etf-5min-paper --steps 1500000 --seeds 0 1 --ray  # 10x budget, 2 seeds
    python benchmarks/reproduce_opd.py --dataset ashare-etf-5min-paper --steps 1500000 --seeds 0 1 2  # trains seed 2
    python benchmarks/reproduce_opd.py --dataset paper --ray        # the seeds as Ray Tune trials, 2 at a time
    python benchmarks/reproduce_opd.py --dataset ashare-1min-paper --steps 1500000 --seeds 0 --parallel-agents 2
    python benchmarks/reproduce_opd.py --dataset paper --ray --address auto   # on an existing Ray cluster
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch as th

from order_exec_gym import PAPER_CONFIG
from order_exec_gym.benchmark.tasks import market_fingerprint
from order_exec_gym.data.resolve import default_cache_dir, load_dataset
from order_exec_gym.evaluation import EvaluationResult, evaluate
from order_exec_gym.metrics import ONE_STEP_THRESHOLD
from order_exec_gym.plots import plot_pa_distribution, plot_schedule
from sb3_distill.experiment import (
    CONTROL, TEACHER, TRAINING_LOGS, Experiment, compare_runs, how_run, late_means_text, peak_rss_gib, run_kept_trials,
    trial_path, training_curve,
)  # fmt: skip

ROOT = Path(__file__).resolve().parents[1]
#: The experiment's folder of generated files (docs/RESULTS.md, written by hand, links to it).
OUT = ROOT / "docs" / "results" / "reproduce_opd"
#: The page of every section's table, in ``OUT``.
TABLES = "tables.md"
BASELINES = {"TWAP": "TWAP", "VWAP": "VWAP", "AlmgrenChriss": "AlmgrenChriss", "Oracle (bound)": "Oracle"}
#: Baselines that are schedules: evaluated with continuous actions when the agents' levels cannot express them.
SCHEDULES = ("TWAP", "VWAP", "AlmgrenChriss")
#: Today's (per-step penalty, TWAP-rate levels, 30-minute lookback) environment settings.
TODAY = dict(step_minutes=30, side="sell", alpha=0.01, penalty_per="step", reward_scale=1.0)
PAPER = {**PAPER_CONFIG, "side": "sell"}


@dataclass(frozen=True)
class Config:
    """One section: a dataset, its experiment and seeds.

    :param schedules_continuous: evaluate TWAP, VWAP and AlmgrenChriss with continuous actions (exact schedules),
        for action levels that cannot express them (the paper's levels are fractions of the whole order)
    :param extra: options of the market (the synthetic market's)
    """

    data: str | None
    experiment: Experiment
    seeds: tuple[int, ...] = (0, 1, 2)
    schedules_continuous: bool = False
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


ASHARE = "A-share main boards, 1-minute bars; train 2024-03-01..08, valid 03-11, test 03-12..13; whole-session sell orders"
ETF = "42 A-share ETFs, 5-minute bars; train 2021-04..2022-06, valid 2022-07..09, test 2022-10..12; whole-session sell orders"
TODAY_SETTINGS = "k = 30 minutes (T = 8), alpha = 0.01 per step, levels (0, .5, 1, 1.5, 2) x TWAP rate, last 30 minutes"
PAPER_SETTINGS = (
    "the paper code's settings (PAPER_CONFIG): k = 30 minutes, alpha = 0.01 per minute, levels (0, .25, .5, .75, 1) "
    "of the whole order, the session so far and the previous session with market features; the paper's GRU student"
)
PAPER_EXPERIMENT = Experiment(
    PAPER, steps=dict(teacher=150_000, student=150_000, ppo=150_000), mus=(0.01, 0.1, 1.0), network="gru"
)
TODAY_EXPERIMENT = Experiment(TODAY, steps=dict(teacher=300_000, student=300_000, ppo=300_000, dqn=200_000), dqn=True)
CONFIGS = {
    "ashare-1min-paper": Config("ashare-1min", PAPER_EXPERIMENT, schedules_continuous=True, description=f"{ASHARE}; {PAPER_SETTINGS}"),
    "ashare-etf-5min-paper": Config("ashare-etf-5min", PAPER_EXPERIMENT, schedules_continuous=True, description=f"{ETF}; {PAPER_SETTINGS}"),
    "ashare-1min": Config("ashare-1min", TODAY_EXPERIMENT, description=f"{ASHARE}; {TODAY_SETTINGS}"),
    "ashare-etf-5min": Config("ashare-etf-5min", TODAY_EXPERIMENT, description=f"{ETF}; {TODAY_SETTINGS}"),
}  # fmt: skip
QUICK = Config(
    data=None,
    experiment=Experiment(
        PAPER, steps=dict(teacher=1_024, student=1_024, ppo=1_024, dqn=1_024), mus=(0.01, 1.0), network="gru",
        dqn=True, n_envs=8, eval_freq=512,
    ),
    seeds=(0, 1),
    schedules_continuous=True,
    description="smoke run on a small synthetic market, the paper's settings",
    extra=dict(n_symbols=4, n_days=20),
)


def markdown(
    name: str, config: Config, rows: list[dict], log: dict, wall: float, rss: float, plots: list[Path], how: str = ""
) -> str:
    experiment = config.experiment

    def ci(row: dict, reference: str) -> str:
        if f"vs_{reference}" not in row:
            return ""
        (diff, low, high), (_, day_low, day_high) = row[f"vs_{reference}"]["orders"], row[f"vs_{reference}"]["days"]
        return f"{diff:+.2f} [{low:+.2f}, {high:+.2f}] [{day_low:+.2f}, {day_high:+.2f}]"

    lines = [
        f"## {name}",
        "",
        config.description + ".",
        f"Learned agents: {len(config.seeds)} seeds ({', '.join(map(str, config.seeds))}); training steps per agent "
        f"and seed: {', '.join(f'{k} {v:,}' for k, v in experiment.steps.items())}; distillation μ ∈ "
        f"{{{', '.join(f'{mu:g}' for mu in experiment.mus)}}} (μ = 0: RecurrentPPO, the same "
        f"{experiment.network.upper()} network); checkpoints selected on the valid split's {experiment.select} every "
        f"{experiment.eval_freq:,} steps."
        + (" TWAP, VWAP and AlmgrenChriss act with continuous ratios (exact schedules: the agents' levels cannot "
           "express them); the Oracle in the agents' levels." if config.schedules_continuous else "")
        + f" Wall time {wall / 60:.1f} min{f' ({how})' if how else ''}, peak RSS of its largest process {rss:.2f} GiB.",
        "",
        "| agent | reward ×1e4 | PA (bps) | PA std | GLR | PA − TWAP [CI orders] [CI days] | PA − RecurrentPPO [CI orders] [CI days] | PA per seed | orders × seeds "
        f"| orders in one step (≥ {ONE_STEP_THRESHOLD:.0%}) | mean share per step (%) | PA of those shares at random "
        "| entropy, L_d, agreement (last tenth) | train s/seed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        runs = [v for k, v in log.items() if k.split("/")[0] == row["agent"]]
        train = f"{np.mean([run['seconds'] for run in runs]):.0f}" if runs else ""
        histories = [run["train_history"] for run in runs if "train_history" in run]
        logged = late_means_text({label: training_curve(histories, label) for label in TRAINING_LOGS}) if histories else ""
        per_seed = " / ".join(f"{p:+.2f}" for p in row["seed_pa"]) if row["n_seeds"] > 1 else ""
        profile = " ".join(f"{100 * s:.0f}" for s in row["step_shares"])
        shuffled = f"{row['shuffled_pa']:+.2f}" if "shuffled_pa" in row else ""
        lines.append(
            f"| {row['agent']} | {1e4 * row['mean_reward']:+.2f} | {row['pa_mean']:+.2f} | {row['pa_std']:.2f} | "
            f"{row['glr']:.2f} | {ci(row, 'TWAP')} | {ci(row, CONTROL)} | {per_seed} | "
            f"{row['n_orders']:,} × {row['n_seeds']} | {row['one_step_share']:.0%} | {profile} | {shuffled} | {logged} | "
            f"{train} |"
        )
    lines += ["", *[f"![{p.stem}]({p.name})" for p in plots], ""]
    return "\n".join(lines)


def run_dataset(name: str, config: Config, out: Path, trials: Path | None = None, **options: Any) -> str:
    """Run one section's baselines and trials, write its JSON, Markdown and plots to ``out`` (:func:`write_section`),
    return the Markdown.

    :param trials: a folder that keeps each seed's finished trial and gives it back to a later run of the same data,
        options and experiment instead of training it again (:func:`~sb3_distill.experiment.trial_path` of those
        and the market's fingerprint; the code is not in it: empty the folder after changing the training code);
        None: keep nothing
    :param options: :func:`~sb3_distill.experiment.run_trials`' options (``ray``, ``address``, ``workers``,
        ``parallel_agents``)
    """
    th.set_num_threads(1)
    started = time.perf_counter()
    market = load_dataset(config.data, **config.extra)
    print(market.summary(), flush=True)
    log: dict[str, Any] = {}
    results: dict[str, list[EvaluationResult]] = {}
    settings = config.experiment.config
    for agent, baseline in BASELINES.items():
        continuous = config.schedules_continuous and baseline in SCHEDULES
        results[agent] = [evaluate(baseline, market, "test", config={**settings, "action_type": "continuous"} if continuous else settings)]
    key = (config.data, config.extra, config.experiment, market_fingerprint(market))
    paths = [trial_path(trials, config.data or "synthetic", seed, key) for seed in config.seeds] if trials is not None else None
    done, kept = run_kept_trials([(config.experiment, market, seed) for seed in config.seeds], paths, **options)
    for trial in done:
        for agent, result in trial.results.items():
            results.setdefault(agent, []).append(result)
            log[f"{agent}/seed{trial.seed}"] = trial.log[agent]
    how = how_run(options.get("ray", False), options.get("workers", 2), options.get("address"),
                  options.get("parallel_agents", 1))  # fmt: skip
    how += f"; trials trained {len(config.seeds) - kept}, kept from earlier runs {kept}"
    section = write_section(name, config, results, log, time.perf_counter() - started, out, how)
    print(section, flush=True)
    return section


def write_section(
    name: str,
    config: Config,
    results: dict[str, list[EvaluationResult]],
    log: dict[str, Any],
    wall: float,
    out: Path,
    how: str = "",
) -> str:
    """Write one section's files to ``out``: ``NAME.json`` (the rows, the training log without the per-update
    history, whose late means are in the table), ``NAME.md`` (the table)
    and its two plots; return the Markdown.

    :param results: per agent, its evaluations on the test split (one per seed; one for a baseline)
    :param log: per ``"agent/seedS"``, the trial's training log of that agent
    :param how: how the trials ran, and how many were kept from earlier runs (the wall time is this run's)
    """
    rows = compare_runs(results)
    out.mkdir(parents=True, exist_ok=True)
    first = {agent: runs[0] for agent, runs in results.items()}
    student = config.experiment.student(config.experiment.mus[0])
    shown = {k: first[k] for k in ("TWAP", "VWAP", CONTROL, student, TEACHER)}
    pa = first[student].orders["price_advantage"].to_numpy()
    typical = int(np.argmin(np.abs(pa - np.median(pa))))
    plots = [
        plot_pa_distribution({k: first[k] for k in (*shown, "Oracle (bound)")}, out / f"{name}_pa_distribution.png"),
        plot_schedule(shown, typical, out / f"{name}_schedule.png"),
    ]
    kept = {key: {k: v for k, v in run.items() if k != "train_history"} for key, run in log.items()}  # the table has its late means
    (out / f"{name}.json").write_text(json.dumps({"rows": rows, "log": kept, "wall_seconds": wall, "how": how}, indent=1, default=float))
    section = markdown(name, config, rows, log, wall, peak_rss_gib(), plots, how)
    (out / f"{name}.md").write_text(section)
    return section


def sections(out: Path) -> list[Path]:
    """The sections in ``out``: each ``NAME.md`` that :func:`write_section` wrote with its ``NAME.json`` (no other
    page), the paper's configuration first, then today's, each dataset's variants after it."""
    files = [p.with_suffix(".md") for p in out.glob("*.json") if p.with_suffix(".md").is_file()]
    return sorted(files, key=lambda p: ("-paper" not in p.stem, p.stem))


def write_results(out: Path) -> Path:
    """Assemble ``out``/tables.md from the sections in ``out`` (:func:`sections`) and return its path."""
    header = (
        "# Reproducing oracle policy distillation on real minute data: the tables\n\n"
        "Written by `benchmarks/reproduce_opd.py` (a rerun rewrites this page; the analysis is in `docs/RESULTS.md`). "
        "Regenerate with `python benchmarks/reproduce_opd.py --dataset all` (each dataset's section is rewritten; "
        "`--dataset NAME` reruns one; `--dataset paper` the two sections in the paper's configuration). Reward: mean "
        "episode reward (Σ R_t with each section's penalty, α = 0.01 per minute or per step) ×1e4; PA: price advantage in "
        "basis points against the window's mean price; CIs: paired 95% bootstrap (2,000 resamples) of the "
        "per-order PA averaged over seeds, resampling orders, then resampling whole days (orders of one day share "
        "the market's move, so the day-clustered interval is the honest one). The Oracle is the exact perfect-information optimum of the same reward: an upper "
        "bound, not a strategy. Sections run since issue 21 also show the schedules' shape (orders in one step: the "
        f"share of test orders that execute at least {ONE_STEP_THRESHOLD:.0%} of the order in one step, an all-at-once "
        "bet; mean share per step: the mean executed share at each step; PA of those shares at random: the mean PA "
        "of the same schedules given to the orders at random, what the schedules' shape earns without choosing per "
        "order, in the sections written since it was added: the `-1500k` ones) and the training logs of the learned agents "
        "(entropy of the policy in nats, L_d = −log π(ã|s) of the teacher's action, agreement with the teacher's "
        "action: means over the seeds and the last tenth of the updates; the control's teacher watches without "
        "teaching). `-<steps>` sections train every agent for that many steps; `-seeds...` ones with those seeds.\n\n"
    )
    path = out / TABLES
    path.write_text(header + "\n".join(p.read_text() for p in sections(out)))
    return path


def parser() -> argparse.ArgumentParser:
    """The command line (``--out`` defaults to :data:`OUT`)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="all", choices=[*CONFIGS, "paper", "all"])
    parser.add_argument("--quick", action="store_true", help="tiny budgets on a small synthetic market (CI smoke run)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where the sections, plots and {TABLES} go")
    parser.add_argument("--mu", type=float, default=None, help="distillation coefficient (a variant: its own section)")
    parser.add_argument("--select", choices=("mean_reward", "pa_mean"), default=None,
                        help="validation metric for checkpoint selection (a variant: its own section)")  # fmt: skip
    parser.add_argument("--steps", type=int, default=None,
                        help="env steps per learned agent and seed (a variant: its own section, NAME-<steps/1000>k)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="training seeds (default: the section's; others are a variant: NAME-seeds<s>_<s>)")
    parser.add_argument("--ray", action="store_true", help="run the seeds' trials as Ray Tune trials, in parallel")
    parser.add_argument("--address", default=None, help="an existing Ray cluster (default: a local one)")
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray cluster")
    parser.add_argument("--parallel-agents", type=int, default=1,
                        help="processes of each trial for its agents after the teacher; with --ray, CPUs held by each "
                             "trial (default: 1)")
    parser.add_argument("--trials", type=Path, default=default_cache_dir() / "reproduce_opd",
                        help="where finished trials are kept and taken back by a later run; empty it after changing the "
                             "training code (default: %(default)s)")
    parser.add_argument("--no-trials", dest="trials", action="store_const", const=None, help="keep no trial")
    return parser


def variant(name: str, config: Config, args: argparse.Namespace) -> tuple[str, Config]:
    """Section ``name``'s label and config with the command line's ``--mu``, ``--select``, ``--steps`` and ``--seeds``,
    each named in the label (so a variant never overwrites another section): ``-mu<mu>-<select>``, ``-<steps>``
    (``1500k`` for 1,500,000), ``-seeds<s>_<s>``."""
    experiment, label = config.experiment, name
    if args.mu is not None or args.select is not None:
        experiment = replace(experiment, mus=experiment.mus if args.mu is None else (args.mu,),
                             select=args.select or experiment.select)  # fmt: skip
        label = f"{label}-mu{'_'.join(f'{mu:g}' for mu in experiment.mus)}-{experiment.select}"
    if args.steps is not None:
        experiment = replace(experiment, steps={agent: args.steps for agent in experiment.steps})
        label = f"{label}-{args.steps // 1000}k" if args.steps % 1000 == 0 else f"{label}-{args.steps}"
    seeds = config.seeds
    if args.seeds is not None:
        seeds = tuple(args.seeds)
        label = f"{label}-seeds{'_'.join(map(str, seeds))}"
    return label, replace(config, experiment=experiment, seeds=seeds)


def main() -> None:
    args = parser().parse_args()
    options = dict(ray=args.ray, address=args.address, workers=args.workers, parallel_agents=args.parallel_agents)
    if args.quick:
        run_dataset("quick", QUICK, args.out, args.trials, **options)
    else:
        names = {"all": list(CONFIGS), "paper": [n for n in CONFIGS if n.endswith("-paper")]}.get(args.dataset, [args.dataset])
        for name in names:
            label, config = variant(name, CONFIGS[name], args)
            run_dataset(label, config, args.out, args.trials, **options)
    print(f"wrote {write_results(args.out)}")


if __name__ == "__main__":
    main()
