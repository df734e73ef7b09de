"""The synthetic market's public signal (the opening-gap fade), the PublicBound baseline and the signal sweep."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from benchmarks import signal_sweep
from order_exec_gym import PAPER_CONFIG
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.synthetic import synthetic_bars
from order_exec_gym.evaluation import evaluate
from sb3_distill import experiment

ROOT = Path(__file__).resolve().parents[1]


def digest(frame: pl.DataFrame) -> str:
    """A hash of the bars, prices and volumes rounded to 6 decimals (so that the last bits of exp and log on another
    CPU do not change it; a different draw changes every value by far more)."""
    h = hashlib.sha256()
    for column in frame.columns:
        values = frame[column]
        if column == "symbol":
            h.update("".join(values.to_list()).encode())
        else:
            h.update(values.to_numpy().tobytes() if column == "timestamp" else np.round(values.to_numpy(), 6).tobytes())
    return h.hexdigest()


def test_no_signal_is_the_market_without_the_option():
    """The digest of these bars was computed with the generator before it had a signal (commit 747c8ce)."""
    bars = synthetic_bars(n_symbols=3, n_days=6, seed=11, signal=0.0).frame
    assert digest(bars) == "c40d2f4b4d9a929a9547f58cdb8781d5e33521ae4f374621c084266b81de8268"
    assert bars.equals(synthetic_bars(n_symbols=3, n_days=6, seed=11).frame)


def sessions(signal: float, **options) -> tuple[np.ndarray, np.ndarray]:
    """Each session's overnight gap and its move from the open to the close (log), all sessions but the first."""
    frame = synthetic_bars(signal=signal, **options).frame
    days = (
        frame.group_by("symbol", pl.col("timestamp").dt.date().alias("day"), maintain_order=True)
        .agg(pl.col("open").first(), pl.col("close").last())
        .with_columns(pl.col("close").shift(1).over("symbol").alias("previous"))
        .drop_nulls()
    )
    return np.log(days["open"] / days["previous"]).to_numpy(), np.log(days["close"] / days["open"]).to_numpy()


@pytest.mark.parametrize("signal", [0.0, 1.0, 4.0])
def test_the_session_reverses_signal_times_its_gap(signal):
    """The predictive regression of the session's move on its gap has slope -signal, within 3 standard errors."""
    gap, move = sessions(signal, n_symbols=40, n_days=150, seed=3)
    slope, intercept = np.polyfit(gap, move, 1)
    residual = move - slope * gap - intercept
    standard_error = residual.std() / (gap.std() * np.sqrt(len(gap)))
    assert abs(slope + signal) < 3 * standard_error
    assert 0.0045 < gap.std() < 0.0058  # about 51 bps whatever the signal: the next session opens from the faded close


@pytest.mark.parametrize("signal", [-0.1, float("nan"), float("inf")])
def test_signal_must_be_finite_and_non_negative(signal):
    with pytest.raises(ValueError, match="signal"):
        synthetic_bars(n_symbols=2, n_days=3, signal=signal)


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
def test_public_bound_sits_between_twap_and_the_oracle(action_type):
    settings = {**PAPER_CONFIG, "action_type": action_type}
    gains = []
    for signal in (0.0, 1.0, 4.0):
        market = MarketDataset.synthetic(n_symbols=10, n_days=60, seed=2, signal=signal)
        public = evaluate("PublicBound", market, "all", config=settings)
        oracle = evaluate("Oracle", market, "all", config=settings)
        # the Oracle's reward bounds the public bound's on every order
        assert (oracle.orders["reward"].to_numpy() >= public.orders["reward"].to_numpy() - 1e-12).all()
        gains.append(public.summary["pa_mean"])
    assert gains[0] < 5 < gains[1] < gains[2]  # nothing to learn at 0; more with a stronger signal
    if action_type == "continuous":  # with nothing to predict, the continuous bound is TWAP
        market = MarketDataset.synthetic(n_symbols=10, n_days=60, seed=2)
        twap = evaluate("TWAP", market, "all", config=settings)
        np.testing.assert_allclose(evaluate("PublicBound", market, "all", config=settings).schedules, twap.schedules, atol=1e-12)


def test_public_bound_plans_on_the_gap_only():
    """Its plan is the same whatever the bars are, but the sessions' opens and closes (the gaps): nothing later."""
    from dataclasses import replace

    from order_exec_gym.baselines import PublicBound
    from order_exec_gym.task import ExecutionTask

    market = MarketDataset.synthetic(n_symbols=4, n_days=20, seed=7, signal=2.0)
    task = ExecutionTask(market, config=PAPER_CONFIG, num_orders=len(market.split("train")))
    orders = task.sample(None, np.random.default_rng(0), episode=np.arange(len(task.dataset)))
    bound = PublicBound(task)
    rng = np.random.default_rng(1)

    def plan(bars: dict[str, np.ndarray]) -> np.ndarray:
        bars["high"] = np.maximum.reduce([bars[n] for n in ("open", "high", "low", "close", "price")])
        bars["low"] = np.minimum.reduce([bars[n] for n in ("open", "high", "low", "close", "price")])
        other = ExecutionTask(replace(market, bars=bars), config=PAPER_CONFIG, num_orders=len(orders))
        return bound.plan(other, orders).returns

    shaken = {name: values * rng.uniform(0.9, 1.1, values.shape).astype(np.float32) for name, values in market.bars.items()}
    shaken["open"][:, 0], shaken["close"][:, -1] = market.bars["open"][:, 0], market.bars["close"][:, -1]
    np.testing.assert_array_equal(plan(shaken), bound.plan(task, orders).returns)
    opens = {name: np.array(values) for name, values in market.bars.items()}
    opens["open"][:, 0] *= 1.01
    assert not np.array_equal(plan(opens), bound.plan(task, orders).returns)


def test_public_bound_needs_the_synthetic_model(small_market):
    from dataclasses import replace

    real_like = replace(small_market, model={})
    with pytest.raises(ValueError, match="synthetic market's model"):
        evaluate("PublicBound", real_like, "test", n_orders=3)


#: The agents of the quick sweep, in its tables' order.
SWEEP_AGENTS = ("TWAP", "PublicBound", "Oracle", "teacher (privileged)", "OPD student (μ = 0.01)",
                "OPD student (μ = 1)", "RecurrentPPO (no distillation)")  # fmt: skip


def check_quick_sweep(out: Path, markets: tuple[str, ...]) -> None:
    """The quick sweep's sections, tables.md and plots in ``out``: every agent on every market, with its schedules'
    shape and, for the learned agents, the training logs."""
    text = (out / signal_sweep.TABLES).read_text()
    for name in markets:
        assert f"## {name}\n" in text
        measured = json.loads((out / f"{name}.json").read_text())
        expected = list(SWEEP_AGENTS)
        if name == "afternoon-reversal":  # the stronger public rule there, with its intervals
            expected.insert(3, signal_sweep.WAITING)
            assert f"PA − {signal_sweep.WAITING}" in text
        assert [row["agent"] for row in measured["rows"]] == expected
        assert all(len(row["step_shares"]) == 8 and 0 <= row["one_step_share"] <= 1 for row in measured["rows"])
        for agent in SWEEP_AGENTS[4:]:  # the students and the control: entropy, L_d and agreement at every update
            assert set(measured["training"][agent]) == {"entropy", "L_d", "agreement"}
        assert set(measured["training"]["teacher (privileged)"]) == {"entropy"}
        assert (out / f"{name}_training.png").stat().st_size > 5000
    for agent in SWEEP_AGENTS:
        assert f"| {agent} |" in text
    assert (out / "signal_pa.png").stat().st_size > 5000


def test_a_tiny_signal_sweep_in_this_process(tmp_path, monkeypatch):
    """The sweep's trials, measurements and pages on the quick markets with a tiny budget; a second run takes the
    kept trials back instead of training them again."""
    steps = dict(teacher=512, student=512, ppo=512)
    tiny = replace(signal_sweep.QUICK.experiment, steps=steps, n_envs=4, eval_freq=512)
    sweep = replace(signal_sweep.QUICK, experiment=tiny)
    trials, reused = signal_sweep.run_sweep(sweep, trials=tmp_path / "trials")
    assert reused == 0
    assert {name: [t.seed for t in runs] for name, runs in trials.items()} == {name: [0] for name in sweep.markets}
    out = tmp_path / "out"
    measured = {name: signal_sweep.measure(sweep, name, trials[name]) for name in sweep.markets}
    assert measured["signal-0"]["public_valid"] < measured["signal-4"]["public_valid"]  # a stronger signal pays more
    curve = measured["signal-4"]["curves"]["RecurrentPPO (no distillation)"]
    assert np.shape(curve["pa"]) == (1, len(curve["steps"])) and curve["steps"][0] == 512
    for name in sweep.markets:
        signal_sweep.write_section(measured[name], out, wall=1.0, how="one trial at a time")
    signal_sweep.write_results(out)
    check_quick_sweep(out, sweep.markets)

    def no_training(jobs, **options):
        assert jobs == [], "a kept trial was trained again"
        return []

    monkeypatch.setattr(experiment, "run_trials", no_training)
    again, reused = signal_sweep.run_sweep(sweep, trials=tmp_path / "trials")
    assert reused == len(sweep.markets)
    for name in sweep.markets:
        assert again[name][0].log == trials[name][0].log
    other = replace(sweep, experiment=replace(tiny, mus=(0.1,)))
    assert signal_sweep.trial_path(tmp_path, other, "signal-0", 0) != signal_sweep.trial_path(tmp_path, sweep, "signal-0", 0)
    kept = signal_sweep.trial_path(tmp_path / "trials", sweep, "signal-0", 0)
    monkeypatch.setenv("ORDER_EXEC_GYM_QUICK", "1")  # a smoke run's trials are never taken for the sweep's
    assert signal_sweep.trial_path(tmp_path / "trials", sweep, "signal-0", 0) != kept
    with pytest.raises(ValueError, match="not a trial of seed 1"):
        experiment.load_trial(kept, sweep.experiment, seed=1)


def test_kept_trials_keep_their_names(monkeypatch):
    """The key of a kept trial is stable: the name a trial of the full sweep was kept under on 2026-12-05 (before the
    keeping moved to sb3_distill.experiment) still finds it, so a kept seed is never trained again by mistake."""
    monkeypatch.delenv("ORDER_EXEC_GYM_QUICK", raising=False)
    path = signal_sweep.trial_path(Path("kept"), signal_sweep.Sweep(), "weak-fade", 2)
    assert path == Path("kept") / "weak-fade-seed2-77f32fe2360498ef.pkl"


def test_the_sweeps_command_line_narrows_the_sweep():
    args = signal_sweep.parser().parse_args(["--markets", "weak-fade", "--seeds", "0", "1", "--steps", "5000"])
    sweep = signal_sweep.configure(args)
    assert sweep.markets == ("weak-fade",) and sweep.seeds == (0, 1)
    assert sweep.experiment.steps == {"teacher": 5000, "student": 5000, "ppo": 5000}
    full = signal_sweep.configure(signal_sweep.parser().parse_args([]))
    assert full.markets == tuple(signal_sweep.MARKETS) and full.seeds == (0, 1, 2)
    assert min(full.experiment.steps.values()) >= 700_000  # ten times the first sweep's 70,000 (issue 21)
    with pytest.raises(ValueError, match="unknown market"):
        signal_sweep.market(full, "signal-3")


def test_signal_sweep_quick_mode(tmp_path):
    """The script's --quick run (the CI's run of the benchmark)."""
    command = [sys.executable, str(ROOT / "benchmarks" / "signal_sweep.py"), "--quick", "--out", str(tmp_path),
               "--no-trials"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    check_quick_sweep(tmp_path, signal_sweep.QUICK.markets)


def test_the_target_line_says_whether_a_student_beats_its_control_or_learns_twice_as_fast():
    student, slow = "OPD student (μ = 0.1)", "OPD student (μ = 1)"
    measured = {
        "public_valid": 10.0,
        "rows": [{"agent": student, "vs_" + signal_sweep.CONTROL: {"seeds_days": (2.0, 0.5, 3.5)}},
                 {"agent": slow, "vs_" + signal_sweep.CONTROL: {"seeds_days": (1.0, -0.5, 2.5)}},
                 {"agent": "PublicBound", "vs_TWAP": {"seeds_days": (12.0, 8.0, 16.0)}}],
        "curves": {student: {"steps": [100, 200, 300], "pa": [[5.0, 6.0, 7.0]]},
                   slow: {"steps": [100, 200, 300], "pa": [[1.0, 2.0, 3.0]]},
                   signal_sweep.CONTROL: {"steps": [100, 200, 300], "pa": [[1.0, 4.0, 5.0]]}},
    }  # fmt: skip
    lines = signal_sweep.target(measured)
    assert f"- {student}: beats the control beyond noise: **yes**; half the public bound in at most half the " \
           "control's steps: **yes** (100 against 300)." in lines  # fmt: skip
    assert f"- {slow}: beats the control beyond noise: **no**; half the public bound in at most half the " \
           "control's steps: **no** (never against 300)." in lines  # fmt: skip
    # without a public signal (the PublicBound within noise of TWAP, or not above 0 on the valid days) half the
    # public bound is noise: reaching it first is not counted as learning faster
    measured["rows"][-1]["vs_TWAP"]["seeds_days"] = (1.4, -2.4, 5.1)
    assert f"- {student}: beats the control beyond noise: **yes**; half the public bound in at most half the " \
           "control's steps: **not defined** (no public signal: the PublicBound is not above TWAP beyond noise on the " \
           "test days, +1.40 [-2.40, +5.10])." in signal_sweep.target(measured)  # fmt: skip
    measured["rows"][-1]["vs_TWAP"]["seeds_days"], measured["public_valid"] = (12.0, 8.0, 16.0), -0.7
    assert f"- {slow}: beats the control beyond noise: **no**; half the public bound in at most half the " \
           "control's steps: **not defined** (no public signal: the PublicBound's valid PA is -0.70 bps)." \
           in signal_sweep.target(measured)  # fmt: skip
