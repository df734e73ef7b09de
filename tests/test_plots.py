"""Plots render PNG files from evaluation results and SB3 logs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from order_exec_gym.evaluation import evaluate_agents
from order_exec_gym.plots import plot_learning_curves, plot_pa_distribution, plot_schedule, read_learning_curve

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results(small_market):
    return evaluate_agents({name: name for name in ("TWAP", "VWAP", "Oracle")}, small_market, n_orders=20, config=dict(step_minutes=7, window_minutes=100))


def is_png(path) -> bool:
    return path.exists() and path.read_bytes()[:8] == PNG and path.stat().st_size > 5000


def test_schedule_and_pa_distribution(results, tmp_path):
    assert is_png(plot_schedule(results, 3, tmp_path / "schedule.png"))
    assert is_png(plot_schedule({"Oracle": results["Oracle"]}, 0, tmp_path / "nested" / "oracle.png"))  # TWAP drawn as reference
    assert is_png(plot_pa_distribution(results, tmp_path / "pa.png"))
    with pytest.raises(IndexError, match="out of range"):
        plot_schedule(results, 20, tmp_path / "x.png")
    with pytest.raises(ValueError, match="at least one"):
        plot_pa_distribution({}, tmp_path / "x.png")


def test_learning_curves_from_progress_and_monitor_logs(tmp_path):
    progress = tmp_path / "ppo" / "progress.csv"
    progress.parent.mkdir()
    progress.write_text("time/total_timesteps,rollout/ep_rew_mean,train/loss\n64,-0.5,\n128,-0.25,0.1\n192,0.0,0.2\n")
    monitor = tmp_path / "dqn.monitor.csv"
    monitor.write_text("#" + json.dumps({"t_start": 0.0, "env_id": "OrderExec-v0"}) + "\nr,l,t\n-1.0,8,0.1\n0.5,8,0.2\n")
    steps, reward = read_learning_curve(progress.parent)
    np.testing.assert_array_equal(steps, [64, 128, 192])
    np.testing.assert_array_equal(reward, [-0.5, -0.25, 0.0])
    steps, reward = read_learning_curve(monitor)
    np.testing.assert_array_equal(steps, [8, 16])
    np.testing.assert_array_equal(reward, [-1.0, 0.5])
    assert is_png(plot_learning_curves({"PPO": progress.parent, "DQN": monitor}, tmp_path / "curves.png"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no progress.csv"):
        read_learning_curve(empty)
    with pytest.raises(KeyError, match="rollout/ep_len_mean"):
        read_learning_curve(progress, y="rollout/ep_len_mean")
