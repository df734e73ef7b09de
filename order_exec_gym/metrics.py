"""Metrics over a set of executed orders (DESIGN §1), from per-order price advantages and rewards.

For order ``i`` with price advantage ``PA_i`` (basis points, ``1e4 * s * (P_i / p_bench_i - 1)``) and unscaled
episode reward ``R_i``:

- mean reward ``mean_i R_i``; mean PA ``mean_i PA_i``; PA std, the population standard deviation (ddof 0);
- gain-loss ratio ``GLR = E[PA | PA > 0] / |E[PA | PA < 0]|``, where ``|PA| <= tol`` counts as zero (floating
  noise, e.g. TWAP at one-minute steps): ``inf`` with gains and no losses, ``0`` with losses and no gains,
  ``nan`` with neither (every PA zero, or no orders);
- a paired bootstrap confidence interval of the mean PA difference between two agents on the same orders (by
  orders, or by groups of orders such as days), and one over several training seeds and days at once;
- the shape of the schedules (:func:`schedule_profile`): the share of orders traded in one step (at least
  :data:`ONE_STEP_THRESHOLD` of the order in one step: an all-at-once bet) and the mean executed share at each step;
- the PA of those mean shares given to the orders at random (:func:`shuffled_shares_pa`): what the schedules' shape
  earns without choosing per order, the line between a fixed bet and timing.
"""

from __future__ import annotations

import numpy as np

#: |PA| at or below this many basis points counts as zero in the gain-loss ratio.
PA_TOLERANCE = 1e-6
#: An order whose largest step executes at least this fraction of the order counts as traded in one step.
ONE_STEP_THRESHOLD = 0.95


def _as_vector(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"{name} must be one value per order (1-D), got shape {values.shape}")
    return values


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _group_labels(groups: np.ndarray, n_orders: int) -> tuple[np.ndarray, np.ndarray]:
    """Each order's group index (0 .. G - 1) and the number of orders in each group, ``(label, counts)``."""
    groups = np.asarray(groups)
    if groups.shape != (n_orders,):
        raise ValueError(f"groups must label every order, got {groups.shape} for {n_orders} orders")
    _, label = np.unique(groups, return_inverse=True)
    return label, np.bincount(label).astype(np.float64)


def _percentile_interval(means: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` interval of bootstrap means."""
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def mean_reward(rewards: np.ndarray) -> float:
    """Mean episode reward (nan for no orders)."""
    rewards = _as_vector(rewards, "rewards")
    return float(rewards.mean()) if len(rewards) else float("nan")


def pa_mean(pa: np.ndarray) -> float:
    """Mean price advantage in basis points (nan for no orders)."""
    pa = _as_vector(pa, "pa")
    return float(pa.mean()) if len(pa) else float("nan")


def pa_std(pa: np.ndarray) -> float:
    """Population standard deviation of the price advantage (0 for one order, nan for none)."""
    pa = _as_vector(pa, "pa")
    return float(pa.std()) if len(pa) else float("nan")


def gain_loss_ratio(pa: np.ndarray, tol: float = PA_TOLERANCE) -> float:
    """``E[PA | PA > tol] / |E[PA | PA < -tol]|``; ``inf`` without losses, ``0`` without gains, ``nan`` without
    either."""
    pa = _as_vector(pa, "pa")
    gains, losses = pa[pa > tol], pa[pa < -tol]
    if len(losses) == 0:
        return float("inf") if len(gains) else float("nan")
    if len(gains) == 0:
        return 0.0
    return float(gains.mean() / -losses.mean())


def paired_bootstrap_ci(
    pa: np.ndarray,
    pa_reference: np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """Mean PA difference ``mean(pa - pa_reference)`` over the same orders and its percentile bootstrap interval.

    The orders are resampled with replacement (pairs kept together) ``n_resamples`` times with a generator seeded
    by ``seed``. With ``groups`` (e.g. each order's date), whole groups are resampled instead (cluster
    bootstrap): orders of one day share the market's move, so they are not independent draws. One order (or one
    group) gives the degenerate interval ``(d, d, d)`` (no spread to resample); no orders give nans.

    :return: ``(difference, low, high)``
    """
    pa, pa_reference = _as_vector(pa, "pa"), _as_vector(pa_reference, "pa_reference")
    if pa.shape != pa_reference.shape:
        raise ValueError(f"paired PA arrays must cover the same orders, got {len(pa)} and {len(pa_reference)} values")
    _check_confidence(confidence)
    n = len(pa)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    diff = pa - pa_reference
    mean = float(diff.mean())
    if groups is None:
        sums, counts = diff, np.ones(n)
    else:
        label, counts = _group_labels(groups, n)
        sums = np.bincount(label, weights=diff)
    k = len(sums)
    if k == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    chunk = max(1, 2**22 // k)  # resamples per batch: bounded memory for large n
    for first in range(0, n_resamples, chunk):
        count = min(chunk, n_resamples - first)
        picks = rng.integers(0, k, size=(count, k))
        means[first : first + count] = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    return (mean, *_percentile_interval(means, confidence))


def seed_day_bootstrap_ci(
    differences: np.ndarray,
    groups: np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of paired per-order differences over several training seeds, ``(S, N)``, and its two-level bootstrap
    interval: each resample draws ``S`` seeds and as many groups of orders (e.g. days) as there are, with replacement,
    so the interval covers both the luck of training and the market's days. One seed and one group give ``(d, d, d)``.

    :return: ``(difference, low, high)``
    """
    differences = np.asarray(differences, dtype=np.float64)
    if differences.ndim != 2:
        raise ValueError(f"differences must be (seeds, orders), got shape {differences.shape}")
    label, counts = _group_labels(groups, differences.shape[1])
    _check_confidence(confidence)
    n_seeds = len(differences)
    sums = np.stack([np.bincount(label, weights=row) for row in differences])  # (S, G)
    mean = float(differences.mean())
    if n_seeds == 1 and len(counts) == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, n_seeds, size=(n_resamples, n_seeds))
    picks = rng.integers(0, len(counts), size=(n_resamples, len(counts)))
    totals = np.take_along_axis(sums[seeds], picks[:, None, :], axis=2).sum(axis=(1, 2))
    means = totals / (n_seeds * counts[picks].sum(axis=1))
    return (mean, *_percentile_interval(means, confidence))


def summarize(pa: np.ndarray, rewards: np.ndarray) -> dict[str, float | int]:
    """``{"mean_reward", "pa_mean", "pa_std", "glr", "n_orders"}`` of one agent's orders."""
    pa, rewards = _as_vector(pa, "pa"), _as_vector(rewards, "rewards")
    if pa.shape != rewards.shape:
        raise ValueError(f"pa and rewards must cover the same orders, got {len(pa)} and {len(rewards)} values")
    return {
        "mean_reward": mean_reward(rewards),
        "pa_mean": pa_mean(pa),
        "pa_std": pa_std(pa),
        "glr": gain_loss_ratio(pa),
        "n_orders": len(pa),
    }


def schedule_profile(schedules: np.ndarray) -> dict[str, float | list[float]]:
    """The shape of the orders' schedules: ``{"one_step_share", "step_shares"}``.

    :param schedules: executed share of each order at each step, ``(N, T)`` (zero after an order is complete, as in
        :class:`~order_exec_gym.evaluation.EvaluationResult`)
    :return: ``one_step_share``, the share of orders that execute at least :data:`ONE_STEP_THRESHOLD` of the order in
        one step; ``step_shares``, the mean executed share at each step ``t`` over the orders (T values; they sum to
        1 when every order completes)
    """
    schedules = np.asarray(schedules, dtype=np.float64)
    if schedules.ndim != 2 or len(schedules) == 0:
        raise ValueError(f"schedules must be one row per order (N, T) with N > 0, got shape {schedules.shape}")
    if not np.isfinite(schedules).all():
        raise ValueError("schedules hold non-finite shares")
    return {
        "one_step_share": float(np.mean(schedules.max(axis=1) >= ONE_STEP_THRESHOLD)),
        "step_shares": schedules.mean(axis=0).tolist(),
    }


def shuffled_shares_pa(schedules: np.ndarray, step_pa: np.ndarray) -> float:
    """The mean PA the schedules would earn given to the orders at random: ``sum_t mean_n(s_nt) * mean_n(PA_nt)``, the
    expectation over random permutations of the schedules among the orders. An agent whose PA is not above it earns
    what the shape of its schedules earns (e.g. "everything in the last step"), with no choice per order.

    :param schedules: executed share of each order at each step, ``(N, T)`` (every order with the same T steps)
    :param step_pa: each order's PA (bps) had it executed everything at step ``t``, ``1e4 * s * (p_nt / p_bench_n -
        1)``, ``(N, T)``: the step prices do not depend on the schedule (the penalty is in the reward only)
    """
    schedules, step_pa = np.asarray(schedules, dtype=np.float64), np.asarray(step_pa, dtype=np.float64)
    if schedules.ndim != 2 or schedules.shape != step_pa.shape or len(schedules) == 0:
        raise ValueError(f"schedules and step_pa must be (N, T) with N > 0 and the same shape, got {schedules.shape} "
                         f"and {step_pa.shape}")  # fmt: skip
    if not (np.isfinite(schedules).all() and np.isfinite(step_pa).all()):
        raise ValueError("schedules and step_pa must be finite: every order needs a price at every step")
    return float(schedules.mean(axis=0) @ step_pa.mean(axis=0))
