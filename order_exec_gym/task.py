"""What the single env and the vector env share: data, spaces, action decoding and observations.

:class:`ExecutionTask` turns env keyword arguments into a dataset split, an :class:`ExecutionSimulator` with
N slots, a :class:`FeatureBuilder` and the Gymnasium spaces, so both envs are thin shells around one core.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from gymnasium import spaces

from order_exec_gym.data.dataset import MarketDataset, load_dataset
from order_exec_gym.features import N_FEATURES, N_PRIVILEGED, FeatureBuilder
from order_exec_gym.orders import SIDES, Orders, sample_orders
from order_exec_gym.simulator import ExecutionSimulator

ACTION_TYPES = ("discrete", "continuous")
DEFAULT_LEVELS = (0.0, 0.5, 1.0, 1.5, 2.0)
PAPER_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


class ExecutionTask:
    """The order-execution problem for ``num_orders`` parallel slots (see :class:`~order_exec_gym.env.OrderExecutionEnv`
    for the meaning of every argument).

    ``market`` is the whole dataset (baselines calibrate on its training split); ``dataset`` is the split the
    orders are drawn from.
    """

    def __init__(
        self,
        num_orders: int = 1,
        data: MarketDataset | str | None = None,
        split: str = "train",
        side: str = "sell",
        step_minutes: int = 30,
        alpha: float = 0.01,
        action_type: str = "discrete",
        levels: Sequence[float] = DEFAULT_LEVELS,
        lookback: int = 30,
        privileged: bool = False,
        reward_scale: float = 1.0,
        benchmark: str = "mean",
        window_minutes: int | None = None,
    ):
        if side not in (*SIDES, "random"):
            raise ValueError(f"side must be 'sell', 'buy' or 'random', got {side!r}")
        if action_type not in ACTION_TYPES:
            raise ValueError(f"action_type must be one of {ACTION_TYPES}, got {action_type!r}")
        self.market = load_dataset(data)
        self.dataset = self.market.split(split)
        bar_minutes = self.dataset.bar_minutes
        for name, minutes in (("step_minutes", step_minutes), ("lookback", lookback), ("window_minutes", window_minutes)):
            if minutes is not None and (minutes < bar_minutes or minutes % bar_minutes):
                raise ValueError(f"{name}={minutes} must be a positive multiple of the data's {bar_minutes}-minute bars")
        self.side = side
        self.step_bars = step_minutes // bar_minutes
        self.window_bars = None if window_minutes is None else window_minutes // bar_minutes
        self.lookback = lookback // bar_minutes
        self.action_type = action_type
        self.levels = np.asarray(levels, dtype=np.float64)
        if action_type == "discrete" and (self.levels.ndim != 1 or len(self.levels) < 2 or (self.levels < 0).any()):
            raise ValueError(f"levels must be at least two non-negative multiples of the TWAP rate, got {levels}")
        self.privileged = privileged
        self.reward_scale = float(reward_scale)
        self.sim = ExecutionSimulator(self.dataset, num_orders, self.step_bars, alpha, benchmark)
        self.features = FeatureBuilder(self.dataset, self.lookback)
        self.reference = np.zeros(num_orders, dtype=np.float32)
        # remaining, elapsed, side, 1/T: the last two are set per order at reset, the first two at every step
        self._private = np.zeros((num_orders, 4), dtype=np.float32)
        self.window = np.zeros((num_orders, self.dataset.max_bars, N_PRIVILEGED), np.float32) if privileged else None
        self.max_steps = math.ceil((self.window_bars or self.dataset.max_bars) / self.step_bars)

        observation = {
            "private": spaces.Box(np.array([0, 0, -1, 0], np.float32), np.array([1, 1, 1, 1], np.float32)),
            "public": spaces.Box(-np.inf, np.inf, (self.lookback, N_FEATURES), np.float32),
        }
        if privileged:
            observation["privileged"] = spaces.Box(-np.inf, np.inf, (self.dataset.max_bars, N_PRIVILEGED), np.float32)
        self.observation_space = spaces.Dict(observation)
        if action_type == "discrete":
            self.action_space: spaces.Space = spaces.Discrete(len(self.levels))
        else:
            self.action_space = spaces.Box(0.0, 1.0, (1,), np.float32)

    def sample(self, n: int | None, rng: np.random.Generator, episode: np.ndarray | None = None) -> Orders:
        """Draw ``n`` orders from the split with ``rng`` (or one on each of the given ``episode`` indices)."""
        return sample_orders(self.dataset, n, rng, self.side, self.window_bars, episode)

    def reset(self, orders: Orders, slots: np.ndarray | slice = slice(None)) -> None:
        """Start ``orders`` in ``slots`` of the simulator and cache their per-episode observation parts.

        Orders that do not fit the dataset raise ``ValueError``.
        """
        self.sim.reset(orders.check(self.dataset), slots)
        self._private[slots, 2] = orders.side
        self._private[slots, 3] = 1.0 / self.sim.n_steps[slots]
        self.reference[slots] = self.features.reference(orders.episode, orders.start)
        if self.window is not None:
            self.window[slots] = self.features.privileged(orders.episode, orders.start, orders.length, self.reference[slots])

    def ratios(self, actions: np.ndarray) -> np.ndarray:
        """Decode a batch of actions (N,) for discrete, (N, 1) for continuous into ratios of the order.

        Discrete: an integer index into ``levels`` (others raise ``ValueError``); the ratio is
        ``levels[i] / T``. Continuous: NaN or infinite values raise ``ValueError``; finite values are clipped
        to [0, 1].
        """
        n = self.sim.num_orders
        actions = np.asarray(actions)
        if self.action_type == "discrete":
            if actions.shape not in ((n,), (n, 1)):
                raise ValueError(f"expected {n} discrete action(s) of shape ({n},), got shape {actions.shape}")
            if actions.dtype.kind not in "iu" and not (
                actions.dtype.kind == "f" and np.all(np.isfinite(actions)) and np.all(actions == np.round(actions))
            ):
                raise ValueError(f"discrete actions must be integers in [0, {len(self.levels)}), got {actions}")
            index = actions.reshape(n).astype(np.int64, copy=False)
            if ((index < 0) | (index >= len(self.levels))).any():
                raise ValueError(f"discrete actions must be integers in [0, {len(self.levels)}), got {actions}")
            return self.levels[index] / self.sim.n_steps
        if actions.shape not in ((n, 1), (n,)):
            raise ValueError(f"expected continuous action(s) of shape ({n}, 1), got shape {actions.shape}")
        actions = actions.reshape(n).astype(np.float64)
        if not np.all(np.isfinite(actions)):
            raise ValueError(f"continuous actions must be finite, got {actions}")
        return np.clip(actions, 0.0, 1.0)

    def observe(self) -> dict[str, np.ndarray]:
        """The batched observation of every slot."""
        sim = self.sim
        private = self._private
        private[:, 0] = sim.remaining
        private[:, 1] = sim.elapsed
        private = private.copy()
        obs = {"private": private, "public": self.features.public(sim.episode, sim.decision_bar, self.reference)}
        if self.window is not None:
            obs["privileged"] = self.window.copy()
        return obs
