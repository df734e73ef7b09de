"""Orders: which instrument-day, which side, which window of bars.

An order is replayable: evaluation draws a fixed :class:`Orders` batch once and runs every agent on it.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from order_exec_gym.data.dataset import MarketDataset

SIDES = {"sell": 1, "buy": -1}


def whole_number(value: Any, name: str) -> int:
    """``value`` as an ``int`` if it is a whole number (Python or numpy integer, not a bool); ``ValueError`` naming
    ``name`` otherwise (no float, string or bool is converted)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r} ({type(value).__name__})")
    return int(value)


@dataclass(frozen=True)
class Order:
    """One order: trade the whole quantity of ``side`` on ``episode`` within bars ``[start, start + length)``.

    :param episode: index of the instrument-day in the dataset (split) the env runs on
    :param side: ``"sell"`` or ``"buy"``
    :param start: first bar of the window
    :param length: number of bars in the window
    """

    episode: int
    side: str = "sell"
    start: int = 0
    length: int | None = None


@dataclass(frozen=True)
class Orders:
    """A batch of orders as arrays of equal length N (``side`` is +1 for a sell, -1 for a buy)."""

    episode: np.ndarray
    side: np.ndarray
    start: np.ndarray
    length: np.ndarray

    def __len__(self) -> int:
        return len(self.episode)

    def __getitem__(self, index) -> Orders:
        return Orders(self.episode[index], self.side[index], self.start[index], self.length[index])

    def check(self, dataset: MarketDataset) -> Orders:
        """Raise ``ValueError`` naming the first order that does not fit ``dataset``; return the orders."""
        n = len(self.episode)
        if not (len(self.side) == len(self.start) == len(self.length) == n):
            raise ValueError("orders: episode, side, start and length must have the same length")
        if n == 0:
            return self
        if self.episode.min() < 0 or self.episode.max() >= len(dataset):
            raise ValueError(f"order episode out of range: dataset has {len(dataset)} episodes, got {self.episode.tolist()}")
        if not np.isin(self.side, (1.0, -1.0)).all():
            raise ValueError(f"order side must be +1 (sell) or -1 (buy), got {self.side.tolist()}")
        session = dataset.lengths[self.episode].astype(np.int64)
        bad = (self.start < 0) | (self.length < 1) | (self.start + self.length > session)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"order window [{self.start[i]}, {self.start[i] + self.length[i]}) does not fit episode "
                f"{self.episode[i]} of {session[i]} bars"
            )
        return self

    @classmethod
    def from_orders(cls, orders: list[Order], dataset: MarketDataset) -> Orders:
        """Arrays from a list of :class:`Order`, checked against ``dataset`` (a window defaults to the session)."""
        for o in orders:
            if not isinstance(o, Order):
                raise ValueError(f"expected an Order, got {o!r}")
            if o.side not in SIDES:
                raise ValueError(f"order side must be one of {list(SIDES)}, got {o.side!r}")
            for name in ("episode", "start") + (("length",) if o.length is not None else ()):
                whole_number(getattr(o, name), f"order {name}")
        episode = np.array([o.episode for o in orders], dtype=np.int64)
        side = np.array([SIDES[o.side] for o in orders], dtype=np.float64)
        start = np.array([o.start for o in orders], dtype=np.int64)
        in_range = (episode >= 0) & (episode < len(dataset))
        session = np.where(in_range, dataset.lengths[np.where(in_range, episode, 0)], 0).astype(np.int64)
        length = np.array([session[i] - o.start if o.length is None else o.length for i, o in enumerate(orders)], dtype=np.int64)
        return cls(episode, side, start, length).check(dataset)


def sample_orders(
    lengths: np.ndarray,
    n: int | None,
    rng: np.random.Generator,
    side: str = "sell",
    window_bars: int | None = None,
    episode: np.ndarray | None = None,
) -> Orders:
    """Draw ``n`` orders uniformly over the episodes whose sessions have ``lengths`` bars (a dataset's ``lengths``),
    or on the given ``episode`` indices.

    :param side: ``"sell"``, ``"buy"``, or ``"random"`` (each order a fair coin)
    :param window_bars: window length in bars, with a uniform start inside the session; None for the whole
        session. Sessions shorter than the window use the whole session.
    :param episode: the episodes to trade, one order each (``n`` is then their count); None draws them
    """
    if episode is None:
        episode = rng.integers(0, len(lengths), size=n)
    else:
        episode = np.asarray(episode, dtype=np.int64)
        n = len(episode)
        if n and (episode.min() < 0 or episode.max() >= len(lengths)):
            raise ValueError(f"order episode out of range: dataset has {len(lengths)} episodes, got {episode.tolist()}")
    if side == "random":
        sides = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    elif side in SIDES:
        sides = np.full(n, float(SIDES[side]))
    else:
        raise ValueError(f"side must be 'sell', 'buy' or 'random', got {side!r}")
    session = np.asarray(lengths)[episode].astype(np.int64)
    if window_bars is None:
        length = session
        start = np.zeros(n, dtype=np.int64)
    else:
        length = np.minimum(session, window_bars)
        start = (rng.random(n) * (session - length + 1)).astype(np.int64)
    return Orders(episode, sides, start, length)
