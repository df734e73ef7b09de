"""The batched execution core: N orders stepped at once with numpy index arithmetic.

The single source of truth for execution, clipping, forced completion, rewards and price advantage; the single
env, the vector env and the SB3 adapter all step this class.

Model (DESIGN §1). An order's window of ``length`` bars is cut into ``T = ceil(length / k)`` steps of ``k``
bars (the last one shorter). At step t the agent asks for a ratio ``a`` of the original order; the executed
ratio is ``clip(a, 0, remaining)``, and at the last step whatever remains is executed (``forced`` when that is
more than was asked). The step's quantity is spread evenly over its bars, so it fills at
``p_exec = mean(price[b0:b1])``. With ``s = +1`` for a sell and ``-1`` for a buy and the benchmark ``p_bench``
(mean price, or VWAP, over the whole window)::

    reward = s * executed * (p_exec / p_bench - 1) - c * executed ** 2
    PA     = 1e4 * s * (sum(executed * p_exec) / p_bench - 1)          (basis points, at the end)

where the step's penalty coefficient is ``c = alpha / m`` for a step of ``m`` minutes with ``penalty_per="minute"``
(the quantity is spread evenly over the step's minutes and each minute pays ``alpha * (executed / m) ** 2``, as
the paper's code and qlib charge it), or ``c = alpha`` with ``penalty_per="step"`` (:func:`step_cost`). So the
episode's rewards sum to ``PA / 1e4 - sum(c_t * executed_t ** 2)``.

An episode ends when the order is complete (nothing remains) or at its last step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from order_exec_gym.config import ExecutionConfig
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.orders import Orders

# A remainder below this share of the order is executed with the step that leaves it (no dust episodes).
DUST = 1e-9


def step_count(length: np.ndarray, step_bars: int) -> np.ndarray:
    """T = ceil(length / k): the decision steps of windows of ``length`` bars."""
    return -(-np.asarray(length) // step_bars)


def step_bounds(start: np.ndarray, length: np.ndarray, step_bars: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The bars of every step: step ``j`` of a window covers bars ``[b0[:, j], b1[:, j])``, ``(N, width)`` each.

    Steps start every ``k`` bars from ``start``; the last one ends with the window (``start + length``) and is
    shorter when ``k`` does not divide ``length``; columns past an order's last step are empty (``b0 == b1``).
    """
    start, end = np.asarray(start)[:, None], (np.asarray(start) + np.asarray(length))[:, None]
    b0 = start + np.arange(width) * step_bars
    b1 = np.minimum(b0 + step_bars, end)
    return np.minimum(b0, b1), b1


def step_cost(alpha: float, penalty_per: str, minutes: np.ndarray) -> np.ndarray:
    """The penalty coefficient ``c`` of steps of ``minutes`` minutes: ``alpha / minutes`` when the penalty is charged
    per minute, ``alpha`` when per step; 0 for empty steps (``minutes == 0``)."""
    minutes = np.asarray(minutes, dtype=np.float64)
    if penalty_per == "step":
        return np.where(minutes > 0, alpha, 0.0)
    return np.where(minutes > 0, alpha / np.maximum(minutes, 1.0), 0.0)


def cumulative(dataset: MarketDataset, name: str) -> np.ndarray:
    """Running sums along each episode of ``"price"``, ``"volume"`` or ``"value"`` (price x volume), float64
    ``(E, max_bars + 1)`` with a leading zero column; built once per dataset and shared by every simulator on it."""

    def build() -> np.ndarray:
        bars = dataset.bars
        values = bars["price"].astype(np.float64) * bars["volume"] if name == "value" else bars[name].astype(np.float64)
        return np.pad(np.cumsum(values, axis=1), ((0, 0), (1, 0)))

    return dataset.derived(("cumulative", name), build)


@dataclass(frozen=True)
class OrderSteps:
    """The step layout, prices and penalties of a batch of orders: what the simulator replays and the Oracle plans on.

    :param n_steps: decision steps T of each order, (N,)
    :param benchmark_price: p_bench of each order, (N,)
    :param price: execution price p_exec of each step, (N, width), 0 past an order's last step
    :param returns: ``s * (p_exec / p_bench - 1)`` of each step, (N, width), 0 past an order's last step
    :param cost: the penalty coefficient ``c`` of each step (:func:`step_cost`), (N, width), 0 past the last step
    """

    n_steps: np.ndarray
    benchmark_price: np.ndarray
    price: np.ndarray
    returns: np.ndarray
    cost: np.ndarray


def order_steps(dataset: MarketDataset, orders: Orders, config: ExecutionConfig, width: int) -> OrderSteps:
    """Each order's steps under ``config`` over ``dataset``: prices, benchmark, returns and penalties for ``width``
    steps (at least the most steps of any order)."""
    step_bars = config.in_bars(dataset.bar_minutes).step_bars
    e, start, length = orders.episode, orders.start, orders.length
    end = start + length
    cum_price = cumulative(dataset, "price")
    bench = (cum_price[e, end] - cum_price[e, start]) / length
    if config.benchmark == "vwap":
        cum_volume = cumulative(dataset, "volume")
        cum_value = cumulative(dataset, "value")
        traded = cum_volume[e, end] - cum_volume[e, start]
        vwap = (cum_value[e, end] - cum_value[e, start]) / np.where(traded > 0, traded, 1.0)
        bench = np.where(traded > 0, vwap, bench)
    b0, b1 = step_bounds(start, length, step_bars, width)
    count = b1 - b0
    price = (cum_price[e[:, None], b1] - cum_price[e[:, None], b0]) / np.maximum(count, 1)
    returns = np.where(count > 0, orders.side[:, None] * (price / bench[:, None] - 1.0), 0.0)
    cost = step_cost(config.alpha, config.penalty_per, count * dataset.bar_minutes)
    return OrderSteps(step_count(length, step_bars), bench, price, returns, cost)


@dataclass
class StepResult:
    """What one batched step did, per order (arrays of shape (N,))."""

    executed: np.ndarray
    exec_price: np.ndarray
    reward: np.ndarray
    done: np.ndarray
    forced: np.ndarray


class ExecutionSimulator:
    """``num_orders`` order slots over one dataset, stepped together.

    The owner of the step layout: :attr:`n_steps` (T of each slot's order), :attr:`t` (steps taken) and
    :attr:`decision_bar` (first bar of the current step), from :func:`step_count` and :func:`step_bounds`.

    :param dataset: the episodes the orders trade in
    :param num_orders: number of slots N
    :param config: the settings: ``step_minutes``, ``alpha``, ``penalty_per`` and ``benchmark`` act here
    """

    def __init__(self, dataset: MarketDataset, num_orders: int, config: ExecutionConfig):
        self.dataset = dataset
        self.num_orders = num_orders
        self.config = config
        self.step_bars = step_bars = config.in_bars(dataset.bar_minutes).step_bars
        n = num_orders
        self._rows = np.arange(n)
        self.episode = np.zeros(n, dtype=np.int64)
        self.side = np.ones(n)
        self.start = np.zeros(n, dtype=np.int64)
        self.length = np.ones(n, dtype=np.int64)
        self.end = np.ones(n, dtype=np.int64)  # start + length
        self.n_steps = np.ones(n, dtype=np.int64)
        self.t = np.zeros(n, dtype=np.int64)
        self.decision_bar = np.zeros(n, dtype=np.int64)  # first bar of the current step: bars before it are history
        self.remaining = np.ones(n)
        self.benchmark_price = np.ones(n)
        self.value = np.zeros(n)  # sum of executed * p_exec
        self.total_reward = np.zeros(n)
        #: The most steps an order of this dataset can have.
        self.max_steps = int(step_count(dataset.max_bars, step_bars))
        # Per step of every order (one spare column, read by finished slots): p_exec, s * (p_exec / p_bench - 1), c.
        self.step_price = np.zeros((n, self.max_steps + 1))
        self.step_return = np.zeros((n, self.max_steps + 1))
        self.step_cost = np.zeros((n, self.max_steps + 1))
        self.last_step = np.zeros(n, dtype=np.int64)

    def reset(self, orders: Orders, slots: np.ndarray | slice = slice(None)) -> None:
        """Start ``orders`` in ``slots`` (all slots by default)."""
        steps = order_steps(self.dataset, orders, self.config, self.max_steps + 1)
        self.episode[slots] = orders.episode
        self.side[slots] = orders.side
        self.start[slots] = orders.start
        self.length[slots] = orders.length
        self.end[slots] = orders.start + orders.length
        self.n_steps[slots] = steps.n_steps
        self.last_step[slots] = steps.n_steps - 1
        self.t[slots] = 0
        self.decision_bar[slots] = orders.start
        self.remaining[slots] = 1.0
        self.value[slots] = 0.0
        self.total_reward[slots] = 0.0
        self.benchmark_price[slots] = steps.benchmark_price
        self.step_price[slots] = steps.price
        self.step_return[slots] = steps.returns
        self.step_cost[slots] = steps.cost

    def orders(self) -> Orders:
        """The orders in the slots, as a copy."""
        return Orders(self.episode.copy(), self.side.copy(), self.start.copy(), self.length.copy())

    @property
    def elapsed(self) -> np.ndarray:
        """Share of each order's steps already taken."""
        return self.t / self.n_steps

    def step_prices(self) -> np.ndarray:
        """Execution price of every step of every order, ``(N, max T)``, NaN after an order's last step."""
        return np.where(np.arange(self.max_steps) < self.n_steps[:, None], self.step_price[:, :-1], np.nan)

    def step(self, ratios: np.ndarray, active: np.ndarray | None = None) -> StepResult:
        """Execute one step of every slot (or of the ``active`` ones): ``ratios`` (N,) are finite shares of the order,
        clipped to [0, remaining].

        Inactive slots keep their state and report zeros.
        """
        t, remaining, rows = self.t, self.remaining, self._rows
        last = t >= self.last_step
        executed = np.minimum(np.maximum(ratios, 0.0), remaining)
        left = remaining - executed
        finish = last | (left < DUST)
        forced = last & (left >= DUST)
        if active is not None:
            finish &= active
            forced &= active
            executed = np.where(active, executed, 0.0)
            left = remaining - executed
        executed = np.where(finish, remaining, executed)
        self.remaining = np.where(finish, 0.0, left)
        exec_price = self.step_price[rows, t] if active is None else np.where(active, self.step_price[rows, t], 0.0)
        reward = executed * (self.step_return[rows, t] - self.step_cost[rows, t] * executed)
        self.value += executed * exec_price
        self.total_reward += reward
        self.t += 1 if active is None else active
        advance = self.step_bars if active is None else self.step_bars * active
        self.decision_bar = np.minimum(self.decision_bar + advance, self.end)
        return StepResult(executed, exec_price, reward, finish, forced)

    def price_advantage(self) -> np.ndarray:
        """Price advantage in basis points of each slot's executions so far: ``1e4 * s * (P / p_bench - 1)``.

        ``P = sum(executed * p_exec)`` is the average execution price once the order is complete.
        """
        return 1e4 * self.side * (self.value / self.benchmark_price - 1.0)
