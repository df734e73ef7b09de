"""Reference execution strategies with Stable-Baselines3's ``predict`` interface.

Every baseline is built from the env it trades in (``OrderExecutionEnv`` made by ``gym.make``, the vector env, the
SB3 adapter ``sb3_distill.vec_env.OrderExecutionVecEnv``, or an :class:`~order_exec_gym.task.ExecutionTask`) and
answers ``predict(observation, state=None, episode_start=None, deterministic=True) -> (action, state)`` for one
observation or a batch, in the env's action encoding (continuous ratios, or the nearest discrete level).

Most baselines are closed-loop re-planners: at step ``t`` of ``T`` they ask for ``remaining * share_t`` where
``share_t`` is the part of the *remaining* schedule due now, read from the observation's ``private`` key
(remaining ratio, t / T, side, 1 / T):

=============  ==========================================================================================
TWAP           ``share_t = 1 / (T - t)``: the rest spread evenly (from the start: ``a_t = 1 / T``)
VWAP           ``share_t = w_t / sum_{j >= t} w_j``, ``w_j`` the expected volume of step ``j`` under an
               intraday volume profile learned on the training split (per instrument with enough days)
AC             Almgren-Chriss: holdings ``x_j = sinh(kappa (T - t_j)) / sinh(kappa T)``, so
               ``share_t = 1 - x_{t+1} / x_t``
Random         a uniform discrete level, or a uniform ratio in ``[0, 2 / T]`` (mean: the TWAP rate)
Oracle         the exact maximiser of the episode reward with perfect information (:mod:`order_exec_gym.oracle`)
=============  ==========================================================================================

VWAP and Oracle need the identity of the orders (instrument, window, future prices): they read it from the
simulator slots of the task they are attached to (``task.sim``), whose slot ``i`` must be row ``i`` of the
observation batch. :func:`~order_exec_gym.evaluation.evaluate` re-attaches a baseline to the task it runs on with
:meth:`Baseline.attach`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from order_exec_gym.data.dataset import MarketDataset, load_dataset
from order_exec_gym.errors import DataError
from order_exec_gym.oracle import best_discrete_action, consecutive_levels, discrete_plan, water_fill
from order_exec_gym.task import ExecutionTask

__all__ = [
    "BASELINES",
    "AlmgrenChriss",
    "Baseline",
    "Oracle",
    "RandomAgent",
    "TWAP",
    "VWAP",
    "find_task",
    "make_baseline",
]


def find_task(env: Any) -> ExecutionTask:
    """The :class:`ExecutionTask` behind ``env``: the task itself, or ``env.task`` / ``env.unwrapped.task``,
    following gymnasium wrappers (``.unwrapped``) and SB3 vec-env wrappers (``.venv``)."""
    current = env
    for _ in range(32):
        if isinstance(current, ExecutionTask):
            return current
        task = getattr(current, "task", None)
        if isinstance(task, ExecutionTask):
            return task
        inner = getattr(current, "unwrapped", None)
        if inner is None or inner is current:
            inner = getattr(current, "venv", None)
        if inner is None:
            break
        current = inner
    raise TypeError(
        f"cannot find the ExecutionTask of {type(env).__name__}: pass an OrderExec env (gym.make, gym.make_vec, "
        "sb3_distill.vec_env.OrderExecutionVecEnv) or an order_exec_gym.task.ExecutionTask"
    )


def training_split(task: ExecutionTask, data: MarketDataset | str | None, who: str) -> MarketDataset:
    """The training split of ``data`` (a dataset, preset name or saved directory), or of the task's whole market."""
    market = task.market if data is None else load_dataset(data)
    try:
        return market.split("train")
    except (KeyError, DataError) as error:
        raise ValueError(f"{who} calibrates on the training split: {error}") from error


class Baseline:
    """Base class: finds the task, decodes the observation, encodes target ratios as actions.

    Subclasses implement :meth:`target`, the ratio of the original order to trade now for a batch of
    observations; :meth:`predict` turns it into the env's action (clipped ratio, or the nearest level).

    :param env: the env (or :class:`ExecutionTask`) the baseline acts in
    """

    #: True when the constructor takes ``data``, the market whose training split calibrates the baseline.
    needs_training_data = False
    #: Baselines never read the ``privileged`` observation (the Oracle reads the simulator instead).
    needs_privileged = False

    def __init__(self, env: Any):
        self.task: ExecutionTask
        self.attach(find_task(env))

    def attach(self, task: ExecutionTask) -> None:
        """Act in ``task`` from now on: its action encoding, levels, alpha and simulator slots."""
        self.task = task
        self.action_type = task.action_type
        self.levels = task.levels
        self.step_bars = task.step_bars
        self.alpha = task.sim.alpha

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def predict(
        self,
        observation: dict[str, np.ndarray],
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """SB3's ``predict``: the action for one observation or a batch; ``state`` is passed through unchanged."""
        private = np.asarray(observation["private"], dtype=np.float64)
        single = private.ndim == 1
        if single:
            private = private[None]
        action = self.act(private)
        return (action[0] if single else action), state

    def act(self, private: np.ndarray) -> np.ndarray:
        """Batched actions from the ``private`` observations (N, 4)."""
        return self.encode(self.target(private), private)

    def target(self, private: np.ndarray) -> np.ndarray:
        """The ratio of the original order each row wants to trade now, shape (N,)."""
        raise NotImplementedError

    def encode(self, ratios: np.ndarray, private: np.ndarray) -> np.ndarray:
        """Ratios as actions: ``(N, 1)`` clipped to [0, 1], or the index of the nearest level (ties: the lower)."""
        if self.action_type == "continuous":
            return np.clip(ratios, 0.0, 1.0)[:, None]
        n_steps = decode(private)[0]
        return np.abs(self.levels[None, :] - (ratios * n_steps)[:, None]).argmin(axis=1)

    def _check_slots(self, n: int) -> None:
        if n != self.task.sim.num_orders:
            raise ValueError(
                f"{type(self).__name__} reads each order from the task's simulator slots: it needs one observation "
                f"per slot ({self.task.sim.num_orders}), got {n}"
            )


def decode(private: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(T, t, remaining)`` from batched ``private`` observations: steps of the order, current step, share left."""
    n_steps = np.rint(1.0 / private[:, 3]).astype(np.int64)
    t = np.rint(private[:, 1] * n_steps).astype(np.int64)
    return n_steps, t, private[:, 0]


class TWAP(Baseline):
    """Time-weighted average price: spread what remains evenly over the steps left, ``a_t = remaining / (T - t)``
    (``1 / T`` every step from the start; the discrete action is level 1, the TWAP rate)."""

    def target(self, private: np.ndarray) -> np.ndarray:
        n_steps, t, remaining = decode(private)
        return remaining / np.maximum(n_steps - t, 1)


class VWAP(Baseline):
    """Volume-weighted average price: follow the expected intraday volume curve.

    The profile is the mean, over the training days, of each bar's share of its day's volume: one profile per
    instrument with at least ``min_days`` training days, the pooled profile of all training days otherwise. With
    ``w_j`` the profile's volume in step ``j`` of the order's window, the baseline trades
    ``a_t = remaining * w_t / sum_{j >= t} w_j`` (TWAP where the profile has no volume left).

    :param env: the env the baseline acts in
    :param data: the market whose training split gives the profile (default: the env's own data, which must then
        include training days)
    :param min_days: training days an instrument needs for a profile of its own
    """

    needs_training_data = True

    def __init__(self, env: Any, data: MarketDataset | str | None = None, min_days: int = 5):
        task = find_task(env)
        train = training_split(task, data, "VWAP")
        volume = train.bars["volume"].astype(np.float64)
        total = volume.sum(axis=1)
        traded = total > 0
        share = volume[traded] / total[traded, None]
        symbols, inverse, days = np.unique(train.symbols[traded], return_inverse=True, return_counts=True)
        order = np.argsort(inverse, kind="stable")
        sums = np.add.reduceat(share[order], np.r_[0, np.cumsum(days)[:-1]], axis=0)
        own = days >= min_days
        profiles = np.vstack([sums[own] / days[own, None], share.mean(axis=0, keepdims=True)])
        self.min_days = min_days
        self.symbols = symbols[own]
        self.profiles = profiles
        self._cum = np.pad(np.cumsum(profiles, axis=1), ((0, 0), (1, 0)))
        super().__init__(task)

    def __repr__(self) -> str:
        return f"VWAP(min_days={self.min_days}, instruments={len(self.symbols)})"

    def attach(self, task: ExecutionTask) -> None:
        if task.dataset.max_bars > self.profiles.shape[1]:
            raise ValueError(
                f"VWAP's profile covers {self.profiles.shape[1]} bars per session, the env's data has "
                f"{task.dataset.max_bars}: calibrate on the same market"
            )
        super().attach(task)
        position = np.searchsorted(self.symbols, task.dataset.symbols)
        position = np.minimum(position, max(len(self.symbols) - 1, 0))
        known = len(self.symbols) > 0 and self.symbols[position] == task.dataset.symbols
        self._profile_of_episode = np.where(known, position, len(self.profiles) - 1)

    def target(self, private: np.ndarray) -> np.ndarray:
        self._check_slots(len(private))
        sim = self.task.sim
        n_steps, t, remaining = decode(private)
        profile = self._profile_of_episode[sim.episode]
        end, b0 = sim.end, sim.decision_bar
        b1 = np.minimum(b0 + self.step_bars, end)
        now = self._cum[profile, b1] - self._cum[profile, b0]
        rest = self._cum[profile, end] - self._cum[profile, b0]
        even = 1.0 / np.maximum(n_steps - t, 1)
        share = np.where(rest > 0, now / np.where(rest > 0, rest, 1.0), even)
        return remaining * share


class AlmgrenChriss(Baseline):
    """Almgren-Chriss (2000) mean-variance optimal schedule, re-planned from the current state.

    Holdings (share of the order left) before step ``j`` of ``N``: ``x_j = sinh(kappa (T - t_j)) / sinh(kappa T)``
    with ``t_j = j tau`` and ``T = N tau``, where ``tau`` is the step length in bars,
    ``kappa = arccosh(kappa_tilde^2 tau^2 / 2 + 1) / tau``, ``kappa_tilde^2 = lambda sigma^2 / eta_tilde`` and
    ``eta_tilde = eta - gamma tau / 2``. Risk aversion ``lambda -> 0`` gives TWAP (``x_j = 1 - j / N``) exactly.

    Calibration, in the env's units (quantities as shares of the order, prices relative):

    - ``sigma``: volatility per bar, the root mean square of the within-session log returns of the bar prices
      over the training split;
    - ``eta``: temporary impact. The simulator replays historical prices, so the only impact an order pays is the
      reward's ``alpha * a_t^2`` per step, which is AC's ``eta * n_t^2 / tau`` with ``eta = alpha * tau``: that is
      the default (a spread-based estimate from the data would price a cost the env does not charge);
    - ``gamma``: permanent impact, 0 (the env has none).

    :param env: the env the baseline acts in
    :param risk_aversion: lambda, per unit of squared relative price. The default 10 front-loads visibly at
        30-minute steps (``kappa T`` about 1.6 on the synthetic market, 3 on A-share 1-minute bars); at 1 the
        discrete schedule is often TWAP's
    :param data: the market whose training split gives ``sigma`` (default: the env's own data)
    :param sigma: per-bar volatility, overriding the calibration
    :param eta: temporary impact, overriding ``alpha * tau``
    :param gamma: permanent impact
    """

    needs_training_data = True

    def __init__(
        self,
        env: Any,
        risk_aversion: float = 10.0,
        data: MarketDataset | str | None = None,
        sigma: float | None = None,
        eta: float | None = None,
        gamma: float = 0.0,
    ):
        if risk_aversion < 0:
            raise ValueError(f"risk_aversion must be >= 0, got {risk_aversion}")
        task = find_task(env)
        if sigma is None:
            train = training_split(task, data, "AlmgrenChriss")
            log_price = np.log(train.bars["price"].astype(np.float64))
            inside = np.arange(1, train.max_bars)[None, :] < train.lengths[:, None]
            sigma = float(np.sqrt(np.mean(np.diff(log_price, axis=1)[inside] ** 2)))
        self.risk_aversion = float(risk_aversion)
        self.sigma = float(sigma)
        self._eta = eta
        self.gamma = float(gamma)
        super().__init__(task)

    def __repr__(self) -> str:
        return (
            f"AlmgrenChriss(risk_aversion={self.risk_aversion}, sigma={self.sigma:.3g}, eta={self.eta:.3g}, "
            f"gamma={self.gamma})"
        )

    def attach(self, task: ExecutionTask) -> None:
        super().attach(task)
        tau = float(self.step_bars)
        self.eta = self.alpha * tau if self._eta is None else float(self._eta)
        eta_tilde = self.eta - self.gamma * tau / 2
        if eta_tilde < 0 or (eta_tilde == 0 and self.risk_aversion == 0):
            raise ValueError(
                f"AlmgrenChriss needs eta - gamma * tau / 2 > 0, got eta={self.eta}, gamma={self.gamma}, tau={tau}"
            )
        # kappa_tilde^2 tau^2 / 2; without impact any risk aversion trades everything at once (kappa = inf)
        half = np.inf if eta_tilde == 0 else self.risk_aversion * self.sigma**2 * tau**2 / (2 * eta_tilde)
        # kappa * tau = arccosh(1 + half), written to stay exact as half -> 0.
        self.kappa_tau = float(2 * np.arcsinh(np.sqrt(half / 2)))

    def holdings(self, n_steps: np.ndarray, j: np.ndarray) -> np.ndarray:
        """``x_j = sinh(kappa tau (N - j)) / sinh(kappa tau N)``: the share of the order held before step ``j``."""
        n_steps = np.asarray(n_steps, dtype=np.float64)
        return sinh_ratio(self.kappa_tau, n_steps - np.asarray(j, dtype=np.float64), n_steps)

    def target(self, private: np.ndarray) -> np.ndarray:
        n_steps, t, remaining = decode(private)
        left = np.maximum(n_steps - t, 1).astype(np.float64)
        if self.kappa_tau == 0:  # lambda = 0: exactly TWAP
            return remaining / left
        return remaining * (1.0 - sinh_ratio(self.kappa_tau, left - 1.0, left))


def sinh_ratio(theta: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sinh(theta a) / sinh(theta b)`` for ``0 <= a <= b``, ``b > 0``, stable for every ``theta`` in [0, inf]
    (``a / b`` at ``theta = 0``)."""
    if theta == 0:
        return a / b
    with np.errstate(invalid="ignore", over="ignore"):
        ratio = np.exp(theta * (a - b)) * np.expm1(-2 * theta * a) / np.expm1(-2 * theta * b)
    return np.where(a == b, 1.0, np.where(a == 0, 0.0, ratio))


class RandomAgent(Baseline):
    """Uniformly random actions: a uniform level (discrete), or a uniform ratio in ``[0, 2 / T]`` (continuous, mean
    the TWAP rate, like the default levels). Seeded: :meth:`attach` restarts the generator, so an evaluation is
    reproducible. ``deterministic`` is ignored.

    :param env: the env the baseline acts in
    :param seed: seed of the generator
    """

    def __init__(self, env: Any, seed: int = 0):
        self.seed = seed
        super().__init__(env)

    def __repr__(self) -> str:
        return f"RandomAgent(seed={self.seed})"

    def attach(self, task: ExecutionTask) -> None:
        super().attach(task)
        self.rng = np.random.default_rng(self.seed)

    def act(self, private: np.ndarray) -> np.ndarray:
        if self.action_type == "discrete":
            return self.rng.integers(0, len(self.levels), size=len(private))
        return self.rng.uniform(0.0, 2.0 * private[:, 3])[:, None]


class Oracle(Baseline):
    """The exact maximiser of the episode reward with perfect information (an upper bound, not a strategy).

    With ``r_j = s (p_exec_j / p_bench - 1)`` read from the simulator (exact for either benchmark), the episode
    reward is ``sum_j r_j a_j - alpha a_j^2``. Continuous actions follow the water-filling optimum
    (:func:`~order_exec_gym.oracle.water_fill`); discrete actions follow the best level sequence
    (:func:`~order_exec_gym.oracle.discrete_plan`; :func:`~order_exec_gym.oracle.discrete_action`'s dynamic programme for levels that are
    not consecutive multiples of one unit, solved again at every step: slow at one-minute steps). The plan of each
    slot is made once per order and followed; a slot is re-planned from its current state when its order or its
    remaining quantity no longer matches the plan.
    """

    def attach(self, task: ExecutionTask) -> None:
        super().attach(task)
        n = task.sim.num_orders
        if self.action_type == "discrete":
            self._units, self._per_slice, self._index_of_units = consecutive_levels(self.levels)
        else:
            self._units, self._per_slice, self._index_of_units = np.zeros(1, np.int64), 1, np.zeros(1, np.int64)
        self._plan = np.zeros((n, task.sim.max_steps))
        self._left = np.full((n, task.sim.max_steps + 1), np.nan)  # remaining before each step, as planned
        self._key = np.full((n, 4), -1.0)  # episode, start, length, side of the planned order

    def act(self, private: np.ndarray) -> np.ndarray:
        self._check_slots(len(private))
        sim = self.task.sim
        t = np.minimum(sim.t, sim.n_steps - 1)
        if self._index_of_units is None:  # levels that are not consecutive multiples of one unit
            return self._dynamic_programme(t)
        key = np.stack([sim.episode, sim.start, sim.length, sim.side], axis=1).astype(np.float64)
        rows = np.arange(sim.num_orders)
        stale = (self._key != key).any(axis=1) | ~(np.abs(self._left[rows, t] - sim.remaining) <= 1e-12)
        if stale.any():
            self._replan(np.flatnonzero(stale), t)
            self._key[stale] = key[stale]
        ratio = self._plan[rows, t]
        if self.action_type == "continuous":
            return ratio[:, None]
        units = np.minimum(np.rint(ratio * sim.n_steps * self._per_slice).astype(np.int64), len(self._index_of_units) - 1)
        # The last step executes the rest whatever the action: ask for the largest level.
        return np.where(t == sim.n_steps - 1, int(np.argmax(self.levels)), self._index_of_units[units])

    def returns(self, slots: np.ndarray) -> np.ndarray:
        """``r_j = s (p_exec_j / p_bench - 1)`` of every step of the orders in ``slots``, NaN past their last step."""
        return self.task.sim.step_returns()[slots]

    def _replan(self, slots: np.ndarray, t: np.ndarray) -> None:
        sim = self.task.sim
        t = t[slots]
        returns = self.returns(slots)
        returns[np.arange(returns.shape[1])[None, :] < t[:, None]] = np.nan
        remaining = sim.remaining[slots]
        if self.action_type == "continuous":
            plan = water_fill(returns, remaining, self.alpha)
        else:
            total = sim.n_steps[slots] * self._per_slice
            left = np.rint(remaining * total).astype(np.int64)
            plan = discrete_plan(returns, sim.n_steps[slots], t, left, total, self.alpha, int(self._units.max()))
            plan = plan / total[:, None]
        plan[np.isnan(returns)] = 0.0
        self._plan[slots] = plan
        left = remaining[:, None] - np.pad(np.cumsum(plan, axis=1), ((0, 0), (1, 0)))
        before = np.arange(left.shape[1])[None, :] < t[:, None]
        self._left[slots] = np.where(before, np.nan, left)
        self._left[slots, t] = remaining

    def _dynamic_programme(self, t: np.ndarray) -> np.ndarray:
        sim = self.task.sim
        return best_discrete_action(self.returns(np.arange(sim.num_orders)), sim.n_steps, t, sim.remaining, self.alpha, self.levels)


BASELINES: dict[str, type[Baseline]] = {
    "TWAP": TWAP,
    "VWAP": VWAP,
    "AC": AlmgrenChriss,
    "Random": RandomAgent,
    "Oracle": Oracle,
}


def make_baseline(name: str, env: Any, data: MarketDataset | str | None = None, **kwargs: Any) -> Baseline:
    """Build the baseline registered as ``name`` in :data:`BASELINES`; ``data`` reaches the ones calibrated on a
    training split (VWAP, AC) and is ignored by the others."""
    if name not in BASELINES:
        raise KeyError(f"unknown baseline {name!r}; choose from {list(BASELINES)}")
    cls = BASELINES[name]
    if cls.needs_training_data:
        kwargs["data"] = data
    return cls(env, **kwargs)
