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


@pytest.fixture
def figures(monkeypatch):
    """The figures the plots draw, kept (and still saved) for their contents to be checked."""
    import order_exec_gym.plots as plots

    kept = []
    save = plots._save

    def keep(figure, path):
        figure.canvas.draw()  # lay out the legend, to read where it is
        kept.append(figure)
        return save(figure, path)

    monkeypatch.setattr(plots, "_save", keep)
    return kept


def legend_outside(axes) -> bool:
    """Whether the axes' legend lies wholly right of its plotting area, over none of the lines."""
    legend = axes.get_legend().get_window_extent()
    return legend.x0 >= axes.get_window_extent().x1


def test_schedule_tells_a_teacher_apart_from_the_oracle_it_copies(results, figures, tmp_path):
    """The teacher that learnt the Oracle's schedule was hidden under it; the legend covered the lines."""
    copied = {"TWAP": results["TWAP"], "teacher": results["Oracle"], "VWAP": results["VWAP"], "Oracle": results["Oracle"]}
    assert is_png(plot_schedule(copied, 3, tmp_path / "schedule.png", chosen="the teacher's median order"))
    (figure,) = figures
    top = figure.axes[0]
    lines = {line.get_label().split(" (")[0]: line for line in top.get_lines()}
    assert list(lines) == ["TWAP", "teacher", "VWAP", "Oracle"]
    teacher, oracle = lines["teacher"], lines["Oracle"]
    np.testing.assert_array_equal(teacher.get_ydata(), oracle.get_ydata())  # the same schedule ...
    assert teacher.get_linewidth() > 2 * oracle.get_linewidth() and teacher.get_zorder() < oracle.get_zorder()  # ... both show
    styles = {(line.get_linestyle(), line.get_marker()) for name, line in lines.items() if name != "teacher"}
    assert len(styles) == 3  # the others differ in style and marker, not in color only
    assert "same schedule as teacher" in oracle.get_label() and "same schedule" not in lines["VWAP"].get_label()
    assert legend_outside(top)
    assert "order 3 of the 20 evaluated orders, the teacher's median order" in top.get_title()
    plot_schedule(results, 0, tmp_path / "default.png")
    assert "order 0 of the 20 evaluated orders, chosen by its index" in figures[1].axes[0].get_title()


def test_pa_distribution_draws_a_one_bin_agent_as_a_line_and_has_a_title(small_market, figures, tmp_path):
    """TWAP's PA is 0 on every order (whole sessions of whole steps): its one-bin spike of 20 flattened the other
    histograms; the plot had no title."""
    results = evaluate_agents({name: name for name in ("TWAP", "VWAP", "Oracle")}, small_market, n_orders=20)
    path = plot_pa_distribution(results, tmp_path / "pa.png", market="synthetic(seed=7)", split="test")
    assert is_png(path)
    (figure,) = figures
    axes = figure.axes[0]
    tallest = max(patch.get_path().vertices[:, 1].max() for patch in axes.patches)  # the histograms drawn
    assert len(axes.patches) == 2 and tallest < 20  # VWAP's and the Oracle's; TWAP is no histogram ...
    assert axes.get_ylim()[1] < 20 and axes.get_ylim()[1] < 1.2 * tallest  # ... and sets no y-range
    twap = next(line for line in axes.get_lines() if line.get_label().startswith("TWAP"))
    assert np.allclose(twap.get_xdata(), 0.0, atol=1e-6) and "all 20 orders in one bin: drawn as a line" in twap.get_label()
    assert legend_outside(axes)
    orders = results["TWAP"].orders
    title = axes.get_title()
    assert title.startswith("Price advantage of 20 orders: synthetic(seed=7), test split")
    assert f"{orders['date'].min()} to {orders['date'].max()}, {orders['symbol'].n_unique()} instruments" in title
