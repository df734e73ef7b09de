"""Figures of evaluation results (matplotlib, Agg backend: files only, no display).

- :func:`plot_schedule`: the executed schedules of several agents on one order, as cumulative share executed
  against time, above the order's step prices relative to its benchmark;
- :func:`plot_pa_distribution`: the price-advantage histogram of each agent;
- :func:`plot_learning_curves`: episode reward against timesteps from Stable-Baselines3 logs (``progress.csv`` of
  the CSV logger, or ``*monitor.csv`` of ``Monitor`` / ``VecMonitor``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after selecting the backend)
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from order_exec_gym.evaluation import EvaluationResult  # noqa: E402

PROGRESS_X = "time/total_timesteps"
PROGRESS_Y = "rollout/ep_rew_mean"


def _save(figure: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


def plot_schedule(results: dict[str, EvaluationResult], order_index: int, path: str | Path) -> Path:
    """Cumulative share executed against minutes into the window for order ``order_index`` of every result
    (TWAP drawn as a dashed reference when it is not among them), above the order's step prices in basis points
    from its benchmark. All results must cover the same orders. Returns the PNG path."""
    if not results:
        raise ValueError("plot_schedule needs at least one result")
    first = next(iter(results.values()))
    n = first.orders.height
    if not 0 <= order_index < n:
        raise IndexError(f"order_index {order_index} out of range for {n} orders")
    order = first.orders.row(order_index, named=True)
    n_steps, minutes = order["n_steps"], first.step_minutes
    edges = np.minimum(np.arange(n_steps + 1) * minutes, order["length"] * first.bar_minutes)  # last step may be short
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, height_ratios=(2, 1))
    if "TWAP" not in results:
        top.plot(edges, np.linspace(0, 1, n_steps + 1), "k--", lw=1, label="TWAP")
    for name, result in results.items():
        executed = np.concatenate([[0.0], np.cumsum(result.schedules[order_index, :n_steps])])
        pa = result.orders["price_advantage"][order_index]
        top.plot(edges, executed, label=f"{name} (PA {pa:+.1f} bps)")  # each step fills evenly over its bars
    top.set_ylabel("share executed")
    top.set_ylim(-0.02, 1.02)
    top.legend(fontsize=8)
    top.set_title(f"{order['symbol']} {order['date']} {order['side']}, {n_steps} steps of {minutes} min")
    relative = 1e4 * (first.step_prices[order_index, :n_steps] / order["benchmark_price"] - 1.0)
    bottom.step(edges, np.append(relative, relative[-1]), where="post", color="tab:gray")
    bottom.axhline(0.0, color="k", lw=0.8)
    bottom.set_ylabel("step price vs\nbenchmark (bps)")
    bottom.set_xlabel("minutes into the window")
    return _save(figure, path)


def plot_pa_distribution(results: dict[str, EvaluationResult], path: str | Path, bins: int = 50) -> Path:
    """Histogram of the price advantage (bps) of each agent on shared bins, with its mean dashed. Returns the
    PNG path."""
    if not results:
        raise ValueError("plot_pa_distribution needs at least one result")
    pa = {name: result.orders["price_advantage"].to_numpy() for name, result in results.items()}
    values = np.concatenate(list(pa.values()))
    low, high = np.percentile(values, [0.5, 99.5]) if len(values) else (0.0, 1.0)
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    figure, axes = plt.subplots(figsize=(8, 4.5))
    for i, (name, values) in enumerate(pa.items()):
        color = f"C{i}"
        label = f"{name} (mean {values.mean():+.2f})"
        axes.hist(np.clip(values, edges[0], edges[-1]), bins=edges, histtype="step", lw=1.5, color=color, label=label)
        axes.axvline(values.mean(), color=color, ls="--", lw=1)
    axes.set_xlabel("price advantage (bps; tails clipped to the 0.5-99.5% range)")
    axes.set_ylabel("orders")
    axes.legend(fontsize=8)
    return _save(figure, path)


def read_learning_curve(log: str | Path, x: str = PROGRESS_X, y: str = PROGRESS_Y) -> tuple[np.ndarray, np.ndarray]:
    """``(timesteps, episode reward)`` from an SB3 log: a ``progress.csv`` (columns ``x`` and ``y``), a
    ``*monitor.csv`` (cumulative episode lengths ``l`` and rewards ``r``), or a directory holding one of them."""
    log = Path(log)
    if log.is_dir():
        found = sorted(log.glob("progress.csv")) or sorted(log.glob("*monitor.csv"))
        if not found:
            raise FileNotFoundError(f"{log}: no progress.csv or *monitor.csv inside")
        log = found[0]
    if log.name.endswith("monitor.csv"):
        with log.open() as handle:
            skip = 1 if handle.readline().startswith("#") else 0  # Monitor's '#{json}' metadata line
        frame = pl.read_csv(log, skip_rows=skip)
        return np.cumsum(frame["l"].to_numpy()), frame["r"].to_numpy().astype(np.float64)
    frame = pl.read_csv(log, infer_schema_length=None)
    missing = [c for c in (x, y) if c not in frame.columns]
    if missing:
        raise KeyError(f"{log}: no column {missing} (columns: {frame.columns})")
    frame = frame.select(x, y).drop_nulls()
    return frame[x].to_numpy(), frame[y].to_numpy().astype(np.float64)


def plot_learning_curves(logs: dict[str, str | Path], path: str | Path, x: str = PROGRESS_X, y: str = PROGRESS_Y) -> Path:
    """Episode reward against timesteps for each named SB3 log (see :func:`read_learning_curve`). Returns the PNG
    path."""
    figure, axes = plt.subplots(figsize=(8, 4.5))
    for name, log in logs.items():
        steps, reward = read_learning_curve(log, x, y)
        axes.plot(steps, reward, label=name)
    axes.set_xlabel("timesteps")
    axes.set_ylabel("episode reward")
    axes.legend(fontsize=8)
    return _save(figure, path)
