"""Scores: one normalised number per task and run, and their aggregates with honest intervals.

Per task and run, the **normalised score** is ``100 * (PA - PA_TWAP) / (PA_Oracle - PA_TWAP)``: 0 is TWAP, 100 the
Oracle (the perfect-information optimum in the task's action set), on the same orders; where the market's model
gives one, the **public score** puts the ``PublicBound`` (a strong rule that knows the model) at 100 instead.

Across tasks and runs (seeds), following Agarwal et al., "Deep RL at the Edge of the Statistical Precipice"
(NeurIPS 2021, the ``rliable`` recommendations): the **interquartile mean** (IQM, the mean of the middle 50% of
the run x task scores) and the **mean**, each with a **stratified bootstrap** 95% interval, and the **probability
of improvement** ``P(X > Y)`` of one agent over another. The bootstrap resamples, within each task, the runs and
the days (whole days of orders, which share the market's move; the same days for the agent and for the references
that normalise it): a deterministic agent's score still varies with the days it happened to be scored on. Written with numpy (a few lines), rather than
depending on ``rliable``, which brings ``arch``, ``pandas`` and ``seaborn`` for these two statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

N_RESAMPLES = 2000


def normalized_score(pa: float | np.ndarray, low: float | np.ndarray, high: float | np.ndarray) -> float | np.ndarray:
    """``100 * (pa - low) / (high - low)``: 0 at ``low`` (TWAP), 100 at ``high`` (the Oracle); NaN where
    ``high == low``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(high) != np.asarray(low), 100.0 * (np.asarray(pa) - low) / (np.asarray(high) - low), np.nan)


def iqm(scores: np.ndarray, axis: int | None = None) -> np.ndarray:
    """The interquartile mean of ``scores`` (flattened, or along ``axis``): the mean of the values between the 25th
    and 75th percentiles, a quarter trimmed from each end (``scipy.stats.trim_mean(x, 0.25)``)."""
    values = np.sort(np.asarray(scores, dtype=np.float64).reshape(-1) if axis is None else np.moveaxis(scores, axis, -1), axis=-1)
    n = values.shape[-1]
    cut = int(0.25 * n)
    return values[..., cut : n - cut].mean(axis=-1)


AGGREGATES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "iqm": lambda scores: iqm(scores.reshape(scores.shape[0], -1), axis=1),
    "mean": lambda scores: scores.reshape(scores.shape[0], -1).mean(axis=1),
}


@dataclass(frozen=True)
class TaskScores:
    """One agent's per-order price advantages on one task, with the references' on the same orders.

    :param pa: ``(runs, orders)`` the agent's PA (bps)
    :param low: ``(orders,)`` the PA of the score's 0 (TWAP)
    :param high: ``(orders,)`` the PA of the score's 100 (the Oracle, or the PublicBound)
    :param days: ``(orders,)`` each order's day: the bootstrap resamples whole days (orders of one day share the
        market's move, so they are not independent draws); None: orders
    """

    pa: np.ndarray
    low: np.ndarray
    high: np.ndarray
    days: np.ndarray | None = None

    def scores(self) -> np.ndarray:
        """The score of each run, ``(runs,)``."""
        return normalized_score(self.pa.mean(axis=1), self.low.mean(), self.high.mean())

    def resampled(self, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(n, runs)``: the runs' scores on each of ``n`` resamples of the orders (``weights``, from
        :func:`order_weights`: the same orders for the runs and the references) and of the runs."""
        pa = weights @ self.pa.T  # (n, runs): each run's mean PA on the resampled orders
        scores = normalized_score(pa, (weights @ self.low)[:, None], (weights @ self.high)[:, None])
        runs = self.pa.shape[0]
        return np.take_along_axis(scores, rng.integers(0, runs, size=scores.shape), axis=1)


def order_weights(rng: np.random.Generator, n: int, task: TaskScores) -> np.ndarray:
    """``(n, orders)``: ``n`` bootstrap resamples of the task's days (or orders, without days), as each order's
    share of the resampled orders."""
    if task.days is None:
        label, sizes = np.arange(task.pa.shape[1]), np.ones(task.pa.shape[1])
    else:
        _, label = np.unique(task.days, return_inverse=True)
        sizes = np.bincount(label).astype(np.float64)
    counts = rng.multinomial(len(sizes), np.full(len(sizes), 1.0 / len(sizes)), size=n).astype(np.float64)
    return counts[:, label] / (counts @ sizes)[:, None]


def aggregate(tasks: Mapping[str, TaskScores], confidence: float = 0.95, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """``{"iqm": (value, low, high), "mean": (...)}`` over the run x task scores, with stratified bootstrap
    intervals (each task resampled on its own, ``N_RESAMPLES`` times)."""
    scores = np.stack([task.scores() for task in tasks.values()], axis=1)  # (runs, tasks)
    rng = np.random.default_rng(seed)
    replicates = np.stack(
        [task.resampled(order_weights(rng, N_RESAMPLES, task), rng) for task in tasks.values()], axis=2
    )  # (n, runs, tasks)
    alpha = 100 * (1 - confidence) / 2
    out = {}
    for name, statistic in AGGREGATES.items():
        values = statistic(replicates)
        low, high = np.nanpercentile(values, [alpha, 100 - alpha])
        out[name] = (float(statistic(scores[None])[0]), float(low), float(high))
    return out


def probability_of_improvement(
    x: Mapping[str, TaskScores], y: Mapping[str, TaskScores], confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """``P(X > Y)``: over the tasks both have, the mean of the probability that a run of X scores above a run of Y
    (ties count half), with a stratified bootstrap interval."""
    common = [task for task in x if task in y]
    if not common:
        raise ValueError("the agents share no task: nothing to compare")

    def probability(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # (..., runs_a), (..., runs_b) -> (...)
        diff = a[..., :, None] - b[..., None, :]
        return ((diff > 0) + 0.5 * (diff == 0)).mean(axis=(-2, -1))

    value = float(np.mean([probability(x[t].scores(), y[t].scores()) for t in common]))
    rng = np.random.default_rng(seed)
    replicates = []
    for t in common:
        if x[t].pa.shape[1] != y[t].pa.shape[1]:
            raise ValueError(f"task {t}: the agents were scored on {x[t].pa.shape[1]} and {y[t].pa.shape[1]} orders")
        weights = order_weights(rng, N_RESAMPLES, x[t])  # the same days (orders) for both agents
        replicates.append(probability(x[t].resampled(weights, rng), y[t].resampled(weights, rng)))
    replicates = np.mean(replicates, axis=0)
    alpha = 100 * (1 - confidence) / 2
    low, high = np.percentile(replicates, [alpha, 100 - alpha])
    return value, float(low), float(high)
