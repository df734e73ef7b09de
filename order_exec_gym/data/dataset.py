"""MarketDataset: bars -> episodes (instrument-days) as contiguous arrays, with date splits and a cache.

An episode is one instrument over one session. Every session of a date is laid on that date's bar grid: the
market's session calendar when the bars come with one (:attr:`BarTable.session`, set by every preset), else the
bar times seen on that date across all instruments. A missing bar becomes a bar with zero volume whose prices repeat
the previous close; bars before a session's first trade repeat the previous session's close (never a later price),
and a first session without any earlier price is dropped. Episodes with fewer than ``min_coverage`` of a full
session's bars (halted days, half days, one-bar days) are dropped; every drop and every fill is counted in
:attr:`report`.

Arrays are float32 of shape ``(n_episodes, max_bars)``, holding the validated bars exactly to float32's 7 digits
(:data:`~order_exec_gym.data.schema.PRICE_RANGE`); an episode shorter than ``max_bars`` (a shorter date without
a calendar) is padded after its ``length`` with its last close and zero volume. The simulator never reads past
``length``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import inspect
import os
import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

from order_exec_gym.data.presets import PRESETS, load_preset, preset_path
from order_exec_gym.data.schema import BarTable, bar_day
from order_exec_gym.data.store import (
    file_digest, load_array, read_meta, recover_directory, replace_directory, temporary_directory, write_meta,
)
from order_exec_gym.data.synthetic import synthetic_bars
from order_exec_gym.errors import DataError

FIELDS = ("open", "high", "low", "close", "volume", "price")
SPLIT_NAMES = ("train", "valid", "test")
CACHE_VERSION = 3  # bump when the episodes built from the same files change (3: checksums in meta.json)
SYNTHETIC = "synthetic"  # data=SYNTHETIC, like data=None, is the embedded synthetic market
MARKET_CONTEXT = "market_context"  # the derived-cache key of (context, day), see data.context.market_context

T = TypeVar("T")


def default_cache_dir() -> Path:
    """``$ORDER_EXEC_GYM_CACHE``, else ``~/.cache/order_exec_gym``."""
    return Path(os.environ.get("ORDER_EXEC_GYM_CACHE", Path.home() / ".cache" / "order_exec_gym"))


def episode_lines(splits: dict[str, tuple[Any, Any]], dates: np.ndarray, lengths: np.ndarray) -> list[str]:
    """The lines of a market's summary that count its episodes per split and per number of bars."""
    lines = []
    for name, (first, last) in splits.items():
        count = int(((dates >= np.datetime64(first)) & (dates <= np.datetime64(last))).sum())
        lines.append(f"  split {name:<5} {first}..{last}: {count} episodes")
    sizes, counts = np.unique(lengths, return_counts=True)
    return [*lines, "  bars per episode: " + ", ".join(f"{n} x{c}" for n, c in zip(sizes, counts))]


@dataclass(frozen=True)
class MarketDataset:
    """Episodes of market bars, ready for the simulator.

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
        instruments it does not hold: it cannot be rebuilt from the shard alone

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
        sliding-window view of features would pickle as a full copy, dozens of times the bars); but the market
        context, which a shard of a larger market holds for the whole market and could not rebuild."""
        state = dict(self.__dict__)
        state["_derived"] = {key: value for key, value in self._derived.items() if key == MARKET_CONTEXT}
        return state

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``, called once per dataset and ``key``, then shared by every caller (e.g. every env on it).

        For data derived from the episodes (features, cumulative sums, splits): the result must not be modified.
        :meth:`select` and :func:`dataclasses.replace` give new datasets with nothing derived yet.
        """
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    def previous_sessions(self) -> np.ndarray:
        """The row of each episode's previous session of the same instrument in this dataset, -1 for its first
        (built once, shared)."""
        return self.derived("previous_sessions", lambda: _previous_session(self.symbols, self.dates))

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
        """The episodes at ``index`` as a new dataset: a slice gives views of these arrays (no copy), integer
        indices or a boolean mask give contiguous copies."""
        if isinstance(index, slice):
            bars = {name: values[index] for name, values in self.bars.items()}
        else:
            index = np.asarray(index)
            bars = {name: np.ascontiguousarray(values[index]) for name, values in self.bars.items()}
        subset = replace(
            self, symbols=self.symbols[index], dates=self.dates[index], lengths=self.lengths[index], bars=bars
        )
        if MARKET_CONTEXT in self._derived:  # the market's context (a shard's is the whole market's): still true
            context, day = self._derived[MARKET_CONTEXT]
            subset._derived[MARKET_CONTEXT] = (context, day[index])
        return subset

    def split(self, name: str) -> MarketDataset:
        """The episodes whose date falls in split ``name`` (``"train"``, ``"valid"``, ``"test"``, or ``"all"``).

        Built once per dataset and shared (see :meth:`derived`). Its arrays are views of this dataset's when its
        episodes are contiguous rows, as :meth:`from_bars` lays them out (sorted by date), else copies.
        """
        if name == "all":
            return self
        if name not in self.splits:
            raise KeyError(f"unknown split {name!r}; this dataset has {sorted(self.splits)} (or 'all')")
        return self.derived(("split", name), lambda: self._build_split(name))

    def _build_split(self, name: str) -> MarketDataset:
        first, last = (np.datetime64(day, "D") for day in self.splits[name])
        subset = self.select(_rows((self.dates >= first) & (self.dates <= last)))
        if len(subset) == 0:
            raise DataError("empty split", source=self.source, detail=f"split {name!r} ({first}..{last}) has no episodes")
        return subset

    def summary(self) -> str:
        """A human-readable account of what the dataset holds and what was dropped or filled."""
        lines = [repr(self), *episode_lines(self.splits, self.dates, self.lengths)]
        lines += [f"  {reason}: {count}" for reason, count in self.report.items()]
        return "\n".join(lines)

    # ----------------------------------------------------------------------------------------------- building

    @classmethod
    def from_bars(
        cls,
        table: BarTable,
        splits: dict[str, tuple] | None = None,
        min_coverage: float = 0.9,
    ) -> MarketDataset:
        """Build episodes from a :class:`BarTable` (validated when it was made).

        Each date's sessions are laid on a grid of bar times: the table's ``session`` calendar when it has one,
        else the bar times seen on that date across instruments. A full session has the calendar's bars (without a
        calendar: as many as the longest date's grid). Bars missing from a session are filled and counted (see the
        module docstring); an episode with fewer than ``min_coverage`` of a full session's bars is dropped and
        counted, so a halted or half day, or a date with one bar, is not an episode.

        :param table: canonical bars (see :mod:`order_exec_gym.data.schema`)
        :param splits: ``{name: (first_date, last_date)}``; default: the first 70% of dates train, the next
            15% valid, the rest test
        :param min_coverage: the share of a full session's bars an episode must have, in (0, 1]
        """
        if not 0 < min_coverage <= 1:
            raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage}")
        day = bar_day(table.bar_minutes)
        keys = table.frame.select(
            "symbol", day.alias("date"), (pl.col("timestamp") - day.cast(pl.Datetime("us"))).alias("offset")
        )
        grid = _grid(keys, table.session, table.bar_minutes)
        full = len(table.session) if table.session is not None else int(grid["grid_len"].max())
        episodes = (
            keys.group_by("symbol", "date")
            .agg(pl.len().alias("n_bars"))
            .join(grid.group_by("date").agg(pl.col("grid_len").first()), on="date")
            .sort("date", "symbol")
        )
        keep = episodes["n_bars"] >= min_coverage * full
        report = dict(table.report)
        if not keep.all():
            short = f"episodes dropped: fewer than {min_coverage:.0%} of a full session's {full} bars"
            report[short] = int((~keep).sum())
        episodes = episodes.filter(keep).with_row_index("episode")
        if episodes.height == 0:
            detail = f"no episode has {min_coverage:.0%} of a full session's {full} bars"
            raise DataError("empty dataset", source=table.source, detail=detail)
        # Where each bar goes: (episode, slot); bars of dropped episodes get episode -1.
        where = (
            keys.join(grid.select("date", "offset", "slot"), on=["date", "offset"], how="left", maintain_order="left")
            .join(episodes.select("symbol", "date", "episode"), on=["symbol", "date"], how="left", maintain_order="left")
            .select(pl.col("episode").cast(pl.Int64).fill_null(-1), pl.col("slot").cast(pl.Int64))
        )
        row, slot = where["episode"].to_numpy(), where["slot"].to_numpy()
        kept = row >= 0
        row, slot = row[kept], slot[kept]
        lengths = episodes["grid_len"].to_numpy().astype(np.int32)
        shape = (len(lengths), int(lengths.max()))

        def scatter(name: str) -> np.ndarray:
            values = np.full(shape, np.nan, dtype=np.float32)
            values[row, slot] = table.frame[name].to_numpy()[kept]
            return values

        symbols = episodes["symbol"].to_numpy().astype(str)
        dates = episodes["date"].to_numpy().astype("datetime64[D]")
        close = scatter("close")
        missing = np.isnan(close)
        close = _fill_forward(close, missing)
        columns = np.arange(shape[1])
        before_first = columns < np.argmax(~missing, axis=1)[:, None]  # the bars missing before a session's first
        leading = before_first[:, 0]
        if leading.any():  # no bar yet in this session: the previous session's close is the last price known
            previous = _previous_session(symbols, dates)[leading]
            opening = np.where(previous >= 0, close[previous, lengths[previous] - 1], np.nan)
            close[leading] = np.where(before_first[leading], opening[:, None], close[leading])
        priced = ~np.isnan(close[:, 0])
        if not priced.any():
            raise DataError("empty dataset", source=table.source, detail="no episode has a price before its first bar")
        filled = missing & (columns < lengths[:, None]) & priced[:, None]  # in the sessions that are kept
        counts = {
            "leading missing bars filled (previous session's close, zero volume)": int((filled & before_first).sum()),
            "missing bars filled (previous close, zero volume)": int((filled & ~before_first).sum()),
        }
        report.update({reason: count for reason, count in counts.items() if count})
        bars = {"close": close}
        for name in ("open", "high", "low", "price"):
            bars[name] = np.where(missing, close, scatter(name))
        volume = scatter("volume")
        volume[missing] = 0.0
        bars["volume"] = volume
        bars = {name: bars[name] for name in FIELDS}
        dataset = cls(
            symbols=symbols,
            dates=dates,
            lengths=lengths,
            bars=bars,
            bar_minutes=table.bar_minutes,
            splits=_parse_splits(splits) if splits else default_splits(dates),
            source=table.source,
            report=report,
        )
        if not priced.all():
            unpriced = "episodes dropped: bars before the first trade and no previous session to price them"
            report[unpriced] = int((~priced).sum())
            dataset = dataset.select(priced)
        return dataset

    @classmethod
    def synthetic(cls, n_symbols: int = 30, n_days: int = 100, seed: int = 0, **kwargs) -> MarketDataset:
        """The embedded synthetic market (options: :func:`~order_exec_gym.data.synthetic.synthetic_bars`).

        Built once per process per set of options (the 16 most recently used are kept) and shared by every
        caller, so its arrays are read-only.
        """
        options = inspect.signature(synthetic_bars).bind(n_symbols=n_symbols, n_days=n_days, seed=seed, **kwargs)
        options.apply_defaults()
        return _shared_synthetic(cls, **options.arguments)

    @classmethod
    def from_preset(
        cls,
        name: str,
        path: str | Path | None = None,
        cache: bool | str | Path = True,
        min_coverage: float = 0.9,
    ) -> MarketDataset:
        """Load a preset of :data:`order_exec_gym.data.presets.PRESETS`, through the on-disk cache.

        :param name: preset name, e.g. ``"ashare-1min"``
        :param path: the preset's folder (default: its folder under the shared data directory)
        :param cache: ``True`` for :func:`default_cache_dir`, a directory, or ``False`` for no cache
        :param min_coverage: see :meth:`from_bars`
        """
        preset = PRESETS[name] if name in PRESETS else load_preset(name)  # load_preset raises a clear error
        folder = preset_path(preset, path)
        key = _cache_key(name, folder, min_coverage)
        cache_dir = None if cache is False else (default_cache_dir() if cache is True else Path(cache)) / key
        if cache_dir is not None and cache_dir.exists():
            try:
                return cls.load(cache_dir)
            except DataError as error:  # a damaged cache is rebuilt, never trusted nor left broken
                warnings.warn(f"rebuilding the damaged cache of {name!r}: {error}", stacklevel=2)
        dataset = cls.from_bars(load_preset(name, folder), splits=preset.splits, min_coverage=min_coverage)
        if cache_dir is not None:
            dataset.save(cache_dir)
        return dataset

    # --------------------------------------------------------------------------------------------- persistence

    def save(self, directory: str | Path) -> None:
        """Write the dataset as ``.npy`` arrays plus a ``meta.json`` that holds their checksums, atomically: into a
        temporary directory, then moved into place (:mod:`~order_exec_gym.data.store`)."""
        directory = Path(directory)
        tmp = temporary_directory(directory)
        arrays = {"symbols": self.symbols, "dates": self.dates.astype("int64"), "lengths": self.lengths, **self.bars}
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

        return cls(
            symbols=array("symbols"),
            dates=array("dates").astype("datetime64[D]"),
            lengths=array("lengths"),
            bars={name: array(name, mmap) for name in FIELDS},
            bar_minutes=meta["bar_minutes"],
            splits=_parse_splits(meta["splits"]),
            source=meta["source"],
            report=meta["report"],
            model=meta.get("model", {}),  # caches written before synthetic markets recorded their model: real data
            shard=meta.get("shard", False),
        )


def load_dataset(data: MarketDataset | str | Path | None = None, **kwargs) -> MarketDataset:
    """Resolve the env's ``data``: a dataset, None or :data:`SYNTHETIC`, a preset name, or a saved dataset directory.

    None or :data:`SYNTHETIC` gives the embedded synthetic market (``kwargs`` are its options); a directory
    holding ``meta.json`` is a saved dataset.
    """
    if data is None or data == SYNTHETIC:
        return MarketDataset.synthetic(**kwargs)
    if isinstance(data, MarketDataset):
        return data
    if isinstance(data, str) and data in PRESETS:
        return MarketDataset.from_preset(data, **kwargs)
    path = Path(data)
    recover_directory(path)  # a save killed between its two renames left the old directory aside: put it back
    if (path / "shards").is_dir():
        raise ValueError(
            f"{path} is a market sharded on disk, larger than memory perhaps: open it with "
            "order_exec_gym.data.shards.ShardedMarket.open; evaluate() takes it as it is; an env trains on one of its "
            "shards (market.shard(i)), or on market.to_dataset() when it fits in memory"
        )
    if (path / "meta.json").exists():
        return MarketDataset.load(path)
    raise ValueError(
        f"cannot resolve data={data!r}: pass a MarketDataset, None or {SYNTHETIC!r} (the embedded synthetic "
        f"market), a preset name ({', '.join(PRESETS)}), or a directory written by MarketDataset.save "
        "(for your own files, see readers.read_bars)"
    )


@functools.lru_cache(maxsize=16)
def _shared_synthetic(cls: type[MarketDataset], **options: Any) -> MarketDataset:
    """``cls.from_bars(synthetic_bars(**options))`` with read-only arrays, built once per set of options."""
    dataset = replace(cls.from_bars(synthetic_bars(**options)), model=options)
    for values in (dataset.symbols, dataset.dates, dataset.lengths, *dataset.bars.values()):
        values.flags.writeable = False
    return dataset


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


def _parse_splits(splits: dict[str, tuple]) -> dict[str, tuple[dt.date, dt.date]]:
    def as_date(value) -> dt.date:
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))

    return {name: (as_date(first), as_date(last)) for name, (first, last) in splits.items()}


def _rows(mask: np.ndarray) -> slice | np.ndarray:
    """The rows where ``mask`` is true: a slice when they are contiguous (so selecting them copies nothing), else
    their indices."""
    rows = np.flatnonzero(mask)
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _grid(keys: pl.DataFrame, session: tuple[dt.time, ...] | None, bar_minutes: int) -> pl.DataFrame:
    """Each date's bar grid: ``(date, offset, slot, grid_len)`` rows, slots in time order within the day.

    ``offset`` is a bar's end time after the midnight starting its day (:func:`bar_day`), so a 24-hour market's bar
    ending at 00:00 comes last. The grid is ``session`` on every date, else the offsets seen on the date.
    """
    if session is None:
        times = keys.select("date", "offset").unique()
    else:
        offsets = pl.Series("offset", [_offset(end, bar_minutes) for end in session], dtype=pl.Duration("us"))
        times = keys.select("date").unique().join(offsets.to_frame(), how="cross")
    return times.sort("date", "offset").with_columns(
        pl.int_range(pl.len()).over("date").alias("slot"), pl.len().over("date").alias("grid_len")
    )


def _offset(end: dt.time, bar_minutes: int) -> dt.timedelta:
    """The offset of a bar ending at ``end`` after the midnight starting its day (the date of its start)."""
    clock = dt.timedelta(hours=end.hour, minutes=end.minute, seconds=end.second, microseconds=end.microsecond)
    length = dt.timedelta(minutes=bar_minutes)
    return (clock - length) % dt.timedelta(days=1) + length


def _fill_forward(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Fill the ``missing`` cells of each row with the row's previous value (a leading gap stays NaN)."""
    columns = np.arange(values.shape[1])
    last_seen = np.maximum.accumulate(np.where(missing, 0, columns), axis=1)
    filled = np.take_along_axis(values, last_seen, axis=1)
    leading = missing & (columns < np.argmax(~missing, axis=1)[:, None])
    return np.where(leading, np.nan, filled)


def _previous_session(symbols: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Index of each episode's previous session of the same instrument, -1 for its first."""
    order = np.lexsort((dates, symbols))
    previous = np.full(len(symbols), -1, dtype=np.int64)
    same = symbols[order[1:]] == symbols[order[:-1]]
    previous[order[1:][same]] = order[:-1][same]
    return previous


def _cache_key(name: str, folder: Path, min_coverage: float) -> str:
    """The cache's name: the preset, the settings and the contents (not the sizes and times) of every file."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    digest = hashlib.sha256(f"{CACHE_VERSION}|{name}|{min_coverage}".encode())
    for p in files:
        digest.update(f"{p.relative_to(folder)}|{file_digest(p)}".encode())
    return f"{name}-{digest.hexdigest()[:16]}"
