"""Markets larger than memory: episodes written as memory-mapped shards plus an index, in one streaming pass.

A sharded market is a directory::

    meta.json            format version, bar_minutes, max_bars, splits, source, report (summed over the shards),
                         model (the synthetic options, else {}), the shard names and the checksums of their
                         meta.json, the checksum of every array file here (data.store: verified when opened)
    symbols.npy  dates.npy  lengths.npy  shards.npy  rows.npy
                         the index: one entry per episode of the whole market, sorted by (date, symbol) as
                         MarketDataset.from_bars sorts them; episode e is row rows[e] of shard shards[e]
    context.npy          (D, max_bars, 3) float32: the market context (data.context) over ALL instruments of each date
    context_dates.npy    (D,) datetime64[D]: the dates of context.npy's rows
    shards/<name>/       one MarketDataset.save directory per group of instruments

Shards hold every session of their instruments (sharded by instrument), so an episode's previous session, the
price that fills its leading bars, and the ``history="session"`` observation are all found in its own shard, and
each shard is exactly the episodes :meth:`MarketDataset.from_bars` builds for those instruments out of the whole
market. Shards are built and written one at a time: memory is bounded by one shard (plus the index).
:meth:`ShardedMarket.to_dataset` concatenates them back into the in-memory dataset, equal array for array to
:meth:`~order_exec_gym.data.dataset.MarketDataset.from_bars` of the whole bar table.

The cross-sectional market context needs every instrument of a date: :func:`write_shards` sums its inputs (bar
count, return since the open and its square, volume per date and bar) over the shards as they are written, and
:meth:`ShardedMarket.shard` gives each shard the global context as data (its ``context``). A sharded market is a
:class:`~order_exec_gym.data.market.Market` whose partitions are its shards.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import operator
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from order_exec_gym.data.build import episodes_from_bars
from order_exec_gym.data.context import ContextSums
from order_exec_gym.data.dataset import FIELDS, MarketDataset
from order_exec_gym.data.market import (
    MarketContext, default_splits, episode_lines, members, parse_splits, previous_session, split_rows,
)
from order_exec_gym.data.presets import PRESETS, load_preset, preset_path
from order_exec_gym.data.readers import check_blank_lines, matching_files
from order_exec_gym.data.schema import BarTable
from order_exec_gym.data.synthetic import synthetic_bars
from order_exec_gym.data.store import (
    load_array, read_meta, replace_directory, temporary_directory, update_meta, write_meta,
)
from order_exec_gym.errors import DataError

SHARDS_VERSION = 2  # bump when the layout of a sharded market changes (2: checksums)
SHARDS = "shards"
INDEX = ("symbols", "dates", "lengths", "shards", "rows")
#: The presets :func:`preset_shards` streams, and the glob of their data files (one per date, every instrument's
#: rows, a ``symbol`` column).
STREAMED_PRESETS = {"ashare-1min": "stocks_1min_*.csv*"}


@dataclass(frozen=True, eq=False)
class ShardedMarket:
    """A market written by :func:`write_shards`: its metadata and episode index, the bars left on disk.

    :param directory: the market's directory
    :param bar_minutes: bar length in minutes
    :param max_bars: bars per episode (the session calendar's)
    :param splits: ``{name: (first_date, last_date)}`` inclusive date ranges, shared by every shard
    :param source: where the bars come from
    :param report: what was dropped or filled while building, summed over the shards
    :param model: the options of the synthetic generator (see :func:`synthetic_shards`); empty for real data
    :param shard_names: the shards, in order (``shards/<name>/``)
    :param shard_checksums: the checksum of each shard's ``meta.json`` when the market was written (a shard that is
        not the one written there, e.g. another shard's copy, is refused when opened)
    :param symbols: instrument of each episode of the market, sorted by (date, symbol), shape (E,)
    :param dates: date of each episode, ``datetime64[D]``
    :param lengths: bars of each episode
    :param shards: shard of each episode (an index into ``shard_names``)
    :param rows: row of each episode in its shard
    :param context_dates: the dates of the rows of the global market context
    """

    directory: Path
    bar_minutes: int
    max_bars: int
    splits: dict[str, tuple[dt.date, dt.date]]
    source: str
    report: dict[str, int]
    model: dict[str, Any]
    shard_names: tuple[str, ...]
    shard_checksums: tuple[str, ...]
    symbols: np.ndarray
    dates: np.ndarray
    lengths: np.ndarray
    shards: np.ndarray
    rows: np.ndarray
    context_dates: np.ndarray

    @classmethod
    def open(cls, directory: str | Path) -> ShardedMarket:
        """Read the metadata and memory-map the index of the market in ``directory``; no bar array is read."""
        directory = Path(directory)
        meta = read_meta(directory)
        if meta.get("version") != SHARDS_VERSION:
            detail = f"format version {meta.get('version')}, this library reads {SHARDS_VERSION}: write it again"
            raise DataError("unsupported sharded market", source=str(directory), detail=detail)
        index = {name: load_array(directory, name, meta, mmap=True) for name in INDEX}
        return cls(
            directory=directory,
            bar_minutes=meta["bar_minutes"],
            max_bars=meta["max_bars"],
            splits=parse_splits(meta["splits"]),
            source=meta["source"],
            report=meta["report"],
            model=meta["model"],
            shard_names=tuple(meta["shards"]),
            shard_checksums=tuple(meta["shard_checksums"]),
            context_dates=load_array(directory, "context_dates", meta),
            **index,
        )

    def __len__(self) -> int:
        return len(self.lengths)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its directory (e.g. for Ray tasks), opened again where it is unpickled."""
        return ShardedMarket.open, (str(self.directory),)

    @property
    def n_shards(self) -> int:
        return len(self.shard_names)

    def __repr__(self) -> str:
        return (
            f"ShardedMarket(directory={str(self.directory)!r}, source={self.source!r}, episodes={len(self)}, "
            f"shards={self.n_shards}, dates={self.dates.min()}..{self.dates.max()}, max_bars={self.max_bars}, "
            f"bar_minutes={self.bar_minutes})"
        )

    def summary(self) -> str:
        """What the market holds, per split and per shard, and what was dropped or filled (as
        :meth:`MarketDataset.summary`)."""
        lines = [repr(self), f"  instruments: {len(np.unique(self.symbols))}"]
        lines += episode_lines(self)
        per_shard = np.bincount(self.shards, minlength=self.n_shards)
        lines.append(f"  episodes per shard: {per_shard.min()}..{per_shard.max()} in {self.n_shards} shards")
        lines += [f"  {reason}: {count}" for reason, count in self.report.items()]
        return "\n".join(lines)

    def shard(self, i: int) -> MarketDataset:
        """Shard ``i`` as a memory-mapped :class:`MarketDataset` carrying the global market context (``context``),
        checked to be the shard this market was written with, holding the episodes the index gives it."""
        i = operator.index(i)
        if not 0 <= i < self.n_shards:
            raise ValueError(f"shard {i} out of range: {self.directory} has {self.n_shards} shards")
        path = self.directory / SHARDS / self.shard_names[i]
        if read_meta(path)["checksum"] != self.shard_checksums[i]:
            detail = f"not the shard {self.shard_names[i]} that {self.directory} was written with"
            raise DataError("replaced shard", source=str(path), detail=detail)
        shard = MarketDataset.load(path, mmap=True)
        mine = self._members[i]
        rows = self.rows[mine]
        if len(rows) != len(shard) or not (
            np.array_equal(shard.symbols[rows], self.symbols[mine]) and np.array_equal(shard.dates[rows], self.dates[mine])
        ):
            detail = f"its episodes are not those the index of {self.directory} gives shard {self.shard_names[i]}"
            raise DataError("shard and index differ", source=str(path), detail=detail)
        return replace(shard, context=self.market_context())

    def iter_shards(self) -> Iterator[tuple[int, MarketDataset]]:
        """``(i, shard(i))`` for every shard, in order."""
        for i in range(self.n_shards):
            yield i, self.shard(i)

    def to_dataset(self) -> MarketDataset:
        """The whole market in memory (for markets that fit): the shards' episodes in the index's order, equal
        array for array to :meth:`MarketDataset.from_bars` of the whole bar table."""
        bars = {name: np.empty((len(self), self.max_bars), np.float32) for name in FIELDS}
        for i, shard in self.iter_shards():
            at = self._members[i]
            for name, values in bars.items():
                values[at] = shard.bars[name][self.rows[at]]
        return MarketDataset(
            symbols=np.array(self.symbols),
            dates=np.array(self.dates),
            lengths=np.array(self.lengths),
            bars=bars,
            bar_minutes=self.bar_minutes,
            splits=dict(self.splits),
            source=self.source,
            report=dict(self.report),
            model=dict(self.model),
            context=self.market_context(),
        )

    # ------------------------------------------------------------------------------------------ market interface

    def split_rows(self, name: str) -> np.ndarray:
        """The index rows of split ``name``'s episodes (``"all"``: every row), ascending."""
        return split_rows(self, name)

    def previous_sessions(self) -> np.ndarray:
        """The index row of each episode's previous session of the same instrument, -1 for its first."""
        return self._previous_sessions

    @functools.cached_property
    def _members(self) -> list[np.ndarray]:
        """The index rows of each shard's episodes, ascending."""
        return members(self.shards, self.n_shards)

    @functools.cached_property
    def _previous_sessions(self) -> np.ndarray:
        return previous_session(self.symbols, self.dates)

    def market_context(self) -> MarketContext:
        """The global market context, over every instrument of every shard (memory-mapped, verified once per
        opened market)."""
        return self._context

    @functools.cached_property
    def _context(self) -> MarketContext:
        return MarketContext(self.context_dates, load_array(self.directory, "context", read_meta(self.directory), mmap=True))

    @property
    def n_partitions(self) -> int:
        """The shards."""
        return self.n_shards

    def partition(self, i: int) -> MarketDataset:
        """Shard ``i`` (:meth:`shard`)."""
        return self.shard(i)

    def partition_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The shard of every episode and its row there."""
        return self.shards, self.rows


# --------------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------------


def write_shards(
    tables: Iterable[BarTable],
    directory: str | Path,
    splits: dict[str, tuple] | None = None,
    min_coverage: float = 0.9,
    *,
    source: str | None = None,
    model: Mapping[str, Any] | None = None,
) -> ShardedMarket:
    """Build and write one shard per table, one at a time, then the index, the global context and the metadata.

    Each table is a group of instruments holding all their bars (an instrument in two tables raises
    :class:`DataError`), with the market's session calendar (tables without one, or with another, raise: a date's
    bar grid must not depend on the shard). Every shard is :meth:`MarketDataset.from_bars` of its table, so
    validation, drops and fills are as in memory, and the report is their sum. The directory is written
    atomically (a temp dir renamed), replacing what was there.

    The global context equals the whole market's own (:meth:`MarketDataset.market_context`) bit for bit
    when the tables hold ascending ranges of symbols (as :func:`synthetic_shards` and :func:`preset_shards` write
    them): then its sums add the instruments in the same order; otherwise it equals it to float64 rounding.

    :param tables: the groups of instruments (any iterable: a generator keeps one table in memory at a time)
    :param directory: where to write the market
    :param splits: ``{name: (first_date, last_date)}``; default: :func:`default_splits` of every episode's date,
        known once every table is read, then written into each shard's ``meta.json``
    :param min_coverage: see :meth:`MarketDataset.from_bars`
    :param source: the label of the market and its shards (default: the tables' distinct sources)
    :param model: the synthetic generator's options, recorded in the market and its shards
    """
    directory = Path(directory)
    tmp = temporary_directory(directory)
    (tmp / SHARDS).mkdir()
    try:
        _write(tables, tmp, splits, min_coverage, source, dict(model or {}))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_directory(tmp, directory)
    return ShardedMarket.open(directory)


def _write(
    tables: Iterable[BarTable],
    tmp: Path,
    splits: dict[str, tuple] | None,
    min_coverage: float,
    source: str | None,
    model: dict[str, Any],
) -> None:
    """The body of :func:`write_shards`, writing into ``tmp``."""
    names: list[str] = []
    index: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    report: dict[str, int] = {}
    sources: dict[str, None] = {}  # distinct, in order
    owner: dict[str, str] = {}  # instrument -> shard name
    calendar: tuple[int, tuple[dt.time, ...]] | None = None
    sums: ContextSums | None = None
    for table in tables:
        name = f"{len(names):05d}"
        calendar = _check_calendar(table, calendar)
        symbols = table.frame["symbol"].unique().sort().to_list()
        shared = [symbol for symbol in symbols if symbol in owner]
        if shared:
            raise DataError(
                "instrument in two tables",
                source=table.source,
                symbol=shared[0],
                detail=f"its bars are also in shard {owner[shared[0]]}: a shard holds every session of its "
                "instruments (an episode's previous session is in its own shard), so give each instrument's bars "
                "in one table",
            )
        owner.update(dict.fromkeys(symbols, name))
        try:
            dataset = episodes_from_bars(table, splits=splits, min_coverage=min_coverage)
        except DataError as error:
            if error.rule != "empty dataset":
                raise
            detail = f"shard {name} ({symbols[0]}..{symbols[-1]}) has no episode ({error}): use larger groups"
            raise DataError("empty shard", source=table.source, detail=detail) from error
        dataset = replace(dataset, source=source or table.source, model=model, shard=True)
        dataset.save(tmp / SHARDS / name)
        sums = sums or ContextSums(dataset.max_bars)
        sums.add(dataset)
        index.append((dataset.symbols, dataset.dates, dataset.lengths))
        for reason, count in dataset.report.items():
            report[reason] = report.get(reason, 0) + count
        sources[table.source] = None
        names.append(name)
        del table, dataset  # hold no shard while the next table is made
    if sums is None:
        raise ValueError("write_shards needs at least one table, got none")
    symbols, dates, lengths = (np.concatenate(parts) for parts in zip(*index))
    shards = np.repeat(np.arange(len(names), dtype=np.int32), [len(part[0]) for part in index])
    rows = np.concatenate([np.arange(len(part[0]), dtype=np.int64) for part in index])
    order = np.lexsort((symbols, dates))
    arrays = {"symbols": symbols, "dates": dates, "lengths": lengths, "shards": shards, "rows": rows}
    for key, values in arrays.items():
        np.save(tmp / f"{key}.npy", values[order])
    context_dates, context = sums.context()
    np.save(tmp / "context.npy", context)
    np.save(tmp / "context_dates.npy", context_dates)
    ranges = parse_splits(splits) if splits else default_splits(dates)
    as_text = {key: [str(first), str(last)] for key, (first, last) in ranges.items()}
    checksums = [
        (update_meta(tmp / SHARDS / name, splits=as_text) if not splits else read_meta(tmp / SHARDS / name))["checksum"]
        for name in names
    ]
    meta = {
        "version": SHARDS_VERSION,
        "bar_minutes": calendar[0],
        "max_bars": int(context.shape[1]),
        "splits": as_text,
        "source": source if source is not None else "; ".join(sources),
        "report": report,
        "model": model,
        "shards": names,
        "shard_checksums": checksums,
    }
    write_meta(tmp, meta)


def _check_calendar(
    table: BarTable, calendar: tuple[int, tuple[dt.time, ...]] | None
) -> tuple[int, tuple[dt.time, ...]]:
    """The ``(bar_minutes, session)`` of ``table``, which must have a session and match ``calendar`` when set."""
    if table.session is None:
        detail = (
            "shards lay their sessions on the market's calendar (BarTable.session); without one, a date's bar grid "
            "would be the bar times seen in one shard only: read the bars with session="
        )
        raise DataError("no session calendar", source=table.source, detail=detail)
    own = (table.bar_minutes, table.session)
    if calendar is not None and own != calendar:
        detail = (
            f"{own[0]}-minute bars on a {len(own[1])}-bar session ({own[1][0]}..{own[1][-1]}); the first table has "
            f"{calendar[0]}-minute bars on a {len(calendar[1])}-bar session ({calendar[1][0]}..{calendar[1][-1]})"
        )
        raise DataError("another calendar", source=table.source, detail=detail)
    return own


# --------------------------------------------------------------------------------------------------------------
# Synthetic markets of any size
# --------------------------------------------------------------------------------------------------------------


def synthetic_shards(
    directory: str | Path,
    n_symbols: int,
    n_days: int,
    symbols_per_shard: int = 25,
    seed: int = 0,
    **options: Any,
) -> ShardedMarket:
    """A synthetic market of ``n_symbols`` x ``n_days`` written group by group, never holding more than one group.

    Group g (instruments ``g * symbols_per_shard ..``) is
    ``synthetic_bars(n_symbols=<group size>, n_days=n_days, seed=group_seed(seed, g), **options)`` with its
    instruments renamed ``SYN00000``, ``SYN00001``, ... by their index in the whole market (at least 5 digits).
    Each group draws from its own random stream, so the bars differ from those of
    ``MarketDataset.synthetic(n_symbols, n_days, seed)``, whose one stream covers every instrument: the market
    is the same model, not the same draw. ``model`` records the options plus ``n_symbols``, ``n_days``, ``seed``
    and ``symbols_per_shard``.

    :param options: the other options of :func:`~order_exec_gym.data.synthetic.synthetic_bars`
    """
    for name, value in (("n_symbols", n_symbols), ("n_days", n_days), ("symbols_per_shard", symbols_per_shard)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    arguments = inspect.signature(synthetic_bars).bind(n_symbols=n_symbols, n_days=n_days, seed=seed, **options)
    arguments.apply_defaults()
    model = {**arguments.arguments, "symbols_per_shard": symbols_per_shard}
    width = max(5, len(str(n_symbols - 1)))

    def groups() -> Iterator[BarTable]:
        for g, first in enumerate(range(0, n_symbols, symbols_per_shard)):
            size = min(symbols_per_shard, n_symbols - first)
            group = {**arguments.arguments, "n_symbols": size, "seed": group_seed(seed, g)}
            if group["factor_seed"] is None:  # one market factor for every group, drawn from the market's own seed
                group["factor_seed"] = seed
            yield _renamed(synthetic_bars(**group), first, width)

    settings = ", ".join(f"{key}={value!r}" for key, value in model.items())
    return write_shards(groups(), directory, source=f"synthetic_shards({settings})", model=model)


def _renamed(table: BarTable, first: int, width: int) -> BarTable:
    """``table`` of synthetic instruments ``SYN<i>`` renamed ``SYN<first + i>``, zero-padded to ``width`` digits."""
    index = pl.col("symbol").str.slice(3).cast(pl.Int64) + first
    symbol = (pl.lit("SYN") + index.cast(pl.String).str.zfill(width)).alias("symbol")
    return replace(table, frame=table.frame.with_columns(symbol))


def group_seed(seed: int, group: int) -> int:
    """The seed of group ``group`` of a synthetic market seeded ``seed``: the first 32-bit word of
    ``numpy.random.SeedSequence([seed, group])``, so groups draw independent streams."""
    return int(np.random.SeedSequence([seed, group]).generate_state(1)[0])


# --------------------------------------------------------------------------------------------------------------
# Presets in one streaming pass
# --------------------------------------------------------------------------------------------------------------


def preset_shards(
    name: str,
    directory: str | Path,
    symbols_per_shard: int = 200,
    path: str | Path | None = None,
    min_coverage: float = 0.9,
) -> ShardedMarket:
    """A preset written as shards of ``symbols_per_shard`` instruments, with bounded memory: exactly the episodes,
    report and splits of ``MarketDataset.from_preset(name, path, cache=False, min_coverage=min_coverage)``.

    Supported: the presets of :data:`STREAMED_PRESETS` (the others are small: use ``from_preset``). Each data file
    is read twice, one at a time: its symbols (instruments are grouped in ascending symbol order), then its rows,
    split by group into vendor-format CSV files (the text as read, no value converted) in a temporary directory
    next to ``directory`` (about the data's uncompressed size; each group's files are deleted once its shard is
    written). Then the preset's own loader reads each group's files (the folder's other files, e.g. the index
    files it counts, are linked into the first group only), so every repair, drop and count is the loader's.
    Errors name the original files. The loader reads an instrument's rows in file order, which splitting keeps
    when each instrument's rows are together in a file (as the vendor writes them; else :class:`DataError`).
    A group whose instruments never trade raises :class:`DataError` ("empty shard"): use larger groups.
    """
    if name not in STREAMED_PRESETS:
        raise ValueError(
            f"preset_shards streams the presets {sorted(STREAMED_PRESETS)}, not {name!r}; the other presets fit in "
            f"memory: MarketDataset.from_preset({name!r}) (or write_shards([load_preset({name!r})], ...))"
        )
    if isinstance(symbols_per_shard, bool) or not isinstance(symbols_per_shard, int) or symbols_per_shard < 1:
        raise ValueError(f"symbols_per_shard must be a positive integer, got {symbols_per_shard!r}")
    preset = PRESETS[name]
    folder = preset_path(preset, path)
    files = matching_files(folder, STREAMED_PRESETS[name])
    seen: set[str] = set()
    for file in files:
        seen.update(_read_text(file, ["symbol"])["symbol"].drop_nulls().unique().to_list())
    symbols = sorted(seen)
    groups = [symbols[first : first + symbols_per_shard] for first in range(0, len(symbols), symbols_per_shard)]
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    # <directory>.parts.tmp<pid>: a killed run's is removed by the next one (data.store.recover_directory)
    parts = temporary_directory(directory.with_name(f"{directory.name}.parts"))
    try:
        sources = _partition(files, groups, parts, folder)
        first = parts / _group_name(0)
        for other in sorted(set(folder.iterdir()) - set(files)):
            if other.is_file():
                (first / other.name).symlink_to(other.resolve())
        tables = _group_tables(name, parts, groups, folder, sources)
        return write_shards(tables, directory, splits=preset.splits, min_coverage=min_coverage, source=str(folder))
    finally:
        shutil.rmtree(parts, ignore_errors=True)


def _group_name(group: int) -> str:
    return f"{group:05d}"


def _read_text(path: Path, columns: list[str] | None = None) -> pl.DataFrame:
    """The CSV ``path`` (or ``columns`` of it) as text, exactly as written; unreadable files raise DataError."""
    try:
        return pl.read_csv(path, columns=columns, infer_schema=False)
    except pl.exceptions.PolarsError as error:
        detail = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        raise DataError("unreadable file", source=str(path), detail=detail) from error


def _partition(files: list[Path], groups: list[list[str]], parts: Path, folder: Path) -> dict[str, str]:
    """Split each of ``files`` by instrument group into ``parts/<group>/<file name without .gz>``; return the
    original file of each written one (and of each group folder, the preset's folder), to re-address errors."""
    membership = pl.DataFrame(
        {
            "symbol": [symbol for group in groups for symbol in group],
            "_group": [g for g, group in enumerate(groups) for _ in group],
        }
    )
    sources = {}
    for g in range(len(groups)):
        (parts / _group_name(g)).mkdir()
        sources[str(parts / _group_name(g))] = str(folder)
    for path in files:
        rows = _read_text(path)
        check_blank_lines(rows, rows.columns, str(path))  # here, where the line numbers are the original file's
        _check_together(rows, path)
        # a row without a symbol goes to the first group, whose loader rejects it as the whole preset's would
        grouped = rows.join(membership, on="symbol", how="left", maintain_order="left").with_columns(
            pl.col("_group").fill_null(0)
        )
        for (group,), part in grouped.partition_by("_group", as_dict=True, maintain_order=True).items():
            target = parts / _group_name(group) / path.name.removesuffix(".gz")
            part.drop("_group").write_csv(target)
            sources[str(target)] = str(path)
    return sources


def _check_together(rows: pl.DataFrame, path: Path) -> None:
    """Raise DataError when an instrument's rows in the file ``rows`` of ``path`` are not one block."""
    symbol = pl.col("symbol")
    starts = rows.filter(symbol.ne_missing(symbol.shift(1)))["symbol"]
    if starts.len() != starts.n_unique():
        detail = (
            "the rows of an instrument are in several blocks; preset_shards splits files by instrument, which keeps "
            "the loader's reading of rows in file order only when they are together: use MarketDataset.from_preset"
        )
        apart = starts.filter(starts.is_duplicated())[0]
        raise DataError("instrument rows apart", source=str(path), symbol=apart, detail=detail)


def _group_tables(
    name: str, parts: Path, groups: list[list[str]], folder: Path, sources: dict[str, str]
) -> Iterator[BarTable]:
    """Each group's bars read by the preset's loader (see :func:`_group_table`)."""
    for g, group in enumerate(groups):
        yield _group_table(name, parts / _group_name(g), f"{g} ({group[0]}..{group[-1]})", folder, sources)


def _group_table(name: str, location: Path, group: str, folder: Path, sources: dict[str, str]) -> BarTable:
    """The bars of the group in ``location`` read by the preset's loader, errors re-addressed to the original files;
    the group's files are deleted once read."""
    try:
        table = load_preset(name, location)
    except DataError as error:
        if error.rule == "empty table":
            detail = f"no traded bar in instrument group {group}: use larger groups"
            raise DataError("empty shard", source=str(folder), detail=detail) from error
        raise _readdressed(error, sources) from error
    shutil.rmtree(location)
    return table


def _readdressed(error: DataError, sources: Mapping[str, str]) -> DataError:
    """``error`` naming the original file of a temporary one (``sources``)."""
    return error.with_source(sources.get(error.source, error.source))
