"""Episodes from bars: the builder of :class:`~order_exec_gym.data.dataset.MarketDataset`.

An episode is one instrument over one session. Every session of a date is laid on that date's bar grid: the
market's session calendar when the bars come with one (:attr:`BarTable.session`, set by every preset), else the
bar times seen on that date across all instruments. A missing bar becomes a bar with zero volume whose prices repeat
the previous close; bars before a session's first trade repeat the previous session's close (never a later price),
and a first session without any earlier price is dropped. Episodes with fewer than ``min_coverage`` of a full
session's bars (halted days, half days, one-bar days) are dropped; every drop and every fill is counted in the
dataset's ``report``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from order_exec_gym.data.dataset import FIELDS, MarketDataset
from order_exec_gym.data.market import default_splits, parse_splits, previous_session
from order_exec_gym.data.schema import BarTable, bar_day
from order_exec_gym.errors import DataError


def episodes_from_bars(
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
        previous = previous_session(symbols, dates)[leading]
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
    dataset = MarketDataset(
        symbols=symbols,
        dates=dates,
        lengths=lengths,
        bars=bars,
        bar_minutes=table.bar_minutes,
        splits=parse_splits(splits) if splits else default_splits(dates),
        source=table.source,
        report=report,
    )
    if not priced.all():
        unpriced = "episodes dropped: bars before the first trade and no previous session to price them"
        report[unpriced] = int((~priced).sum())
        dataset = dataset.select(priced)
    return dataset


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
