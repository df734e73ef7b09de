"""The market interface every market implements, in memory (:class:`~order_exec_gym.data.dataset.MarketDataset`) or
sharded on disk (:class:`~order_exec_gym.data.shards.ShardedMarket`), and the pieces both share.

A market is an **episode index** (the instrument, date and bar count of every episode, sorted by date then
instrument), date **splits**, each episode's **previous session**, the cross-sectional **market context** as explicit
data (:class:`MarketContext`), and **partitions**: the in-memory datasets its episodes live in (one for a dataset,
one per shard for a sharded market), each episode at a row of one partition. Evaluation draws orders over the
index and runs each partition's orders on that partition, with one code path for every kind of market.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from order_exec_gym.errors import DataError

if TYPE_CHECKING:
    from order_exec_gym.data.dataset import MarketDataset


@dataclass(frozen=True, eq=False)
class MarketContext:
    """The cross-sectional market context (:mod:`~order_exec_gym.data.context`) of every date of a market.

    :param dates: the dates, ascending, ``datetime64[D]``, shape (D,)
    :param values: float32 ``(D, max_bars, 3)``: per date and bar, the mean and dispersion of the returns since the
        open and the relative market volume
    """

    dates: np.ndarray
    values: np.ndarray

    def of(self, dates: np.ndarray) -> np.ndarray:
        """The context of each of ``dates`` (episodes' dates), ``(len(dates), max_bars, 3)``; a date the context
        does not cover raises :class:`DataError`."""
        rows = np.minimum(np.searchsorted(self.dates, dates), max(len(self.dates) - 1, 0))
        missing = self.dates[rows] != dates
        if missing.any():
            detail = f"the market context has no row for {dates[np.flatnonzero(missing)[0]]}"
            raise DataError("context without the date", detail=detail)
        return self.values[rows]


@runtime_checkable
class Market(Protocol):
    """What evaluation, the baselines and the experiments read of a market, in memory or sharded on disk.

    The episode index (``symbols``, ``dates``, ``lengths``: one entry per episode, sorted by date then instrument),
    ``bar_minutes``, ``max_bars``, ``splits``, ``source``, ``report`` (what was dropped or filled) and ``model`` (a
    synthetic market's generative options, else empty) are attributes.
    """

    symbols: np.ndarray
    dates: np.ndarray
    lengths: np.ndarray
    bar_minutes: int
    splits: dict[str, tuple[dt.date, dt.date]]
    source: str
    report: dict[str, int]
    model: dict[str, Any]

    @property
    def max_bars(self) -> int: ...

    def __len__(self) -> int: ...

    def split_rows(self, name: str) -> np.ndarray:
        """The episodes of split ``name`` (or ``"all"``), as ascending rows of the index."""
        ...

    def previous_sessions(self) -> np.ndarray:
        """The row of each episode's previous session of the same instrument, -1 for its first."""
        ...

    def market_context(self) -> MarketContext:
        """The market context of every date, from every instrument of the market."""
        ...

    @property
    def n_partitions(self) -> int: ...

    def partition(self, i: int) -> MarketDataset:
        """Partition ``i`` as an in-memory (possibly memory-mapped) dataset carrying the market's context."""
        ...

    def partition_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(partition, row)`` of every episode: the partition it lives in and its row there."""
        ...


def split_rows(market: Market, name: str) -> np.ndarray:
    """The rows of ``market``'s episodes whose date falls in split ``name`` (``"all"``: every episode): an unknown
    split raises ``KeyError`` listing the market's, an empty one :class:`DataError`."""
    if name == "all":
        return np.arange(len(market))
    if name not in market.splits:
        raise KeyError(f"unknown split {name!r}; this market has {sorted(market.splits)} (or 'all')")
    rows = np.flatnonzero(_in_split(market.dates, *market.splits[name]))
    if len(rows) == 0:
        first, last = market.splits[name]
        raise DataError("empty split", source=market.source, detail=f"split {name!r} ({first}..{last}) has no episodes")
    return rows


def _in_split(dates: np.ndarray, first: dt.date, last: dt.date) -> np.ndarray:
    """Which of ``dates`` fall in ``first..last`` (inclusive)."""
    return (dates >= np.datetime64(first, "D")) & (dates <= np.datetime64(last, "D"))


def members(labels: np.ndarray, n: int) -> list[np.ndarray]:
    """The positions of each label ``0 .. n - 1`` in ``labels``, ascending: one stable sort rather than a scan of
    ``labels`` per label (e.g. each shard's episodes in a sharded market's index)."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(n)]


def previous_session(symbols: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Index of each episode's previous session of the same instrument, -1 for its first."""
    order = np.lexsort((dates, symbols))
    previous = np.full(len(symbols), -1, dtype=np.int64)
    same = symbols[order[1:]] == symbols[order[:-1]]
    previous[order[1:][same]] = order[:-1][same]
    return previous


def default_splits(dates: np.ndarray) -> dict[str, tuple[dt.date, dt.date]]:
    """First 70% of the distinct dates train, next 15% valid, rest test (at least one date each if possible)."""
    days = np.unique(dates)
    n = len(days)
    n_train = max(1, int(round(0.7 * n)))
    n_valid = max(1, int(round(0.15 * n))) if n - n_train >= 2 else 0
    bounds = {"train": (0, n_train), "valid": (n_train, n_train + n_valid), "test": (n_train + n_valid, n)}
    return {
        name: (days[a].astype(dt.date), days[b - 1].astype(dt.date)) for name, (a, b) in bounds.items() if b > a
    }


def parse_splits(splits: dict[str, tuple]) -> dict[str, tuple[dt.date, dt.date]]:
    """``{name: (first, last)}`` with dates or ISO date strings, as dates."""

    def as_date(value: Any) -> dt.date:
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))

    return {name: (as_date(first), as_date(last)) for name, (first, last) in splits.items()}


def episode_lines(market: Market) -> list[str]:
    """The lines of a market's summary that count its episodes per split and per number of bars."""
    lines = [
        f"  split {name:<5} {first}..{last}: {int(_in_split(market.dates, first, last).sum())} episodes"
        for name, (first, last) in market.splits.items()
    ]
    sizes, counts = np.unique(market.lengths, return_counts=True)
    return [*lines, "  bars per episode: " + ", ".join(f"{n} x{c}" for n, c in zip(sizes, counts))]
