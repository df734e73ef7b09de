"""What the single env and the vector env share: data, spaces, action decoding and observations.

:class:`ExecutionTask` turns an :class:`~order_exec_gym.config.ExecutionConfig` and a market into a dataset split,
an :class:`~order_exec_gym.simulator.ExecutionSimulator` with N slots, a :class:`FeatureBuilder` and the Gymnasium
spaces, so both envs are thin shells around one core.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from order_exec_gym.config import ExecutionConfig
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.resolve import load_dataset
from order_exec_gym.features import N_PRIVILEGED, PRIVATE_FIELDS, FeatureBuilder
from order_exec_gym.orders import Orders, sample_orders
from order_exec_gym.simulator import ExecutionSimulator

#: Bytes of session observations built at once when orders start (larger batches run out of the CPU's cache).
CACHE_BYTES = 2**20


def check_options(options: Mapping[str, Any] | None, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    """``reset``'s options (None: none), refusing keys other than ``allowed`` with a ``ValueError`` naming them."""
    options = {} if options is None else options
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown reset option(s) {unknown}; this env takes {list(allowed)}")
    return options


def public_space(shape: tuple[int, int], masked: bool) -> spaces.Box:
    """The ``public`` Box: unbounded features, and a last column bounded to [0, 1] when it is a mask."""
    low, high = np.full(shape, -np.inf, np.float32), np.full(shape, np.inf, np.float32)
    if masked:
        low[:, -1], high[:, -1] = 0.0, 1.0
    return spaces.Box(low, high, dtype=np.float32)


class ExecutionTask:
    """The order-execution problem for ``num_orders`` parallel slots.

    :param data: the market in memory: a dataset, a preset name, a saved-dataset directory, or None / ``"synthetic"``
    :param split: the date split the orders are drawn from (``"all"`` for every episode)
    :param config: the settings (an :class:`ExecutionConfig` or a mapping of its fields; None: the defaults)
    :param num_orders: parallel order slots N

    ``market`` is the whole dataset (baselines calibrate on its training split); ``dataset`` is the split.
    """

    def __init__(
        self,
        data: MarketDataset | str | None = None,
        split: str = "train",
        config: ExecutionConfig | Mapping[str, Any] | None = None,
        num_orders: int = 1,
    ):
        if isinstance(num_orders, bool) or not isinstance(num_orders, numbers.Integral) or num_orders < 1:
            raise ValueError(f"the number of parallel orders (num_envs) must be a positive integer, got {num_orders!r}")
        self.config = config = ExecutionConfig.from_kwargs(config)
        self.market = load_dataset(data)
        self.dataset = self.market.split(split)
        self.split = split
        self.layout = config.in_bars(self.dataset.bar_minutes)
        self.levels = np.asarray(config.levels, dtype=np.float64)
        self.sim = ExecutionSimulator(self.dataset, int(num_orders), config)
        self.features = FeatureBuilder.shared(self.market, self.layout.lookback_bars, config.history, config.market_features)
        #: The market row of each episode of the split (the features are the market's).
        self.market_rows = self.market.rows_of(self.dataset)
        self.reference = np.zeros(num_orders, dtype=np.float32)
        # remaining, elapsed, side, 1/T: the last two are set per order at reset, the first two at every step
        self._private = np.zeros((num_orders, len(PRIVATE_FIELDS)), dtype=np.float32)
        #: Each slot's window (privileged): replaced by a new array when slots are reset, never written into.
        self.window = np.zeros((num_orders, self.dataset.max_bars, N_PRIVILEGED), np.float32) if config.privileged else None
        # history="session": each slot's public observation, kept up to date bar by bar, and the decision bar it is at.
        session = config.history == "session"
        self._session = np.zeros((num_orders, *self.features.shape), np.float32) if session else None
        self._shown = np.zeros(num_orders, dtype=np.int64)
        self._shown_episode = np.zeros(num_orders, dtype=np.int64)  # the order each kept observation belongs to

        observation = {
            "private": spaces.Box(np.array([0, 0, -1, 0], np.float32), np.array([1, 1, 1, 1], np.float32)),
            "public": public_space(self.features.shape, masked=config.history == "session"),
        }
        if config.privileged:
            observation["privileged"] = spaces.Box(-np.inf, np.inf, (self.dataset.max_bars, N_PRIVILEGED), np.float32)
        self.observation_space = spaces.Dict(observation)
        if config.action_type == "discrete":
            self.action_space: spaces.Space = spaces.Discrete(len(self.levels))
        else:
            self.action_space = spaces.Box(0.0, 1.0, (1,), np.float32)

    def sample(self, n: int | None, rng: np.random.Generator, episode: np.ndarray | None = None) -> Orders:
        """Draw ``n`` orders from the split with ``rng`` (or one on each of the given ``episode`` indices)."""
        return sample_orders(self.dataset.lengths, n, rng, self.config.side, self.layout.window_bars, episode)

    def reset(self, orders: Orders, slots: np.ndarray | slice = slice(None)) -> None:
        """Start ``orders`` in ``slots`` of the simulator and cache their per-episode observation parts.

        Orders that do not fit the dataset raise ``ValueError``. Orders start through this method, not the
        simulator's ``reset``, so the observation state follows.
        """
        self.sim.reset(orders.check(self.dataset), slots)
        self._private[slots, 2] = orders.side
        self._private[slots, 3] = 1.0 / self.sim.n_steps[slots]
        rows = self.market_rows[orders.episode]
        self.reference[slots] = self.features.reference(rows, orders.start)
        if self._session is not None:
            self._reset_session(np.arange(self.sim.num_orders)[slots], rows, orders.start)
        if self.window is not None:  # copy on write: windows already observed stay as they were
            window = self.window.copy()
            window[slots] = self.features.privileged(rows, orders.start, orders.length, self.reference[slots])
            self.window = window

    def _reset_session(self, slots: np.ndarray, rows: np.ndarray, start: np.ndarray) -> None:
        """Build the session observations of new orders in ``slots`` from scratch, in batches that stay in cache."""
        batch = max(1, CACHE_BYTES // self._session[0].nbytes)
        for first in range(0, len(slots), batch):
            part = slice(first, first + batch)
            self._session[slots[part]] = self.features.public(rows[part], start[part], self.reference[slots[part]])
        self._shown[slots] = start
        self._shown_episode[slots] = self.sim.episode[slots]

    def ratios(self, actions: np.ndarray) -> np.ndarray:
        """Decode a batch of actions (N,) for discrete, (N, 1) for continuous into ratios of the order.

        Discrete: an integer index into ``levels`` (others raise ``ValueError``); the ratio is
        ``levels[i] / T`` (``level_unit="twap"``) or ``levels[i]`` (``"order"``). Continuous: numbers only (strings
        and bools raise ``ValueError``, as do NaN and infinite values); finite values are clipped to [0, 1].
        """
        n = self.sim.num_orders
        actions = np.asarray(actions)
        if self.config.action_type == "discrete":
            if actions.shape not in ((n,), (n, 1)):
                raise ValueError(f"expected {n} discrete action(s) of shape ({n},), got shape {actions.shape}")
            if actions.dtype.kind not in "iu" and not (
                actions.dtype.kind == "f" and np.all(np.isfinite(actions)) and np.all(actions == np.round(actions))
            ):
                raise ValueError(f"discrete actions must be integers in [0, {len(self.levels)}), got {actions}")
            index = actions.reshape(n).astype(np.int64, copy=False)
            if ((index < 0) | (index >= len(self.levels))).any():
                raise ValueError(f"discrete actions must be integers in [0, {len(self.levels)}), got {actions}")
            return self.levels[index] / self.sim.n_steps if self.config.level_unit == "twap" else self.levels[index]
        if actions.shape not in ((n, 1), (n,)):
            raise ValueError(f"expected continuous action(s) of shape ({n}, 1), got shape {actions.shape}")
        if actions.dtype.kind not in "iuf":
            raise ValueError(f"continuous actions must be numbers, got {actions.dtype} values {actions}")
        actions = actions.reshape(n).astype(np.float64)
        if not np.all(np.isfinite(actions)):
            raise ValueError(f"continuous actions must be finite, got {actions}")
        return np.clip(actions, 0.0, 1.0)

    def observe(self) -> dict[str, np.ndarray]:
        """The batched observation of every slot.

        The arrays returned are never written to afterwards, so callers may keep them, but must not write into
        them: ``private`` and ``public`` are new arrays, ``privileged`` is :attr:`window`, shared by the
        observations until a reset replaces it.
        """
        sim = self.sim
        private = self._private
        private[:, 0] = sim.remaining
        private[:, 1] = sim.elapsed
        obs = {"private": private.copy(), "public": self._public()}
        if self.window is not None:
            obs["privileged"] = self.window
        return obs

    def _public(self) -> np.ndarray:
        """``public`` of every slot: with ``history="session"``, the kept state brought up to the decision bars
        (only the bars revealed since the last observation are written), then copied."""
        sim = self.sim
        rows = self.market_rows[sim.episode]
        if self._session is None:
            return self.features.public(rows, sim.decision_bar, self.reference)
        if (sim.episode != self._shown_episode).any() or (sim.decision_bar < self._shown).any():
            raise RuntimeError(
                "the simulator's orders changed outside ExecutionTask.reset: start orders with task.reset, which "
                "keeps the observations (and the reference prices) in step"
            )
        self.features.reveal(self._session, rows, self._shown, sim.decision_bar, self.reference)
        self._shown[:] = sim.decision_bar
        return self._session.copy()
