"""Figures of evaluation results (matplotlib, Agg backend: files only, no display).

- :func:`plot_schedule`: the executed schedules of several agents on one order, as cumulative share executed
  against time, above the order's step prices relative to its benchmark; its title says how the order was chosen;
- :func:`plot_pa_distribution`: the price-advantage histogram of each agent (an agent whose orders all fall in one
  bin, TWAP's, as a line at its mean), titled with the orders, the market and the split;
- :func:`plot_learning_curves`: episode reward against timesteps from Stable-Baselines3 logs (``progress.csv`` of
  the CSV logger, or ``*monitor.csv`` of ``Monitor`` / ``VecMonitor``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


#: Line style and marker of the n-th agent of a plot, so that lines that cross or run together stay told apart (the
#: legends stand right of the plots, over no line).
STYLES = (("-", "o"), ("--", "s"), ("-.", "^"), (":", "D"), ((0, (5, 1, 1, 1)), "v"), ((0, (1, 1)), "P"))
LEGEND = dict(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)  # outside, right of the lines


def _signed(value: float, digits: int) -> str:
    """``value`` with its sign to ``digits`` decimals, never ``-0.0`` (TWAP's PA is 0 up to rounding noise)."""
    return f"{round(float(value), digits) + 0.0:+.{digits}f}"


def _same_as(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """``{name: earlier name}`` for each array equal to an earlier one's (lines that would hide each other)."""
    same: dict[str, str] = {}
    names = list(arrays)
    for i, name in enumerate(names):
        for other in names[:i]:
            if arrays[name].shape == arrays[other].shape and np.allclose(arrays[name], arrays[other], equal_nan=True):
                same[name] = same.get(other, other)
                break
    return same


def _line_styles(arrays: dict[str, np.ndarray]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Matplotlib keywords of each agent's line (color, style, marker size, width, draw order), and
    :func:`_same_as`: an agent whose line others repeat is drawn as a wide translucent band, under their thin lines,
    so every one of them shows."""
    same = _same_as(arrays)
    repeated = set(same.values())
    styles = []
    for i, name in enumerate(arrays):
        linestyle, marker = STYLES[i % len(STYLES)]
        band = dict(ls="-", lw=6.0, alpha=0.4, ms=8.0) if name in repeated else dict(ls=linestyle, lw=1.8, ms=4.0)
        styles.append(dict(color=f"C{i}", marker=marker, zorder=2 + i, **band))
    return styles, same


def plot_schedule(
    results: dict[str, EvaluationResult], order_index: int, path: str | Path, chosen: str = "chosen by its index"
) -> Path:
    """Cumulative share executed against minutes into the window for order ``order_index`` of every result
    (TWAP drawn as a dashed reference when it is not among them), above the order's step prices in basis points
    from its benchmark. All results must cover the same orders. Returns the PNG path.

    Each agent has its own color, line style and marker; an agent whose schedule others repeat (an Oracle that a
    teacher learnt) is a wide translucent band under their thin lines, and the legend, right of the plot, says which
    agents executed the same schedule: no line hides another. The title says which order this
    is and ``chosen``: how it was chosen (e.g. ``"the teacher's median-PA order"``).
    """
    if not results:
        raise ValueError("plot_schedule needs at least one result")
    first = next(iter(results.values()))
    n = first.orders.height
    if not 0 <= order_index < n:
        raise IndexError(f"order_index {order_index} out of range for {n} orders")
    order = first.orders.row(order_index, named=True)
    n_steps, minutes = order["n_steps"], first.step_minutes
    edges = np.minimum(np.arange(n_steps + 1) * minutes, order["length"] * first.bar_minutes)  # last step may be short
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=(2, 1))
    if "TWAP" not in results:
        top.plot(edges, np.linspace(0, 1, n_steps + 1), "k--", lw=1, label="TWAP (reference)")
    executed = {  # each step fills evenly over its bars
        name: np.concatenate([[0.0], np.cumsum(result.schedules[order_index, :n_steps])])
        for name, result in results.items()
    }
    styles, same = _line_styles(executed)
    for style, (name, result) in zip(styles, results.items()):
        pa = result.orders["price_advantage"][order_index]
        label = f"{name} (PA {_signed(pa, 1)} bps)" + (f"\n  same schedule as {same[name]}" if name in same else "")
        top.plot(edges, executed[name], label=label, **style)
    top.set_ylabel("share executed")
    top.set_ylim(-0.02, 1.02)
    top.legend(**LEGEND)
    top.set_title(
        f"{order['symbol']} {order['date']} {order['side']}, {n_steps} steps of {minutes} min\n"
        f"order {order_index} of the {n} evaluated orders, {chosen}",
        fontsize=10,
    )
    relative = 1e4 * (first.step_prices[order_index, :n_steps] / order["benchmark_price"] - 1.0)
    bottom.step(edges, np.append(relative, relative[-1]), where="post", color="tab:gray")
    bottom.axhline(0.0, color="k", lw=0.8)
    bottom.set_ylabel("step price vs\nbenchmark (bps)")
    bottom.set_xlabel("minutes into the window")
    return _save(figure, path)


def plot_pa_distribution(
    results: dict[str, EvaluationResult],
    path: str | Path,
    bins: int = 50,
    market: str | None = None,
    split: str | None = None,
) -> Path:
    """Histogram of the price advantage (bps) of each agent on shared bins, with its mean dashed. Returns the
    PNG path.

    An agent whose every order falls in one bin (TWAP, whose PA is 0 against the mean price) is drawn as a solid
    vertical line at its mean instead, and the y-axis fits the other histograms: its one-bin spike would flatten
    them (the legend says so). The title names the number of orders, their dates and instruments, and ``market``
    and ``split`` when given.
    """
    if not results:
        raise ValueError("plot_pa_distribution needs at least one result")
    pa = {name: result.orders["price_advantage"].to_numpy() for name, result in results.items()}
    values = np.concatenate(list(pa.values()))
    low, high = np.percentile(values, [0.5, 99.5]) if len(values) else (0.0, 1.0)
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    width = edges[1] - edges[0]
    styles, same = _line_styles(pa)
    figure, axes = plt.subplots(figsize=(10, 4.5))
    for style, (name, values) in zip(styles, pa.items()):
        style = {key: value for key, value in style.items() if key not in ("marker", "ms")}
        label = f"{name} (mean {_signed(values.mean(), 2)})" + (f"\n  same PA as {same[name]}" if name in same else "")
        if len(values) and np.ptp(values) < width:  # a spike in one bin: a line, which sets no y-range
            label += f"\n  all {len(values)} orders in one bin: drawn as a line"
            axes.axvline(values.mean(), label=label, **{**style, "ls": "-", "lw": max(style["lw"], 2.5)})
            continue
        axes.hist(np.clip(values, edges[0], edges[-1]), bins=edges, histtype="step", label=label, **style)
        axes.axvline(values.mean(), color=style["color"], ls="--", lw=1, zorder=style["zorder"])
    axes.set_xlabel("price advantage (bps; tails clipped to the 0.5-99.5% range; dashed: each agent's mean)")
    axes.set_ylabel("orders")
    axes.legend(**LEGEND)
    orders = next(iter(results.values())).orders
    where = ", ".join(part for part in (market, f"{split} split" if split else None) if part)
    dates = f"{orders['date'].min()} to {orders['date'].max()}, " if orders.height else ""
    axes.set_title(
        f"Price advantage of {orders.height} orders" + (f": {where}" if where else "")
        + f"\n({dates}{orders['symbol'].n_unique()} instruments)",
        fontsize=10,
    )  # fmt: skip
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
