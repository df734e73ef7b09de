"""Reproduce the OPD experiment (Fang et al., AAAI 2021) on real minute data and write docs/RESULTS.md.

For each dataset: train, for every seed, the teacher (PPO on the privileged observation), the OPD student
(DistillRecurrentPPO distilled from that seed's teacher), RecurrentPPO without distillation (same network, settings
and budget as the student) and DQN; select each model's checkpoint on the valid split only (BestOnValidation);
evaluate everything on every order of the test split against TWAP, VWAP, AlmgrenChriss and the Oracle bound.

The table pools the learned agents' orders over the seeds (mean reward, PA, PA std, GLR); the paired 95% bootstrap
intervals compare the seed-averaged PA of each order with TWAP and with RecurrentPPO without distillation,
resampling orders and, more honestly, whole days (cluster bootstrap).

    python benchmarks/reproduce_opd.py --dataset ashare-1min        # one dataset, full budget (~1 h on 2 cores)
    python benchmarks/reproduce_opd.py --dataset all                # every dataset, one after the other
    python benchmarks/reproduce_opd.py --quick --out /tmp/opd       # a CI-size smoke run on the synthetic market
    python benchmarks/reproduce_opd.py --dataset ashare-1min --mu 1 --select pa_mean   # a variant, its own section
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch as th

from order_exec_gym.data.dataset import MarketDataset, load_dataset
from order_exec_gym.evaluation import EvaluationResult, evaluate
from order_exec_gym.metrics import paired_bootstrap_ci, summarize
from order_exec_gym.plots import plot_pa_distribution, plot_schedule
from sb3_distill.callbacks import BestOnValidation
from sb3_distill.teachers import PolicyTeacher
from sb3_distill.training import train_dqn, train_ppo, train_student, train_teacher

ROOT = Path(__file__).resolve().parents[1]
BASELINES = {"TWAP": "TWAP", "VWAP": "VWAP", "AlmgrenChriss": "AlmgrenChriss", "Oracle (bound)": "Oracle"}
LEARNED = ("teacher (privileged)", "OPD student", "RecurrentPPO (no distillation)", "DQN")


@dataclass(frozen=True)
class Config:
    """One dataset's experiment."""

    data: str | None
    env_kwargs: dict[str, Any]
    steps: dict[str, int]
    seeds: tuple[int, ...] = (0, 1, 2)
    n_envs: int = 32
    eval_freq: int = 50_000
    distill_coef: float = 0.01
    select: str = "mean_reward"
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


CONFIGS = {
    "ashare-1min": Config(
        data="ashare-1min",
        env_kwargs=dict(step_minutes=30, side="sell", alpha=0.01, reward_scale=1.0),
        steps=dict(teacher=300_000, student=300_000, ppo=300_000, dqn=200_000),
        description="A-share main boards, 1-minute bars; train 2024-03-01..08, valid 03-11, test 03-12..13; "
        "whole-session sell orders, k = 30 minutes (T = 8)",
    ),
    "ashare-etf-5min": Config(
        data="ashare-etf-5min",
        env_kwargs=dict(step_minutes=30, side="sell", alpha=0.01, reward_scale=1.0),
        steps=dict(teacher=300_000, student=300_000, ppo=300_000, dqn=200_000),
        description="42 A-share ETFs, 5-minute bars; train 2021-04..2022-06, valid 2022-07..09, test 2022-10..12; "
        "whole-session sell orders, k = 30 minutes (T = 8)",
    ),
}
QUICK = Config(
    data=None,
    env_kwargs=dict(step_minutes=30, side="sell"),
    steps=dict(teacher=1_024, student=1_024, ppo=1_024, dqn=1_024),
    seeds=(0,),
    n_envs=8,
    eval_freq=512,
    description="smoke run on a small synthetic market",
    extra=dict(n_symbols=4, n_days=20),
)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def train_seed(config: Config, market: MarketDataset, seed: int, log: dict) -> dict[str, Any]:
    """Train the four learned agents of one seed, each selected on the valid split."""
    env_kwargs = {**config.env_kwargs, "data": market, "split": "train"}

    def run(name: str, train, **kwargs):
        selector = BestOnValidation(market, env_kwargs, eval_freq=config.eval_freq, metric=config.select, seed=seed)
        started = time.perf_counter()
        model = train(env_kwargs=env_kwargs, total_timesteps=config.steps[name], seed=seed, n_envs=config.n_envs,
                      callback=selector, **kwargs)  # fmt: skip
        log[f"{name}/seed{seed}"] = {
            "seconds": time.perf_counter() - started,
            "steps": config.steps[name],
            "selected_at": selector.best_timesteps,
            "valid_history": selector.history,
        }
        print(f"  seed {seed} {name}: {time.perf_counter() - started:.0f} s, best valid reward at "
              f"{selector.best_timesteps:,} steps", flush=True)  # fmt: skip
        return model

    teacher = run("teacher", train_teacher)
    student = run("student", lambda **kw: train_student(PolicyTeacher(teacher), distill_coef=config.distill_coef, **kw))
    ppo = run("ppo", train_ppo)
    dqn = run("dqn", train_dqn)
    return dict(zip(LEARNED, (teacher, student, ppo, dqn)))


def summary_rows(results: dict[str, list[EvaluationResult]]) -> list[dict[str, Any]]:
    """One row per agent: pooled metrics over seeds, and paired CIs of the seed-averaged PA per order."""
    per_order = {name: np.mean([r.orders["price_advantage"].to_numpy() for r in runs], axis=0) for name, runs in results.items()}
    days = next(iter(results.values()))[0].orders["date"].to_numpy()
    rows = []
    for name, runs in results.items():
        pa = np.concatenate([r.orders["price_advantage"].to_numpy() for r in runs])
        reward = np.concatenate([r.orders["reward"].to_numpy() for r in runs])
        row = {"agent": name, **summarize(pa, reward), "n_seeds": len(runs), "n_orders": len(per_order[name])}
        row["seed_pa"] = [float(r.summary["pa_mean"]) for r in runs]
        for reference, key in (("TWAP", "vs_twap"), ("RecurrentPPO (no distillation)", "vs_ppo")):
            if reference in per_order and name != reference:
                row[key] = paired_bootstrap_ci(per_order[name], per_order[reference], seed=0)
                row[f"{key}_days"] = paired_bootstrap_ci(per_order[name], per_order[reference], seed=0, groups=days)
        rows.append(row)
    return rows


def markdown(name: str, config: Config, rows: list[dict], log: dict, wall: float, rss: float, plots: list[Path]) -> str:
    def ci(row: dict, key: str) -> str:
        if key not in row:
            return ""
        (diff, low, high), (_, day_low, day_high) = row[key], row[f"{key}_days"]
        return f"{diff:+.2f} [{low:+.2f}, {high:+.2f}] [{day_low:+.2f}, {day_high:+.2f}]"

    lines = [
        f"## {name}",
        "",
        config.description + ".",
        f"Learned agents: {len(config.seeds)} seeds ({', '.join(map(str, config.seeds))}); training steps per agent "
        f"and seed: {', '.join(f'{k} {v:,}' for k, v in config.steps.items())}; distillation μ = {config.distill_coef}; "
        f"checkpoints selected on the valid split's {config.select} every {config.eval_freq:,} steps. Wall time {wall / 60:.1f} min, peak RSS {rss:.2f} GiB.",
        "",
        "| agent | reward ×1e4 | PA (bps) | PA std | GLR | PA − TWAP [CI orders] [CI days] | PA − RecurrentPPO [CI orders] [CI days] | PA per seed | orders × seeds | train s/seed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        seconds = [v["seconds"] for k, v in log.items() if k.split("/")[0] == _short(row["agent"])]
        train = f"{np.mean(seconds):.0f}" if seconds else ""
        per_seed = " / ".join(f"{p:+.2f}" for p in row["seed_pa"]) if row["n_seeds"] > 1 else ""
        lines.append(
            f"| {row['agent']} | {1e4 * row['mean_reward']:+.2f} | {row['pa_mean']:+.2f} | {row['pa_std']:.2f} | "
            f"{row['glr']:.2f} | {ci(row, 'vs_twap')} | {ci(row, 'vs_ppo')} | {per_seed} | "
            f"{row['n_orders']:,} × {row['n_seeds']} | {train} |"
        )
    lines += ["", *[f"![{p.stem}]({p.name})" for p in plots], ""]
    return "\n".join(lines)


def _short(agent: str) -> str:
    return {"teacher (privileged)": "teacher", "OPD student": "student", "RecurrentPPO (no distillation)": "ppo", "DQN": "dqn"}.get(agent, "")


def run_dataset(name: str, config: Config, out: Path) -> str:
    th.set_num_threads(1)
    started = time.perf_counter()
    market = load_dataset(config.data, **config.extra)
    print(market.summary(), flush=True)
    log: dict[str, Any] = {}
    results: dict[str, list[EvaluationResult]] = {}
    for agent, baseline in BASELINES.items():
        results[agent] = [evaluate(baseline, market, "test", env_kwargs=config.env_kwargs)]
    for seed in config.seeds:
        models = train_seed(config, market, seed, log)
        for agent, model in models.items():
            results.setdefault(agent, []).append(evaluate(model, market, "test", env_kwargs=config.env_kwargs))
    rows = summary_rows(results)
    out.mkdir(parents=True, exist_ok=True)
    first = {agent: runs[0] for agent, runs in results.items()}
    shown = {k: first[k] for k in ("TWAP", "VWAP", "RecurrentPPO (no distillation)", "OPD student", "teacher (privileged)")}
    pa = first["OPD student"].orders["price_advantage"].to_numpy()
    typical = int(np.argmin(np.abs(pa - np.median(pa))))
    plots = [
        plot_pa_distribution({k: first[k] for k in (*shown, "Oracle (bound)")}, out / f"{name}_pa_distribution.png"),
        plot_schedule(shown, typical, out / f"{name}_schedule.png"),
    ]
    wall = time.perf_counter() - started
    (out / f"{name}.json").write_text(json.dumps({"rows": rows, "log": log, "wall_seconds": wall}, indent=1, default=float))
    section = markdown(name, config, rows, log, wall, peak_rss_gib(), plots)
    (out / f"{name}.md").write_text(section)
    print(section, flush=True)
    return section


def write_results(out: Path) -> Path:
    """Assemble docs/RESULTS.md from the per-dataset sections in ``out`` and the hand-written analysis."""
    files = [p for p in out.glob("*.md") if p.name not in ("RESULTS.md", "ANALYSIS.md")]
    sections = [p.read_text() for p in sorted(files, key=lambda p: (p.stem.split("-mu")[0], p.stem))]
    analysis = out / "ANALYSIS.md"
    header = (
        "# Reproducing oracle policy distillation on real minute data\n\n"
        "Regenerate with `python benchmarks/reproduce_opd.py --dataset all` (each dataset's section is rewritten; "
        "`--dataset NAME` reruns one). Reward: mean episode reward (Σ R_t, α = 0.01) ×1e4; PA: price advantage in "
        "basis points against the window's mean price; CIs: paired 95% bootstrap (2,000 resamples) of the "
        "per-order PA averaged over seeds, resampling orders, then resampling whole days (orders of one day share "
        "the market's move, so the day-clustered interval is the honest one). The Oracle is the exact perfect-information optimum of the same reward: an upper "
        "bound, not a strategy.\n\n"
    )
    text = header + "\n".join(sections) + ("\n" + analysis.read_text() if analysis.exists() else "")
    path = out / "RESULTS.md"
    path.write_text(text)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="all", choices=[*CONFIGS, "all"])
    parser.add_argument("--quick", action="store_true", help="tiny budgets on a small synthetic market (CI smoke run)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the sections, plots and RESULTS.md go")
    parser.add_argument("--mu", type=float, default=None, help="distillation coefficient (a variant: its own section)")
    parser.add_argument("--select", choices=("mean_reward", "pa_mean"), default=None,
                        help="validation metric for checkpoint selection (a variant: its own section)")  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        run_dataset("quick", QUICK, args.out)
    else:
        for name in CONFIGS if args.dataset == "all" else [args.dataset]:
            config, label = CONFIGS[name], name
            if args.mu is not None or args.select is not None:
                config = replace(config, distill_coef=config.distill_coef if args.mu is None else args.mu,
                                 select=args.select or config.select)  # fmt: skip
                label = f"{name}-mu{config.distill_coef:g}-{config.select}"
            run_dataset(label, config, args.out)
    print(f"wrote {write_results(args.out)}")


if __name__ == "__main__":
    main()
