"""Does the fast recurrent learner learn as well as sb3-contrib's, step for step? And in how much less time?

Run: ``python benchmarks/learning_parity.py [--steps N] [--seeds 0 1 2] [--quick]``. On the signal market
(``signal=2``, the sweep's 30 instruments x 200 days), the paper's settings (``PAPER_CONFIG``, sell orders) and the
paper's network, each learner trains the no-distillation control for the same env steps and seeds, is evaluated on
every valid order every ``--eval-freq`` steps (the learning curve: mean PA on the valid days) and, at the end, on
every test order with its final parameters:

- ``sb3-contrib RecurrentPPO``: sb3-contrib's algorithm, buffer and per-decision evaluation of the network
  (``training_throughput.SB3ContribGruPolicy``), ``STUDENT_KWARGS``, 16 orders: the learner before;
- ``ours``: the ``recurrent_ppo`` recipe (DistillRecurrentPPO at ``distill_coef=0``) with the same settings;
- ``ours, 2 epochs``: the same with ``n_epochs=2, batch_size=256`` (16 gradient steps per rollout instead of 20,
  two fifths of the update's compute).

Prints and writes to ``--out`` (default docs/results/learning_parity/) tables.md and learner.json: per learner the
valid PA curve (mean and range over seeds), the steps to half the PublicBound's valid PA, the final test PA with a
day-clustered interval of its difference with sb3-contrib's (seeds and days resampled together), and the training
wall time. It writes nothing else: docs/LEARNER.md, the written page, links to these files and is never rewritten.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch as th
from training_throughput import sb3_contrib_model

from order_exec_gym import PAPER_CONFIG
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.evaluation import evaluate
from order_exec_gym.metrics import paired_bootstrap_ci
from sb3_distill.callbacks import BestOnValidation
from sb3_distill.training import make_model

ROOT = Path(__file__).resolve().parents[1]
#: The experiment's folder of generated files (docs/LEARNER.md, written by hand, links to it).
OUT = ROOT / "docs" / "results" / "learning_parity"
#: The page of the comparison's tables, in ``OUT``.
TABLES = "tables.md"
SETTINGS = {**PAPER_CONFIG, "side": "sell"}
LEARNERS = ("sb3-contrib RecurrentPPO", "ours", "ours, 2 epochs")


def build(learner: str, data: MarketDataset, seed: int):
    env_kwargs = {"data": data, "split": "train", **SETTINGS}
    if learner == LEARNERS[0]:
        return sb3_contrib_model(data, seed=seed, side="sell")
    extra = dict(n_epochs=2, batch_size=256) if learner == LEARNERS[2] else {}
    return make_model("recurrent_ppo", env_kwargs, seed=seed, network="gru", **extra)


class Curve(BestOnValidation):
    """Evaluations on the valid days that keep the final parameters (no selection)."""

    def _on_training_end(self) -> None:
        if self._last_eval != self.num_timesteps:
            self._evaluate()


def run(learner: str, data: MarketDataset, seed: int, steps: int, eval_freq: int) -> dict:
    model = build(learner, data, seed)
    curve = Curve(data, "valid", SETTINGS, eval_freq=eval_freq, metric="pa_mean")
    start = time.perf_counter()
    model.learn(steps, callback=curve)
    seconds = time.perf_counter() - start
    test = evaluate(model, data, "test", config=SETTINGS)
    return {
        "learner": learner, "seed": seed, "seconds": seconds,
        "steps": [s for s, _ in curve.history], "valid_pa": [summary["pa_mean"] for _, summary in curve.history],
        "test_pa": test.orders["price_advantage"].to_list(), "test_day": test.orders["date"].cast(str).to_list(),
    }  # fmt: skip


def parser() -> argparse.ArgumentParser:
    """The command line (``--out`` defaults to :data:`OUT`)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60_000, help="env steps per learner and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-freq", type=int, default=6_000, help="env steps between valid evaluations")
    parser.add_argument("--quick", action="store_true", help="a CI-size smoke run (small market, 2k steps)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where {TABLES} and learner.json go")
    return parser


def main() -> None:
    args = parser().parse_args()
    th.set_num_threads(1)
    market = dict(n_symbols=4, n_days=30, seed=0) if args.quick else dict(n_symbols=30, n_days=200, seed=0)
    if args.quick:
        args.steps, args.eval_freq, args.seeds = 2_048, 1_024, args.seeds[:1]
    data = MarketDataset.synthetic(**market, signal=2.0)
    bound = evaluate("PublicBound", data, "valid", config=SETTINGS).summary["pa_mean"]
    runs = []
    for seed in args.seeds:
        for learner in LEARNERS:
            runs.append(run(learner, data, seed, args.steps, args.eval_freq))
            print(f"{learner:<26} seed {seed}: {runs[-1]['seconds']:6.1f} s, valid PA {runs[-1]['valid_pa'][-1]:+.2f} "
                  f"bps, test PA {np.mean(runs[-1]['test_pa']):+.2f} bps", flush=True)  # fmt: skip
    path = write_results(runs, bound, args, args.out)
    print(path.read_text())


def write_results(runs: list[dict], bound: float, args: argparse.Namespace, out: Path) -> Path:
    """Write the report (:func:`report`) to ``out``/tables.md and the runs to ``out``/learner.json; return the first."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / TABLES
    path.write_text("\n".join(report(runs, bound, args)) + "\n")
    (out / "learner.json").write_text(json.dumps({"public_bound_valid_pa": bound, "runs": runs}))
    return path


def report(runs: list[dict], bound: float, args: argparse.Namespace) -> list[str]:
    """The markdown report: curves, steps to half the public bound, test PA against sb3-contrib's, wall time."""
    by = {learner: [r for r in runs if r["learner"] == learner] for learner in LEARNERS}
    steps = by[LEARNERS[0]][0]["steps"]
    lines = [
        "# The fast learner against sb3-contrib's RecurrentPPO", "",
        f"Signal market (signal=2), PAPER_CONFIG (sell), NETWORKS['gru'], the control (no distillation), "
        f"{args.steps:,} env steps per learner and seed, seeds {args.seeds}; PublicBound's valid PA {bound:+.2f} bps. "
        "Written by `benchmarks/learning_parity.py` (a rerun rewrites this page; the analysis is in `docs/LEARNER.md`).",
        "",
        "Valid PA (bps) along training, mean over seeds [min, max]:", "",
        "| steps | " + " | ".join(LEARNERS) + " |", "|---|" + "---|" * len(LEARNERS),
    ]  # fmt: skip
    for i, step in enumerate(steps):
        cells = []
        for learner in LEARNERS:
            values = [r["valid_pa"][i] for r in by[learner]]
            cells.append(f"{np.mean(values):+.2f} [{min(values):+.2f}, {max(values):+.2f}]")
        lines.append(f"| {step:,} | " + " | ".join(cells) + " |")
    lines += ["", "| learner | steps to half the PublicBound (seeds' mean) | test PA (bps) | vs sb3-contrib, 95% CI (seeds x days) | "
              "training wall time per seed (s) |", "|---|---|---|---|---|"]  # fmt: skip
    reference = by[LEARNERS[0]]
    for learner in LEARNERS:
        mean_curve = np.mean([r["valid_pa"] for r in by[learner]], axis=0)
        reached = np.flatnonzero(mean_curve >= bound / 2)
        first = f"{steps[reached[0]]:,}" if len(reached) else "never"
        pa = np.concatenate([r["test_pa"] for r in by[learner]])
        versus = ""
        if learner != LEARNERS[0]:
            base = np.concatenate([r["test_pa"] for r in reference])
            groups = np.concatenate([[f"{r['seed']}/{d}" for d in r["test_day"]] for r in by[learner]])
            diff, low, high = paired_bootstrap_ci(pa, base, groups=groups)
            versus = f"{diff:+.2f} [{low:+.2f}, {high:+.2f}]"
        seconds = np.mean([r["seconds"] for r in by[learner]])
        lines.append(f"| {learner} | {first} | {pa.mean():+.2f} | {versus} | {seconds:.0f} |")
    return lines


if __name__ == "__main__":
    main()
