"""MarketDataset: a market's episodes (instrument-days) in memory as contiguous arrays, its date splits, and its
persistence as a verified directory of arrays.

Arrays are float32 of shape ``(n_episodes, max_bars)``, holding the validated bars exactly to float32's 7 digits
(:data:`~order_exec_gym.data.schema.PRICE_RANGE`); an episode shorter than ``max_bars`` (a shorter date without
a calendar) is padded after its ``length`` with its last close and zero volume. The simulator never reads past
``length``. Datasets are built from bars by :mod:`~order_exec_gym.data.build` and resolved from names, presets and
directories by :mod:`~order_exec_gym.data.resolve`, which sit above this container (they import it); this class's
constructors ``from_bars``, ``synthetic`` and ``from_preset`` are the users' names for them, thin façades that import
them when called.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from order_exec_gym.data.context import ContextSums
from order_exec_gym.data.market import MarketContext, episode_lines, parse_splits, previous_session, split_rows
from order_exec_gym.data.store import load_array, read_meta, replace_directory, temporary_directory, write_meta
from order_exec_gym.errors import DataError

if TYPE_CHECKING:
    from order_exec_gym.data.schema import BarTable

FIELDS = ("open", "high", "low", "close", "volume", "price")
CACHE_VERSION = 3  # bump when the episodes built from the same files change (3: checksums in meta.json)
CONTEXT_ARRAYS = ("context_dates", "context")  # a dataset's explicit market context, saved when it has one

T = TypeVar("T")


@dataclass(frozen=True)
class MarketDataset:
    """Episodes of market bars in memory, ready for the simulator: a market (:class:`~order_exec_gym.data.market.Market`)
    of one partition, itself.

    :param symbols: instrument of each episode, shape (E,)
    :param dates: session date of each episode, ``datetime64[D]``, shape (E,)
    :param lengths: number of bars in each episode, shape (E,)
    :param bars: ``{field: float32 array (E, max_bars)}`` for open, high, low, close, volume, price
    :param bar_minutes: bar length in minutes
    :param splits: ``{name: (first_date, last_date)}`` inclusive date ranges
    :param source: where the bars come from
    :param report: what was dropped or filled while building, as ``{reason: count}``
    :param model: the parameters of the generative model of a synthetic market (the options of
        :func:`~order_exec_gym.data.synthetic.synthetic_bars`); empty for real data
    :param shard: a shard of a sharded market (:mod:`~order_exec_gym.data.shards`), whose market context covers
        instruments it does not hold: it cannot be built from the shard alone
    :param context: the market context of a larger market these episodes belong to (a shard's: every instrument
        of the sharded market), kept by :meth:`select` and :meth:`split`; None: built from these episodes

    Data derived from the episodes (splits, features, ...) is built once per dataset and shared, see :meth:`derived`.
    """

    symbols: np.ndarray
    dates: np.ndarray
    lengths: np.ndarray
    bars: dict[str, np.ndarray]
    bar_minutes: int
    splits: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)
    source: str = ""
    report: dict[str, int] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    shard: bool = False
    context: MarketContext | None = field(default=None, repr=False, compare=False)
    _derived: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def max_bars(self) -> int:
        return self.bars["price"].shape[1]

    def __getattr__(self, name: str) -> np.ndarray:
        bars = self.__dict__.get("bars")
        if bars is not None and name in bars:
            return bars[name]
        raise AttributeError(name)

    def __repr__(self) -> str:
        return (
            f"MarketDataset(source={self.source!r}, episodes={len(self)}, symbols={len(np.unique(self.symbols))}, "
            f"dates={self.first_date}..{self.last_date}, max_bars={self.max_bars}, bar_minutes={self.bar_minutes})"
        )

    @property
    def first_date(self) -> dt.date:
        return self.dates.min().astype(dt.date)

    @property
    def last_date(self) -> dt.date:
        return self.dates.max().astype(dt.date)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (e.g. sent to a Ray worker) without what is derived from the episodes, rebuilt where it lands (a
        sliding-window view of features would pickle as a full copy, dozens of times the bars)."""
        return {**self.__dict__, "_derived": {}}

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``, called once per dataset and ``key``, then shared by every caller (e.g. every env on it).

        A memo of data derived from the episodes (features, cumulative sums, splits): the result must not be
        modified. :meth:`select` and :func:`dataclasses.replace` give new datasets with nothing derived yet.
        """
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    # ------------------------------------------------------------------------------------------ market interface

    def split_rows(self, name: str) -> np.ndarray:
        """The rows of split ``name``'s episodes (``"all"``: every row), ascending."""
        return split_rows(self, name)

    def previous_sessions(self) -> np.ndarray:
        """The row of each episode's previous session of the same instrument in this dataset, -1 for its first
        (built once, shared)."""
        return self.derived("previous_sessions", lambda: previous_session(self.symbols, self.dates))

    def market_context(self) -> MarketContext:
        """The market context of every date: :attr:`context` when the dataset has one (a shard's, the whole market's),
        else built once from these episodes. A shard without its market's context raises :class:`DataError`
        instead of giving another, wrong context."""
        if self.context is not None:
            return self.context
        if self.shard:
            detail = ("its market context covers every instrument of its sharded market; open it as "
                      "ShardedMarket.open(directory).shard(i), or use market_features=False")  # fmt: skip
            raise DataError("market context of a lone shard", source=self.source, detail=detail)
        return self.derived("market_context", self._own_context)

    def _own_context(self) -> MarketContext:
        sums = ContextSums(self.max_bars)
        sums.add(self)
        return MarketContext(*sums.context())

    n_partitions = 1

    def partition(self, i: int) -> MarketDataset:
        """The one partition, this dataset."""
        if i != 0:
            raise ValueError(f"partition {i} out of range: an in-memory dataset is one partition, 0")
        return self

    def partition_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Every episode in partition 0, at its own row."""
        return np.zeros(len(self), dtype=np.int64), np.arange(len(self))

    # --------------------------------------------------------------------------------------------- subsets

    def rows_of(self, subset: MarketDataset) -> np.ndarray:
        """The row in this dataset of each episode of ``subset`` (e.g. one of its splits), matched by instrument and
        date; ``ValueError`` if an episode of ``subset`` is not in this dataset."""
        if subset is self:
            return np.arange(len(self))
        symbols, codes = np.unique(self.symbols, return_inverse=True)
        keys = self.dates.astype(np.int64) * len(symbols) + codes
        order = np.argsort(keys, kind="stable")
        position = np.minimum(np.searchsorted(symbols, subset.symbols), len(symbols) - 1)
        wanted = subset.dates.astype(np.int64) * len(symbols) + position
        found = np.minimum(np.searchsorted(keys[order], wanted), len(keys) - 1)
        rows = order[found]
        missing = (symbols[position] != subset.symbols) | (keys[rows] != wanted)
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise ValueError(f"episode {subset.symbols[i]} {subset.dates[i]} is not in {self!r}")
        return rows

    def select(self, index: np.ndarray | slice) -> MarketDataset:
        """The episodes at ``index`` as a new dataset (with this one's :attr:`context`): a slice gives views of these
        arrays (no copy), integer indices or a boolean mask give contiguous copies."""
        if isinstance(index, slice):
            bars = {name: values[index] for name, values in self.bars.items()}
        else:
            index = np.asarray(index)
            bars = {name: np.ascontiguousarray(values[index]) for name, values in self.bars.items()}
        return replace(self, symbols=self.symbols[index], dates=self.dates[index], lengths=self.lengths[index], bars=bars)

    def split(self, name: str) -> MarketDataset:
        """The episodes whose date falls in split ``name`` (``"train"``, ``"valid"``, ``"test"``, or ``"all"``).

        Built once per dataset and shared (see :meth:`derived`). Its arrays are views of this dataset's when its
        episodes are contiguous rows, as :meth:`from_bars` lays them out (sorted by date), else copies.
        """
        if name == "all":
            return self
        return self.derived(("split", name), lambda: self.select(_contiguous(self.split_rows(name))))

    def summary(self) -> str:
        """A human-readable account of what the dataset holds and what was dropped or filled."""
        lines = [repr(self), *episode_lines(self)]
        lines += [f"  {reason}: {count}" for reason, count in self.report.items()]
        return "\n".join(lines)

    # --------------------------------------------------------------------------------------------- constructors

    @classmethod
    def from_bars(cls, table: BarTable, splits: dict[str, tuple] | None = None, min_coverage: float = 0.9) -> MarketDataset:
        """Build episodes from a :class:`BarTable`: :func:`~order_exec_gym.data.build.episodes_from_bars`."""
        from order_exec_gym.data.build import episodes_from_bars

        return episodes_from_bars(table, splits, min_coverage)

    @classmethod
    def synthetic(cls, n_symbols: int = 30, n_days: int = 100, seed: int = 0, **options: Any) -> MarketDataset:
        """The embedded synthetic market, shared and read-only: :func:`~order_exec_gym.data.resolve.synthetic_dataset`
        (options: :func:`~order_exec_gym.data.synthetic.synthetic_bars`)."""
        from order_exec_gym.data.resolve import synthetic_dataset

        return synthetic_dataset(n_symbols, n_days, seed, **options)

    @classmethod
    def from_preset(
        cls, name: str, path: str | Path | None = None, cache: bool | str | Path = True, min_coverage: float = 0.9
    ) -> MarketDataset:
        """A preset through its on-disk cache: :func:`~order_exec_gym.data.resolve.preset_dataset`."""
        from order_exec_gym.data.resolve import preset_dataset

        return preset_dataset(name, path, cache, min_coverage)

    # --------------------------------------------------------------------------------------------- persistence

    def save(self, directory: str | Path) -> None:
        """Write the dataset as ``.npy`` arrays plus a ``meta.json`` that holds their checksums, atomically: into a
        temporary directory, then moved into place (:mod:`~order_exec_gym.data.store`)."""
        directory = Path(directory)
        tmp = temporary_directory(directory)
        arrays = {"symbols": self.symbols, "dates": self.dates.astype("int64"), "lengths": self.lengths, **self.bars}
        if self.context is not None:
            arrays.update(zip(CONTEXT_ARRAYS, (self.context.dates.astype("int64"), self.context.values)))
        for name, values in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(values))
        meta = {
            "version": CACHE_VERSION,
            "bar_minutes": self.bar_minutes,
            "source": self.source,
            "report": self.report,
            "model": self.model,
            "splits": {k: [str(a), str(b)] for k, (a, b) in self.splits.items()},
            "shard": self.shard,
            "context": self.context is not None,
        }
        write_meta(tmp, meta)
        replace_directory(tmp, directory)

    @classmethod
    def load(cls, directory: str | Path, mmap: bool = True, verify: bool = True) -> MarketDataset:
        """Read a dataset written by :meth:`save`, verified (:mod:`~order_exec_gym.data.store`: a missing,
        truncated or changed file raises :class:`DataError` naming it); bar arrays are memory-mapped when ``mmap``.
        ``verify=False`` reads one without checksums (older versions wrote none) as it is: save it again."""
        directory = Path(directory)
        meta = read_meta(directory, verify)

        def array(name: str, mapped: bool = False) -> np.ndarray:
            return load_array(directory, name, meta, mmap=mapped)

        context = None
        if meta.get("context", False):
            dates, values = (array(name, mmap) for name in CONTEXT_ARRAYS)
            context = MarketContext(dates.astype("datetime64[D]"), values)
        return cls(
            symbols=array("symbols"),
            dates=array("dates").astype("datetime64[D]"),
            lengths=array("lengths"),
            bars={name: array(name, mmap) for name in FIELDS},
            bar_minutes=meta["bar_minutes"],
            splits=parse_splits(meta["splits"]),
            source=meta["source"],
            report=meta["report"],
            model=meta.get("model", {}),  # caches written before synthetic markets recorded their model: real data
            shard=meta.get("shard", False),
            context=context,
        )


def _contiguous(rows: np.ndarray) -> slice | np.ndarray:
    """``rows`` (ascending) as a slice when they are contiguous (so selecting them copies nothing), else as they are."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows
