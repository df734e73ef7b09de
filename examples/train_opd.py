"""Oracle policy distillation end to end (Fang et al., AAAI 2021), on a synthetic market with a known public signal.

The market (``MarketDataset.synthetic(signal=2)``) makes each session reverse twice its overnight gap, which is
public from the open: a trader who knows it earns about a quarter of the Oracle's gain (the ``PublicBound``). On the
paper's settings (``PAPER_CONFIG``, sell orders):

1. the teacher: PPO on the privileged observation (it sees the whole window, future included);
2. the student: DistillRecurrentPPO (the paper's GRU network, public information only) distilled from the teacher;
3. RecurrentPPO without distillation: the same network, settings and budget as the student;
4. all of them, with TWAP, the PublicBound and the exact Oracle, evaluated on the same orders of the held-out test
   days; the table is printed with the student's paired interval against its control, and saved with the models
   and two plots under ``--out``.

Run from the repository root (after ``pip install -e .``)::

    python examples/train_opd.py                           # 1.3-1.8 minutes on 2 CPU cores (measured)
    python examples/train_opd.py --signal 0                # nothing to learn from public information
    python examples/train_opd.py --data ashare-1min --steps 300000

With ``ORDER_EXEC_GYM_QUICK=1`` (the quick switch of :mod:`sb3_distill.training`) it is a smoke run: at most
``QUICK_STEPS`` steps and 8 orders per training.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch as th

from order_exec_gym import PAPER_CONFIG
from order_exec_gym.baselines import BASELINES
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.resolve import load_dataset
from order_exec_gym.evaluation import comparison_table, evaluate
from order_exec_gym.metrics import paired_bootstrap_ci
from order_exec_gym.plots import plot_pa_distribution, plot_schedule
from sb3_distill.training import QUICK_ENV_VAR, quick_budget, quick_mode, train_ppo, train_student, train_teacher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="preset name or saved dataset directory (default: synthetic)")
    parser.add_argument("--signal", type=float, default=None, help="the synthetic market's public signal (default: 2)")
    parser.add_argument("--split", default="test", help="evaluation split (training uses 'train')")
    parser.add_argument("--steps", type=int, default=60_000, help="env steps for each of the three trainings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mu", type=float, default=0.01, help="distillation coefficient")
    parser.add_argument("--n-envs", type=int, default=32, help="orders stepped in parallel while training")
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="directory for the table, models and plots")
    args = parser.parse_args()
    if quick_mode():  # the quick switch: a smoke run of every stage, as the README's test runs it
        args.steps, args.n_envs = quick_budget(args.steps), min(args.n_envs, 8)
        print(f"${QUICK_ENV_VAR} is set: {args.steps:,} steps and {args.n_envs} orders per training, a smoke run")
    th.set_num_threads(1)
    started = time.perf_counter()

    if args.data is None:
        market = MarketDataset.synthetic(signal=2.0 if args.signal is None else args.signal)
    elif args.signal is None:
        market = load_dataset(args.data)
    else:
        parser.error("--signal sets the synthetic market's signal; it does not apply to --data")
    print(market.summary())
    settings = {**PAPER_CONFIG, "side": "sell"}
    env_kwargs = {**settings, "data": market, "split": "train"}
    common = dict(total_timesteps=args.steps, seed=args.seed, n_envs=args.n_envs, progress_bar=True)

    print(f"\n[1/4] teacher: PPO on the privileged observation, {args.steps:,} steps")
    teacher = train_teacher(env_kwargs, **common)
    print(f"[2/4] student: DistillRecurrentPPO (GRU), mu={args.mu}, {args.steps:,} steps")
    student = train_student(teacher, env_kwargs, distill_coef=args.mu, network="gru", **common)
    print(f"[3/4] RecurrentPPO (GRU) without distillation, {args.steps:,} steps")
    recurrent = train_ppo(env_kwargs, network="gru", **common)
    models = args.out / "models"
    models.mkdir(parents=True, exist_ok=True)
    for name, model in (("teacher", teacher), ("student", student), ("recurrent_ppo", recurrent)):
        model.save(models / name)

    print(f"[4/4] evaluation on every order of the {args.split!r} split")
    continuous = {**settings, "action_type": "continuous"}  # TWAP's schedule, which the paper's levels cannot express
    results = {"TWAP": evaluate("TWAP", market, args.split, config=continuous)}
    if BASELINES["PublicBound"].applies_to(market):
        results["PublicBound"] = evaluate("PublicBound", market, args.split, config=settings)
    agents = {"RecurrentPPO": recurrent, "OPD student": student, "teacher (privileged)": teacher, "Oracle": "Oracle"}
    results |= {name: evaluate(agent, market, args.split, config=settings) for name, agent in agents.items()}
    table = comparison_table(results, reference="TWAP")
    table.write_csv(args.out / "comparison.csv")
    shown = table.with_columns(pl.col("mean_reward") * 1e4).rename({"mean_reward": "reward_x1e4"})
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160, float_precision=2, tbl_hide_dataframe_shape=True):
        print("\nreward: mean episode reward x 1e4 (PA / 1e4 - alpha * sum a_t^2 / m_t); PA: price advantage in bps")
        print("against the window's mean price; pa_diff and its 95% CI: paired against TWAP on the same orders")
        print(f"(resampling orders; the student's interval against its control below resamples days)\n{shown}")
    pa = {name: result.orders["price_advantage"].to_numpy() for name, result in results.items()}
    days = results["TWAP"].orders["date"].to_numpy()
    diff, low, high = paired_bootstrap_ci(pa["OPD student"], pa["RecurrentPPO"], groups=days)
    verdict = "beats" if low > 0 else ("loses to" if high < 0 else "does not differ, beyond noise, from")
    print(f"\nOPD student - RecurrentPPO: {diff:+.2f} bps, 95% CI resampling days [{low:+.2f}, {high:+.2f}]: the student "
          f"{verdict} its control on this run (one seed; benchmarks/signal_sweep.py runs three and more levels).")  # fmt: skip
    if "PublicBound" in pa:
        public, public_low, _ = paired_bootstrap_ci(pa["PublicBound"], pa["TWAP"], groups=days)
        if public_low > 0:  # a share of a bound that does not differ from TWAP would mean nothing
            shares = ", ".join(f"{name} {pa[name].mean() / public:.0%}" for name in ("OPD student", "RecurrentPPO"))
            print(f"share of the PublicBound's PA ({public:+.2f} bps) reached: {shares}")
        else:
            print(f"the PublicBound ({public:+.2f} bps) does not beat TWAP beyond noise: nothing public to learn here")

    teacher_pa = pa["teacher (privileged)"]
    order = int(np.argmin(np.abs(teacher_pa - np.median(teacher_pa))))  # a typical order for the teacher
    names = ("TWAP", "PublicBound", "RecurrentPPO", "OPD student", "teacher (privileged)", "Oracle")
    drawn = [name for name in names if name in results]
    schedule = plot_schedule({name: results[name] for name in drawn}, order, args.out / "schedule.png")
    others = {name: result for name, result in results.items() if name != "TWAP"}
    distribution = plot_pa_distribution(others, args.out / "pa_distribution.png")
    print(f"\nsaved {args.out / 'comparison.csv'}, {schedule}, {distribution} and the models in {models}")
    print(f"wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
