"""The perfect-information optimum of the env's own reward, solved exactly.

With full knowledge of the window, the reward of an order is a concave quadratic in the ratios:
``sum_j r_j a_j - c_j * a_j ** 2`` with ``r_j = s * (p_exec_j / p_bench - 1)`` and ``c_j`` the step's penalty
coefficient (``alpha / m_j`` with the penalty per minute, ``alpha`` per step), subject to ``a_j >= 0`` and
``sum_j a_j = remaining``. This module solves it for both action encodings:

- continuous: water-filling, ``a_j = max(0, (r_j - lam) / (2 c_j))`` with ``lam`` set so the ratios sum to
  what remains (all of it in the best step when ``alpha == 0``);
- discrete: dynamic programming over the exact grid of remaining inventory that the levels can reach (levels in
  multiples of the TWAP rate or in fractions of the order), honouring clipping to what remains and the forced
  completion at the last step; for levels that are consecutive multiples of one unit (the default and the
  paper's), the same optimum for a whole episode by a greedy allocation of marginal gains (:func:`discrete_plan`).

The inputs come either from the simulator (:func:`~order_exec_gym.simulator.order_steps`) or from a ``privileged``
observation (:func:`step_returns_from_observation`), so the same solver serves the Oracle baseline and the
oracle teacher.
"""

from __future__ import annotations

from fractions import Fraction
from functools import reduce
from math import gcd

import numpy as np

from order_exec_gym.features import N_FEATURES, read_private
from order_exec_gym.simulator import step_bounds, step_count

MAX_GRID_UNITS = 20_000


def step_returns_from_observation(
    observation: dict[str, np.ndarray], step_bars: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Recover each step's ``r_j`` (N, max T) from a batched observation with the ``privileged`` key.

    Exact for the ``"mean"`` benchmark (the mean bar price of the window). Steps past the window are NaN.
    Returns ``(returns, bars, n_steps, t)``: the step returns, the bars of each step, the steps of each order and
    its current step.
    """
    window = np.asarray(observation["privileged"], dtype=np.float64)
    inside = window[..., N_FEATURES] > 0.5
    length = inside.sum(axis=1)
    price = np.where(inside, np.exp(window[..., 0] / 100.0), 0.0)
    benchmark = price.sum(axis=1) / np.maximum(length, 1)
    b0, b1 = step_bounds(np.zeros_like(length), length, step_bars, int(step_count(window.shape[1], step_bars)))
    cum = np.pad(np.cumsum(price, axis=1), ((0, 0), (1, 0)))
    count = b1 - b0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (np.take_along_axis(cum, b1, axis=1) - np.take_along_axis(cum, b0, axis=1)) / count
        returns = np.asarray(observation["private"], dtype=np.float64)[:, 2:3] * (mean / benchmark[:, None] - 1.0)
    returns[count == 0] = np.nan
    n_steps, t, _ = read_private(np.asarray(observation["private"], dtype=np.float64))
    return returns, count, n_steps, t


def water_fill(returns: np.ndarray, remaining: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Optimal continuous allocation (N, T) of ``remaining`` over the steps whose return is not NaN.

    Maximises ``sum_j r_j a_j - c_j a_j^2`` subject to ``a_j >= 0``, ``sum_j a_j = remaining``, with ``cost``
    ``c_j > 0`` (N, T); an order whose steps all cost 0 (``alpha == 0``) trades everything in its best step.
    """
    returns = np.asarray(returns, dtype=np.float64)
    remaining = np.asarray(remaining, dtype=np.float64)
    valid = ~np.isnan(returns)
    if not valid.any(axis=1).all():
        raise ValueError("every order needs at least one step left")
    score = np.where(valid, returns, -np.inf)
    rows = np.arange(len(returns))
    free = ~(np.where(valid, cost, 0.0) > 0).any(axis=1)  # no penalty: all in the best step
    weight = np.where(valid & (cost > 0), 1.0 / np.where(cost > 0, cost, 1.0), 0.0)  # 1 / c_j
    order = np.argsort(-score, axis=1, kind="stable")
    ordered, ordered_weight = np.take_along_axis(score, order, axis=1), np.take_along_axis(weight, order, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        # lam if the first m steps by return are the active ones: sum_j w_j (r_j - lam) / 2 = remaining
        level = (np.cumsum(np.where(np.isfinite(ordered), ordered * ordered_weight, 0.0), axis=1)
                 - 2 * remaining[:, None]) / np.cumsum(ordered_weight, axis=1)  # fmt: skip
        active = np.isfinite(ordered) & (ordered > level)
        count = np.maximum(active.sum(axis=1), 1)
        lam = level[rows, count - 1]  # -inf for the rows without penalty, planned below
        plan = np.where(valid, np.maximum(0.0, (returns - lam[:, None]) * weight / 2), 0.0)
    if free.any():
        plan[free] = 0.0
        plan[free, np.argmax(score[free], axis=1)] = remaining[free]
    return plan


def level_grid(levels: np.ndarray) -> tuple[np.ndarray, int]:
    """The levels as whole numbers of one grid unit: ``(units of each level, units per level unit)``, the unit being
    ``1 / denominator`` of a TWAP slice (``level_unit="twap"``) or of the order (``"order"``)."""
    fractions = [Fraction(float(level)).limit_denominator(1000) for level in levels]
    denominator = reduce(lambda a, b: a * b // gcd(a, b), (f.denominator for f in fractions), 1)
    return np.array([int(f * denominator) for f in fractions], dtype=np.int64), denominator


def order_units(n_steps: np.ndarray, denominator: int, level_unit: str) -> np.ndarray:
    """Grid units in a whole order of ``n_steps`` steps: ``T`` TWAP slices, or one order."""
    n_steps = np.asarray(n_steps, dtype=np.int64)
    return n_steps * denominator if level_unit == "twap" else np.full_like(n_steps, denominator)


def consecutive_levels(levels: np.ndarray) -> tuple[np.ndarray, int, np.ndarray | None]:
    """:func:`level_grid` plus, when the levels are the consecutive multiples ``0, 1, ..., max`` of one unit (so
    :func:`discrete_plan` applies), the index of the first level of each unit count; else None."""
    units, denominator = level_grid(levels)
    if not np.array_equal(np.unique(units), np.arange(units.max() + 1)):
        return units, denominator, None
    index_of_units = np.zeros(units.max() + 1, dtype=np.int64)
    index_of_units[units[::-1]] = np.arange(len(units))[::-1]
    return units, denominator, index_of_units


def discrete_action(
    returns: np.ndarray,
    cost: np.ndarray,
    n_steps: np.ndarray,
    t: np.ndarray,
    remaining: np.ndarray,
    levels: np.ndarray,
    level_unit: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The best level index at step ``t`` of each order, and the best achievable reward from there.

    Exact dynamic programming over remaining inventory in grid units; level ``i`` asks for ``levels[i] / T`` of the
    order (``level_unit="twap"``) or ``levels[i]`` of it (``"order"``), execution is clipped to what remains, and
    the last step executes the rest. ``cost`` (N, T) holds each step's penalty coefficient ``c_j``.
    """
    units, denominator = level_grid(np.asarray(levels, dtype=np.float64))
    n = len(returns)
    total = order_units(n_steps, denominator, level_unit)  # grid units in the whole order, per order
    if total.max() > MAX_GRID_UNITS:
        raise ValueError(f"levels {levels} need a grid of {total.max()} units per order; use coarser levels")
    states = int(total.max()) + 1
    u = np.arange(states)
    remaining_units = np.rint(np.asarray(remaining) * total).astype(np.int64)
    executed = np.minimum(units[None, :], u[:, None])  # (S, K)
    rows = np.arange(n)[:, None, None]
    value_next = np.zeros((n, states))
    best_now = np.zeros(n, dtype=np.int64)
    best_value = np.zeros(n)
    for j in range(int(n_steps.max()) - 1, int(t.min()) - 1, -1):
        r, c = np.nan_to_num(returns[:, j])[:, None], cost[:, j][:, None]
        share = executed[None] / total[:, None, None]
        candidates = r[..., None] * share - c[..., None] * share**2 + value_next[rows, u[None, :, None] - executed[None]]
        value = candidates.max(axis=2)
        share_all = u[None, :] / total[:, None]
        forced = r * share_all - c * share_all**2
        last = (j == n_steps - 1)[:, None]
        value = np.where(last, forced, np.where(j < n_steps[:, None], value, 0.0))
        now = t == j
        if now.any():
            pick = candidates[np.arange(n), remaining_units].argmax(axis=1)
            best_now = np.where(now, pick, best_now)
            best_value = np.where(now, value[np.arange(n), remaining_units], best_value)
        value_next = value
    return best_now, best_value


def discrete_plan(
    returns: np.ndarray,
    cost: np.ndarray,
    n_steps: np.ndarray,
    t: np.ndarray,
    remaining_units: np.ndarray,
    total_units: np.ndarray,
    max_units: int,
) -> np.ndarray:
    """The best executed quantities, in grid units (N, max T), from step ``t`` with ``remaining_units`` left, when
    every step before the last may execute any whole number of units in ``[0, max_units]`` (levels that are the
    consecutive multiples ``0, 1, ..., max_units`` of one unit, like the default and the paper's levels) and the
    last step executes the rest.

    Executing ``e`` units at step ``j`` earns ``f_j(e) = r_j e / U - c_j (e / U)^2`` (``U`` = units in the whole
    order), concave in ``e``, so the exact optimum of this separable integer allocation takes the
    ``remaining_units`` largest marginal gains ``f_j(q) - f_j(q - 1) = r_j / U - c_j (2 q - 1) / U^2`` (the
    greedy algorithm). Same optimum as :func:`discrete_action`'s dynamic programme, for a
    whole episode in one sort of ``O(T K)`` gains per order, where the programme costs ``O(T^2 K)`` per decision
    (T = 240 at one-minute steps).
    """
    n, width = returns.shape
    r = np.nan_to_num(returns, nan=0.0)
    c = np.asarray(cost, dtype=np.float64)[:, :width]
    total = total_units[:, None].astype(np.float64)
    step = np.arange(width)[None, :]
    bounded = (step >= t[:, None]) & (step < (n_steps - 1)[:, None])
    q = np.arange(1, max_units + 1)[None, None, :]
    gain_bounded = r[:, :, None] / total[:, :, None] - c[:, :, None] * (2 * q - 1) / total[:, :, None] ** 2
    gain_bounded = np.where(bounded[:, :, None], gain_bounded, -np.inf).reshape(n, -1)
    rows = np.arange(n)
    last_r, last_c = r[rows, n_steps - 1][:, None], c[rows, n_steps - 1][:, None]
    q_last = np.arange(1, int(remaining_units.max(initial=0)) + 1)[None, :]
    gain_last = last_r / total - last_c * (2 * q_last - 1) / total**2
    gain_last = np.where(q_last <= remaining_units[:, None], gain_last, -np.inf)
    gains = np.concatenate([gain_bounded, gain_last], axis=1)
    order = np.argsort(-gains, axis=1, kind="stable")
    chosen = np.zeros(gains.shape, dtype=bool)
    rank = np.arange(gains.shape[1])[None, :]
    np.put_along_axis(chosen, order, rank < remaining_units[:, None], axis=1)
    units = chosen[:, : width * max_units].reshape(n, width, max_units).sum(axis=2)
    units[rows, n_steps - 1] += chosen[:, width * max_units :].sum(axis=1)
    return units


def best_discrete_action(
    returns: np.ndarray,
    cost: np.ndarray,
    n_steps: np.ndarray,
    t: np.ndarray,
    remaining: np.ndarray,
    levels: np.ndarray,
    level_unit: str,
) -> np.ndarray:
    """The index of an optimal level at step ``t`` of each order: from the greedy :func:`discrete_plan` when the
    levels are consecutive multiples of one unit (``O(T K)`` per order), else from :func:`discrete_action`'s
    dynamic programme. At the last step the rest is executed whatever the action: the largest level is returned."""
    levels = np.asarray(levels, dtype=np.float64)
    units, denominator, index_of_units = consecutive_levels(levels)
    if index_of_units is None:
        return discrete_action(returns, cost, n_steps, t, remaining, levels, level_unit)[0]
    returns = np.array(returns, dtype=np.float64)
    returns[np.arange(returns.shape[1])[None, :] < t[:, None]] = np.nan
    total = order_units(n_steps, denominator, level_unit)
    left = np.rint(np.asarray(remaining) * total).astype(np.int64)
    plan = discrete_plan(returns, cost, n_steps, t, left, total, int(units.max()))
    now = np.minimum(plan[np.arange(len(plan)), t], units.max())
    return np.where(t >= n_steps - 1, int(np.argmax(levels)), index_of_units[now])
