"""The canonical bar table every reader produces and every dataset consumes, and the day a bar belongs to.

One row per instrument and bar:

========== ============ =====================================================================
column     dtype        meaning
========== ============ =====================================================================
symbol     String       instrument identifier
timestamp  Datetime(us) bar END time, exchange-local, timezone-naive
open       Float64      first trade price of the bar
high       Float64      highest trade price
low        Float64      lowest trade price
close      Float64      last trade price
volume     Float64      traded quantity in shares (or units of the instrument), >= 0
price      Float64      execution price of the bar: the bar VWAP (amount / volume) where the
                        source has an amount, otherwise the close (each preset documents its rule)
========== ============ =====================================================================

Rows are sorted by (symbol, timestamp) with unique timestamps per symbol. Prices lie in :data:`PRICE_RANGE` and
traded volumes in :data:`VOLUME_RANGE`, the values the dataset's float32 arrays hold faithfully. Every symbol-day
trades (a day with volume 0 throughout is an error here: readers drop those on purpose and count them). With a
session calendar, every bar ends at one of its times. :func:`validate` checks all of it and raises
:class:`~order_exec_gym.errors.DataError` naming the rule, the file, the symbol and the timestamp of the first
violation; a :class:`BarTable` is validated when it is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import time

import polars as pl

from order_exec_gym.errors import DataError

PRICE_COLUMNS = ("open", "high", "low", "close", "price")
NUMERIC_COLUMNS = ("open", "high", "low", "close", "volume", "price")
COLUMNS = ("symbol", "timestamp", "open", "high", "low", "close", "volume", "price")
SCHEMA = {
    "symbol": pl.String,
    "timestamp": pl.Datetime("us"),
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
    "price": pl.Float64,
}
# Relative tolerance for OHLC consistency checks (vendors round prices to ticks).
OHLC_TOLERANCE = 1e-6
#: Valid prices: float32 holds them to 7 digits, and squares, products and ratios of two of them stay inside its
#: normal range (1.2e-38 .. 3.4e38), so the price, log and ratio math on the episode arrays stays finite.
PRICE_RANGE = (1e-15, 1e15)
#: Valid volumes of traded bars (0 means no trade): float32 holds them to 7 digits, and the volumes of 10^8 bars
#: sum below its maximum (3.4e38).
VOLUME_RANGE = (1e-15, 1e30)


@dataclass(frozen=True)
class BarTable:
    """Validated bars plus what the loader did to them.

    Making one runs :func:`validate` on ``frame`` (``DataError`` at the first rule broken), so a BarTable always
    holds canonical bars, grouped by symbol.

    :param frame: the bar table (see module docstring)
    :param bar_minutes: bar length in minutes
    :param source: the file(s) the bars come from, for messages and cache keys
    :param report: what the loader repaired or dropped on purpose, as ``{reason: count}``
    :param session: the bar END times of a full session (see :func:`bar_times`), when the market's calendar is known:
        every bar must end at one of them, and :meth:`~order_exec_gym.data.dataset.MarketDataset.from_bars` lays each
        session on them, so bars missing from a session are filled and counted even with one instrument
    """

    frame: pl.DataFrame
    bar_minutes: int
    source: str
    report: dict[str, int] = field(default_factory=dict)
    session: tuple[time, ...] | None = None

    def __post_init__(self) -> None:
        if self.bar_minutes <= 0:
            raise ValueError(f"bar_minutes must be positive, got {self.bar_minutes}")
        if self.session is not None:
            session = tuple(self.session)
            if not session or len(set(session)) != len(session):
                raise ValueError(f"session must hold distinct bar end times, got {len(session)} with repeats or none")
            object.__setattr__(self, "session", session)
        frame = validate(self.frame, self.source, bar_minutes=self.bar_minutes, session=self.session)
        object.__setattr__(self, "frame", frame)

    @property
    def n_symbols(self) -> int:
        return self.frame["symbol"].n_unique()

    def __repr__(self) -> str:
        session = "" if self.session is None else f", session={len(self.session)} bars"
        return (
            f"BarTable(source={self.source!r}, rows={self.frame.height}, symbols={self.n_symbols}, "
            f"bar_minutes={self.bar_minutes}{session}, report={self.report})"
        )


def bar_times(*periods: tuple[time, time], bar_minutes: int) -> tuple[time, ...]:
    """The bar END times of a session made of ``periods``, each ``(first, last)`` bar end inclusive, every
    ``bar_minutes``; e.g. A-share 1-minute bars ``(time(9, 31), time(11, 30)), (time(13, 1), time(15, 0))``.

    A period may run past midnight: a 24-hour market's 1-minute session is ``(time(0, 1), time(0, 0))``.
    """
    times: list[time] = []
    for first, last in periods:
        start, stop = first.hour * 60 + first.minute, last.hour * 60 + last.minute
        stop += 24 * 60 if stop < start else 0
        times += [time(minute // 60 % 24, minute % 60) for minute in range(start, stop + 1, bar_minutes)]
    return tuple(times)


#: The A-share 1-minute session's bar END times (Beijing time): the presets' and the synthetic market's calendar.
ASHARE_SESSION = bar_times((time(9, 31), time(11, 30)), (time(13, 1), time(15, 0)), bar_minutes=1)


def bar_day(bar_minutes: int) -> pl.Expr:
    """The trading day each bar belongs to: the date of its START, ``timestamp - bar_minutes``.

    Bar timestamps are END times, so a 24-hour market's bar ending at 00:00 belongs to the previous date. Readers,
    :func:`validate` and :meth:`~order_exec_gym.data.dataset.MarketDataset.from_bars` all cut days with this rule.
    """
    return (pl.col("timestamp") - pl.duration(minutes=bar_minutes)).dt.date()


# --------------------------------------------------------------------------------------------------------------
# Casting without silent changes
# --------------------------------------------------------------------------------------------------------------


def conform(frame: pl.DataFrame, source: str = "<frame>") -> pl.DataFrame:
    """Select the canonical columns in order and cast them to the canonical dtypes, changing no value silently.

    Raises :class:`DataError` for a missing column, a timestamp column that is not a timezone-naive date-time, and
    what :func:`to_text` (symbol) and :func:`to_float` (prices, volume) reject.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError("missing column", source=source, detail=f"{missing} (have {frame.columns})")
    frame = frame.select(COLUMNS)
    timestamp = frame.schema["timestamp"]
    if not isinstance(timestamp, pl.Datetime):
        raise DataError(
            "timestamp is not a date-time",
            source=source,
            detail=f"the timestamp column has dtype {timestamp}; parse it into date-times first (read_bars does)",
        )
    if timestamp.time_zone is not None:
        raise DataError(
            "timezone-aware timestamps",
            source=source,
            detail=f"zone {timestamp.time_zone}: bar times must be exchange-local and naive; convert them "
            "(read_bars(time_zone=...) does)",
        )
    frame = to_float(to_text(frame, "symbol", source), NUMERIC_COLUMNS, source)
    return frame.select(pl.col(column).cast(dtype) for column, dtype in SCHEMA.items())  # lossless: all checked


def to_text(frame: pl.DataFrame, column: str, source: str) -> pl.DataFrame:
    """``column`` of ``frame`` cast to String from text, categories or integers; other dtypes raise."""
    dtype = frame.schema[column]
    if not (dtype == pl.String or dtype.is_integer() or isinstance(dtype, (pl.Categorical, pl.Enum))):
        raise DataError(f"{column} is not text", source=source, detail=f"the {column} column has dtype {dtype}")
    return frame.with_columns(pl.col(column).cast(pl.String))


def to_float(frame: pl.DataFrame, columns: Iterable[str], source: str) -> pl.DataFrame:
    """``columns`` of ``frame`` cast to Float64: numbers as they are, text read as numbers.

    Text that is not a number (``"abc"``, ``"1,5"``) and columns of other kinds (booleans, dates) raise
    :class:`DataError` naming the column and, for text, the row and the value.
    """
    casts = []
    for column in columns:
        dtype = frame.schema[column]
        if dtype == pl.Float64:
            continue
        if not (dtype.is_numeric() or dtype == pl.String):
            raise DataError(f"not a number ({column})", source=source, detail=f"the column has dtype {dtype}")
        cast = pl.col(column).cast(pl.Float64, strict=False)
        check(frame, [(f"not a number ({column})", cast.is_null() & pl.col(column).is_not_null(), column, "")], source)
        casts.append(cast)
    return frame.with_columns(casts)


# --------------------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------------------

#: A rule: its name, the mask of the rows breaking it, the column whose value the message shows (or None), a detail.
Rule = tuple[str, pl.Expr, str | None, str]


def validate(
    frame: pl.DataFrame,
    source: str = "<frame>",
    *,
    bar_minutes: int | None = None,
    session: Sequence[time] | None = None,
) -> pl.DataFrame:
    """Check ``frame`` against the canonical schema and return it cast to the canonical dtypes.

    Symbols may come in any order (the result is grouped by symbol, keeping each symbol's row order).
    Rules, in the order they are checked: the casts of :func:`conform` (missing column, symbol not text, timestamp
    not a naive date-time, not a number); empty table; null symbol or timestamp; NaN or missing, non-positive, or
    out-of-range price (outside :data:`PRICE_RANGE`, infinite included); NaN or missing, negative, or out-of-range
    volume (a volume > 0 outside :data:`VOLUME_RANGE`); high < low; close or price outside [low, high]; with
    ``session``, a bar outside the session (its end time not one of ``session``); unsorted or duplicated timestamps
    within a symbol; with ``bar_minutes``, bars of a day closer than ``bar_minutes`` or never that close (the bar
    length does not match the timestamps); empty day (a symbol-day in which no bar traded). Raises :class:`DataError` at the first
    violation, naming the rule, ``source``, the symbol, the timestamp and the offending value.

    A day is :func:`bar_day`, the date of the bar's START, when ``bar_minutes`` is given (the rule the dataset uses,
    so a 24-hour market's bar ending at 00:00 belongs to the previous day); without it, the date of the timestamp.
    """
    frame = conform(frame, source)
    if frame.height == 0:
        raise DataError("empty table", source=source, detail="no bars")
    frame = frame.sort("symbol", maintain_order=True)
    check(frame, _row_rules(session), source)
    if bar_minutes is not None:
        _check_bar_length(frame, bar_minutes, source)
    days = (
        frame.group_by("symbol", bar_day(bar_minutes or 0).alias("day"))
        .agg(pl.col("volume").sum(), pl.col("timestamp").first())
        .sort("symbol", "day")
    )
    check(days, [("empty day", pl.col("volume") <= 0, None, "no bar traded in the session")], source)
    return frame


#: Pairs of consecutive bars of a day none of which is ``bar_minutes`` apart that make the bar length an error (fewer
#: are too sparse to tell: a few bars a day may all be far apart).
BAR_LENGTH_EVIDENCE = 100


def _check_bar_length(frame: pl.DataFrame, bar_minutes: int, source: str) -> None:
    """The timestamps agree with ``bar_minutes``: no two bars of a symbol-day closer than ``bar_minutes``, and, among
    at least :data:`BAR_LENGTH_EVIDENCE` pairs of consecutive bars of a day, some ``bar_minutes`` apart (bars whose
    closest neighbours are always further apart are longer bars)."""
    same_day = (pl.col("symbol") == pl.col("symbol").shift(1)) & (bar_day(bar_minutes) == bar_day(bar_minutes).shift(1))
    step = (pl.col("timestamp") - pl.col("timestamp").shift(1)).dt.total_minutes()
    declared = f"bar_minutes={bar_minutes}"
    check(frame, [("bars closer than bar_minutes", same_day & (step < bar_minutes), None, declared)], source)
    closest, pairs = frame.select(step.filter(same_day).min(), same_day.sum()).row(0)
    if pairs >= BAR_LENGTH_EVIDENCE and closest > bar_minutes:
        raise DataError(
            "bar_minutes does not match the timestamps", source=source,
            detail=f"{declared}, but no two bars of a day are closer than {closest} minutes: {closest}-minute bars? "
            f"(pass bar_minutes={closest})",
        )  # fmt: skip


def _row_rules(session: Sequence[time] | None) -> list[Rule]:
    """The rules on rows of a frame grouped by symbol, in the order :func:`validate` checks them."""
    unknown = pl.col("symbol").is_null() | pl.col("timestamp").is_null()
    rules: list[Rule] = [("null symbol or timestamp", unknown, None, "")]
    low, high = PRICE_RANGE
    for column in PRICE_COLUMNS:
        value = pl.col(column)
        rules += [
            (f"NaN or missing price ({column})", value.is_null() | value.is_nan(), None, ""),
            (f"non-positive price ({column})", value <= 0, column, ""),
            (f"price out of range ({column})", ~value.is_between(low, high), column, f"prices lie in [{low:g}, {high:g}]"),
        ]
    volume, (least, most) = pl.col("volume"), VOLUME_RANGE
    rules += [
        ("NaN or missing volume", volume.is_null() | volume.is_nan(), None, ""),
        ("negative volume", volume < 0, "volume", ""),
        ("volume out of range", (volume > 0) & ~volume.is_between(least, most), "volume",
         f"traded volumes lie in [{least:g}, {most:g}]"),
    ]  # fmt: skip
    tolerance = pl.col("high") * OHLC_TOLERANCE
    rules.append(("high < low", pl.col("high") < pl.col("low") - tolerance, None, ""))
    for column in ("close", "price"):
        outside = (pl.col(column) < pl.col("low") - tolerance) | (pl.col(column) > pl.col("high") + tolerance)
        rules.append((f"{column} outside [low, high]", outside, column, ""))
    if session is not None:
        first, last = min(session), max(session)
        detail = f"the session's {len(session)} bars end at {first:%H:%M}..{last:%H:%M}"
        rules.append(("bar outside the session", ~pl.col("timestamp").dt.time().is_in(list(session)), None, detail))
    same_symbol = pl.col("symbol") == pl.col("symbol").shift(1)
    step = pl.col("timestamp") - pl.col("timestamp").shift(1)
    rules += [
        ("unsorted timestamps", same_symbol & (step < pl.duration()), None, "timestamps go backwards"),
        ("duplicated timestamp", same_symbol & (step == pl.duration()), None, ""),
    ]
    return rules


def check(frame: pl.DataFrame, rules: Sequence[Rule], source: str) -> None:
    """Raise :class:`DataError` for the first of ``rules`` that a row of ``frame`` breaks (all checked in one pass)."""
    broken = frame.select(mask.any().alias(str(i)) for i, (_, mask, _, _) in enumerate(rules)).row(0)
    for (rule, mask, column, detail), hit in zip(rules, broken):
        if hit:
            bad = frame.filter(mask)
            row = bad.row(0, named=True)
            parts = [f"{column} = {row[column]!r}"] if column else []
            parts += [detail] if detail else []
            parts.append(f"{bad.height} row(s)")
            detail = "; ".join(parts)
            raise DataError(rule, source=source, symbol=row["symbol"], timestamp=row["timestamp"], detail=detail)
