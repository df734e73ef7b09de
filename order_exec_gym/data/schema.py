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

Rows are sorted by (symbol, timestamp) with unique timestamps per symbol. :func:`validate` checks all of
it and raises :class:`~order_exec_gym.errors.DataError` naming the rule, the file, the symbol and the
timestamp of the first violation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from order_exec_gym.errors import DataError

PRICE_COLUMNS = ("open", "high", "low", "close", "price")
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


@dataclass(frozen=True)
class BarTable:
    """Validated bars plus what the loader did to them.

    :param frame: the canonical bar table (see module docstring)
    :param bar_minutes: bar length in minutes
    :param source: the file(s) the bars come from, for messages and cache keys
    :param report: what the loader repaired or dropped on purpose, as ``{reason: count}``
    """

    frame: pl.DataFrame
    bar_minutes: int
    source: str
    report: dict[str, int] = field(default_factory=dict)

    @property
    def n_symbols(self) -> int:
        return self.frame["symbol"].n_unique()

    def __repr__(self) -> str:
        return (
            f"BarTable(source={self.source!r}, rows={self.frame.height}, symbols={self.n_symbols}, "
            f"bar_minutes={self.bar_minutes}, report={self.report})"
        )


def conform(frame: pl.DataFrame, source: str = "<frame>") -> pl.DataFrame:
    """Select the canonical columns in order, cast to the canonical dtypes (missing columns raise)."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError("missing column", source=source, detail=f"{missing} (have {frame.columns})")
    return frame.select([pl.col(c).cast(t) for c, t in SCHEMA.items()])


def bar_day(bar_minutes: int) -> pl.Expr:
    """The trading day each bar belongs to: the date of its START, ``timestamp - bar_minutes``.

    Bar timestamps are END times, so a 24-hour market's bar ending at 00:00 belongs to the previous date. Readers,
    :func:`validate` and :meth:`~order_exec_gym.data.dataset.MarketDataset.from_bars` all cut days with this rule.
    """
    return (pl.col("timestamp") - pl.duration(minutes=bar_minutes)).dt.date()


def _first_violation(frame: pl.DataFrame, mask: pl.Expr, rule: str, source: str, detail: str = "") -> None:
    bad = frame.filter(mask)
    if bad.height:
        row = bad.row(0, named=True)
        extra = f"{bad.height} row(s)"
        if detail:
            extra = f"{detail}; {extra}"
        raise DataError(rule, source=source, symbol=row["symbol"], timestamp=row["timestamp"], detail=extra)


def validate(frame: pl.DataFrame, source: str = "<frame>", *, bar_minutes: int | None = None) -> pl.DataFrame:
    """Check ``frame`` against the canonical schema and return it cast to the canonical dtypes.

    Symbols may come in any order (the result is grouped by symbol, keeping each symbol's row order).
    Rules, in the order they are checked: missing column; empty table; null symbol or timestamp;
    NaN, infinite or non-positive price; negative or NaN volume; high < low; close or price outside
    [low, high]; unsorted or duplicated timestamps within a symbol; empty day (a symbol-day in which
    no bar traded). Raises :class:`DataError` at the first violation.

    A day is :func:`bar_day`, the date of the bar's START, when ``bar_minutes`` is given (the rule the dataset uses,
    so a 24-hour market's bar ending at 00:00 belongs to the previous day); without it, the date of the timestamp.
    """
    frame = conform(frame, source)
    if frame.height == 0:
        raise DataError("empty table", source=source, detail="no bars")
    frame = frame.sort("symbol", maintain_order=True)
    _first_violation(frame, pl.col("symbol").is_null() | pl.col("timestamp").is_null(), "null symbol or timestamp", source)
    for column in PRICE_COLUMNS:
        value = pl.col(column)
        _first_violation(frame, value.is_null() | value.is_nan() | value.is_infinite(), f"NaN or missing price ({column})", source)
        _first_violation(frame, value <= 0, f"non-positive price ({column})", source)
    volume = pl.col("volume")
    _first_violation(frame, volume.is_null() | volume.is_nan() | volume.is_infinite(), "NaN or missing volume", source)
    _first_violation(frame, volume < 0, "negative volume", source)
    tol = pl.col("high") * OHLC_TOLERANCE
    _first_violation(frame, pl.col("high") < pl.col("low") - tol, "high < low", source)
    for column in ("close", "price"):
        outside = (pl.col(column) < pl.col("low") - tol) | (pl.col(column) > pl.col("high") + tol)
        _first_violation(frame, outside, f"{column} outside [low, high]", source)
    same_symbol = pl.col("symbol") == pl.col("symbol").shift(1)
    step = pl.col("timestamp") - pl.col("timestamp").shift(1)
    _first_violation(frame, same_symbol & (step < pl.duration()), "unsorted timestamps", source, "timestamps go backwards")
    _first_violation(frame, same_symbol & (step == pl.duration()), "duplicated timestamp", source)
    days = (
        frame.select("symbol", "timestamp", "volume", bar_day(bar_minutes or 0).alias("day"))
        .group_by("symbol", "day")
        .agg(pl.col("volume").sum().alias("volume"), pl.col("timestamp").first())
    )
    _first_violation(days, pl.col("volume") <= 0, "empty day", source, "no bar traded in the session")
    return frame
