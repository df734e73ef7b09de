"""Oracle policy distillation end to end (Fang et al., AAAI 2021), on the synthetic market by default.

1. the teacher: PPO on the privileged observation (it sees the whole window, future included);
2. the student: DistillRecurrentPPO (LSTM policy on public information only) distilled from the teacher;
3. RecurrentPPO without distillation, same network, settings and budget as the student;
4. all of them, with TWAP, VWAP, Almgren-Chriss and the exact Oracle, evaluated on the same orders of a held-out
   split: the comparison table is printed and saved with the models and two plots under ``--out``.

Run from the repository root (after ``pip install -e .``)::

    python examples/train_opd.py                 # synthetic market, ~3 minutes on 2 CPU cores
    python examples/train_opd.py --data <preset or saved dataset> --steps 500000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch as th

from order_exec_gym.data.dataset import load_dataset
from order_exec_gym.evaluation import comparison_table, evaluate_agents
from order_exec_gym.plots import plot_pa_distribution, plot_schedule
from sb3_distill.training import train_ppo, train_student, train_teacher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="preset name or saved dataset directory (default: synthetic)")
    parser.add_argument("--split", default="test", help="evaluation split (training uses 'train')")
    parser.add_argument("--steps", type=int, default=100_000, help="env steps for each of the three trainings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mu", type=float, default=0.01, help="distillation coefficient")
    parser.add_argument("--n-envs", type=int, default=16, help="orders stepped in parallel while training")
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="directory for the table, models and plots")
    args = parser.parse_args()
    th.set_num_threads(1)
    started = time.perf_counter()

    market = load_dataset(args.data)
    print(market.summary())
    env_kwargs = {"data": market, "split": "train"}
    common = dict(total_timesteps=args.steps, seed=args.seed, n_envs=args.n_envs, progress_bar=True)

    print(f"\n[1/4] teacher: PPO on the privileged observation, {args.steps:,} steps")
    teacher = train_teacher(env_kwargs, **common)
    print(f"[2/4] student: DistillRecurrentPPO, mu={args.mu}, {args.steps:,} steps")
    student = train_student(teacher, env_kwargs, distill_coef=args.mu, **common)
    print(f"[3/4] RecurrentPPO without distillation, {args.steps:,} steps")
    recurrent = train_ppo(env_kwargs, **common)
    models = args.out / "models"
    models.mkdir(parents=True, exist_ok=True)
    for name, model in (("teacher", teacher), ("student", student), ("recurrent_ppo", recurrent)):
        model.save(models / name)

    print(f"[4/4] evaluation on every order of the {args.split!r} split")
    agents = {
        "TWAP": "TWAP",
        "VWAP": "VWAP",
        "AlmgrenChriss": "AlmgrenChriss",
        "RecurrentPPO": recurrent,
        "OPD student": student,
        "teacher (privileged)": teacher,
        "Oracle": "Oracle",
    }
    results = evaluate_agents(agents, market, args.split, seed=args.seed, progress=True)
    table = comparison_table(results, reference="TWAP")
    table.write_csv(args.out / "comparison.csv")
    shown = table.with_columns(pl.col("mean_reward") * 1e4).rename({"mean_reward": "reward_x1e4"})
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160, float_precision=2, tbl_hide_dataframe_shape=True):
        print("\nreward: mean episode reward x 1e4 (PA / 1e4 - alpha * sum a_t^2); PA: price advantage in bps against")
        print(f"the window's mean price; pa_diff and its 95% CI: paired against TWAP on the same orders\n{shown}")

    teacher_pa = results["teacher (privileged)"].orders["price_advantage"].to_numpy()
    order = int(np.argmin(np.abs(teacher_pa - np.median(teacher_pa))))  # a typical order for the teacher
    drawn = ("TWAP", "RecurrentPPO", "OPD student", "teacher (privileged)", "Oracle")
    schedule = plot_schedule({name: results[name] for name in drawn}, order, args.out / "schedule.png")
    others = {name: result for name, result in results.items() if name != "TWAP"}
    distribution = plot_pa_distribution(others, args.out / "pa_distribution.png")
    print(f"\nsaved {args.out / 'comparison.csv'}, {schedule}, {distribution} and the models in {models}")
    print(f"wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
