"""The vendor formats of ``../shared/data``: one :class:`Preset` per folder, read by :func:`load_preset`.

Each preset's loader follows the conventions of :mod:`order_exec_gym.data.readers` (bar END timestamps, days by
bar start, volume in shares, counted drops and repairs, validated output) and gives its bars the market's session
calendar (:attr:`BarTable.session`: every bar ends on it, and the dataset counts the bars a session misses); its
:attr:`Preset.price_rule` and :attr:`Preset.description` state how the execution price is made and every repair or
drop it makes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

import polars as pl

from order_exec_gym.data.readers import (
    DATA_ENV_VAR,
    FILE_COLUMN,
    OHLCV,
    finish,
    matching_files,
    only_symbols,
    pick_files,
    regular_session,
    shared_data_dir,
    source_name,
    vwap,
    zip_csv,
)
from order_exec_gym.data.schema import ASHARE_SESSION, BarTable, bar_times
from order_exec_gym.errors import DataError

# The bar END times of a full session of each market (Beijing time for A-shares, US/Eastern, UTC for crypto).
ASHARE_5MIN_SESSION = bar_times((time(9, 35), time(11, 30)), (time(13, 5), time(15, 0)), bar_minutes=5)
US_SESSION = bar_times((time(9, 31), time(16, 0)), bar_minutes=1)
DAY_AND_NIGHT = bar_times((time(0, 1), time(0, 0)), bar_minutes=1)

_ASHARE_SCHEMA = {
    "symbol": pl.String,
    "time": pl.String,
    "open": pl.Float64,
    "close": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "volume": pl.Float64,
}


def _load_ashare_1min(folder: Path, symbols: Sequence[str] | None) -> BarTable:
    """``stocks_1min_<yyyymmdd>.csv[.gz]``: lots -> shares, auction bar folded, open outside the range widened."""
    files = matching_files(folder, "stocks_1min_*.csv*")
    report = {"index files not loaded (not tradable)": len(list(folder.glob("index_1min_*.csv*")))}
    flags = {
        "_folded": "09:30 opening-auction bars folded into the 09:31 bar",
        "_relabelled": "09:30 opening-auction bars without a 09:31 bar relabelled 09:31",
        "_widened": "bars with open outside [low, high]: high/low widened to include it",
    }
    bars = only_symbols(pl.scan_csv(files, schema=_ASHARE_SCHEMA, include_file_paths=FILE_COLUMN), symbols).select(
        "symbol",
        pl.col("time").str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False).alias("timestamp"),
        "open",
        "high",
        "low",
        "close",
        pl.col("volume") * 100.0,  # lots of 100 shares -> shares
        pl.col(FILE_COLUMN).cast(pl.Categorical),  # one file name per file, not per row
    )
    return finish(  # the collected frame is finish's alone: it is freed as soon as finish has sorted it
        _widen_to_open(_fold_opening_auction(bars)).with_columns(pl.col("close").alias("price")).collect(),
        bar_minutes=1, source=source_name(folder, symbols), report=report, symbols=symbols, flags=flags,
        session=ASHARE_SESSION,
    )  # fmt: skip


def _fold_opening_auction(bars: pl.LazyFrame) -> pl.LazyFrame:
    """Fold each 09:30 opening-auction bar into the 09:31 bar that follows it (rows in file order).

    The folded bar keeps the auction's open, takes high/low over both bars, the sum of the volumes and the
    09:31 close. An auction bar with no 09:31 bar after it (nothing traded in the first minute) becomes the
    09:31 bar. The flags ``_folded`` and ``_relabelled`` mark the rows for the report.
    """
    ts, symbol = pl.col("timestamp"), pl.col("symbol")
    auction, folded = pl.col("_relabelled"), pl.col("_folded")  # auction bars left after the fold are relabelled

    def fold(column: str, combine: Callable[[pl.Expr, pl.Expr], pl.Expr]) -> pl.Expr:
        value = pl.col(column)
        return pl.when(folded).then(combine(value, value.shift(1))).otherwise(value).alias(column)

    return (
        # a row without a timestamp (a blank or unparseable line) is no auction bar and folds nothing: it stays, for
        # the validation to refuse, rather than being dropped with the auction bar before it
        bars.with_columns((ts.dt.time() == time(9, 30)).fill_null(False).alias("_relabelled"))
        .with_columns(
            (
                auction.shift(1, fill_value=False) & (symbol == symbol.shift(1)) & (ts.diff() == pl.duration(minutes=1))
            ).fill_null(False).alias("_folded")
        )
        .with_columns(
            fold("open", lambda _, auction_open: auction_open),
            fold("high", pl.max_horizontal),
            fold("low", pl.min_horizontal),
            fold("volume", lambda minute, auction_volume: minute + auction_volume),
        )
        .filter(~(auction & folded.shift(-1, fill_value=False)))
        .with_columns(pl.when(auction).then(ts + pl.duration(minutes=1)).otherwise(ts).alias("timestamp"))
    )


def _widen_to_open(bars: pl.LazyFrame) -> pl.LazyFrame:
    """Widen high/low to include an open outside [low, high]; flag ``_widened`` marks those rows."""
    open_ = pl.col("open")
    return bars.with_columns(
        ((open_ > pl.col("high")) | (open_ < pl.col("low"))).alias("_widened"),
        pl.max_horizontal("high", "open").alias("high"),
        pl.min_horizontal("low", "open").alias("low"),
    )


_ETF_INDICES = ("399006", "999999")
_ETF_SCHEMA = {  # the first 7 of the 14 columns; the header repeats names, so it is skipped
    "datetime": pl.String,
    "open": pl.Float64,
    "close": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "vol": pl.Float64,
    "amount": pl.Float64,
}


def _load_ashare_etf_5min(folder: Path, symbols: Sequence[str] | None) -> BarTable:
    """``<code>.min.csv[.gz]``: vol < 1 means no trade, price = amount / vol clipped into [low, high]."""
    every = matching_files(folder, "*.min.csv*")
    indices = [path for path in every if _fund_code(path) in _ETF_INDICES]
    files = pick_files((path for path in every if path not in indices), symbols, _fund_code)
    report = {f"index series not loaded ({', '.join(_ETF_INDICES)}; not tradable)": len(indices)}
    scan = pl.scan_csv(
        files, has_header=False, skip_rows=1, schema=_ETF_SCHEMA, extra_columns="ignore", include_file_paths=FILE_COLUMN
    )
    no_trade = pl.col("vol") < 1  # zero-volume bars read vol = amount = 5.9e-39
    frame = scan.select(
        pl.col(FILE_COLUMN).str.extract(r"([^/\\]+)\.min\.csv").alias("symbol"),
        pl.col("datetime").str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False).alias("timestamp"),
        "open",
        "high",
        "low",
        "close",
        pl.when(no_trade).then(0.0).otherwise(pl.col("vol")).alias("volume"),
        "amount",
        no_trade.alias("_no_trade"),
        FILE_COLUMN,
    ).collect()
    flags = {"_no_trade": "bars with vol < 1 (denormal placeholder) read as volume 0"}
    frame = vwap(frame, str(folder), report)
    return finish(
        frame, bar_minutes=5, source=source_name(folder, symbols), report=report, symbols=symbols, flags=flags,
        session=ASHARE_5MIN_SESSION,
    )  # fmt: skip


def _fund_code(path: Path) -> str:
    return path.name.split(".")[0]


_CANDLE_2018 = "candle_201801_000001SZ_1min.csv"


def _load_ashare_2018(folder: Path, symbols: Sequence[str] | None) -> BarTable:
    """DolphinDB candles: yyyymmdd date + HHMMSSmmm time, volume in shares, turnover -> VWAP."""
    path = folder / _CANDLE_2018
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    scan = pl.scan_csv(
        path,
        schema_overrides={
            "symbol": pl.String,
            "exchange": pl.String,
            "date": pl.String,
            "time": pl.Int64,
            "volume": pl.Float64,
            "turnover": pl.Float64,
        },
    )
    hhmmssmmm = pl.col("time")
    clock = pl.duration(
        hours=hhmmssmmm // 10_000_000,
        minutes=hhmmssmmm // 100_000 % 100,
        seconds=hhmmssmmm // 1_000 % 100,
        milliseconds=hhmmssmmm % 1_000,
    )
    exchange = pl.col("exchange").replace({"SZSE": "SZ", "SSE": "SH"})
    bars = scan.select(
        pl.concat_str(pl.col("symbol"), pl.lit("."), exchange).alias("symbol"),
        (pl.col("date").str.to_datetime("%Y%m%d", time_unit="us", strict=False) + clock).alias("timestamp"),
        *OHLCV,
        pl.col("turnover").alias("amount"),
        pl.lit(str(path)).alias(FILE_COLUMN),
    )
    report: dict[str, int] = {}
    frame = vwap(only_symbols(bars, symbols).collect(), str(path), report)
    return finish(
        frame, bar_minutes=1, source=source_name(path, symbols), report=report, symbols=symbols, session=ASHARE_SESSION
    )


_SSE_ZIP = "000001.XSHG_1min.zip"


def _load_sse_index_1min(folder: Path, symbols: Sequence[str] | None) -> BarTable:
    """The zipped JoinQuant-style CSV (symbol,id,dt,freq,open,close,high,low,vol); price = close."""
    name, raw = zip_csv(folder / _SSE_ZIP)
    bars = pl.scan_csv(raw, schema_overrides={"symbol": pl.String, "dt": pl.String, "vol": pl.Float64}).select(
        "symbol",
        pl.col("dt").str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False).alias("timestamp"),
        "open",
        "high",
        "low",
        "close",
        pl.col("vol").alias("volume"),
        pl.col("close").alias("price"),
        pl.lit(name).alias(FILE_COLUMN),
    )
    frame = only_symbols(bars, symbols).collect()
    source = source_name(folder / _SSE_ZIP, symbols)
    return finish(frame, bar_minutes=1, source=source, report={}, symbols=symbols, session=ASHARE_SESSION)


_LEAN_SCHEMA = {
    "ms": pl.Int64,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
}
_LEAN_PRICE_SCALE = 10_000.0


def _load_lean_us_minute(folder: Path, symbols: Sequence[str] | None) -> BarTable:
    """``minute/<sym>/<yyyymmdd>_trade.zip``: ms since midnight ET at bar start, prices x 10,000."""
    files = pick_files(
        matching_files(folder / "minute", "*/*_trade.zip"), symbols, lambda path: path.parent.name.upper()
    )
    scans = []
    for path in files:  # one small zip per symbol-day
        name, raw = zip_csv(path)
        day = datetime.strptime(path.name[:8], "%Y%m%d")
        scans.append(
            pl.scan_csv(raw, has_header=False, schema=_LEAN_SCHEMA).with_columns(
                pl.lit(path.parent.name.upper()).alias("symbol"),
                (pl.lit(day) + pl.duration(milliseconds=pl.col("ms")) + pl.duration(minutes=1)).alias("timestamp"),
                (pl.col("open", "high", "low", "close") / _LEAN_PRICE_SCALE).round(4),  # exact 4-decimal dollars
                pl.lit(name).alias(FILE_COLUMN),
            )
        )
    frame = pl.concat(scans).with_columns(pl.col("close").alias("price")).drop("ms").collect()
    report: dict[str, int] = {}
    source = source_name(folder, symbols)
    frame = regular_session(frame, US_SESSION[0], US_SESSION[-1], report, source)
    return finish(frame, bar_minutes=1, source=source, report=report, symbols=symbols, session=US_SESSION)


_NT_FILES = ("nt-spy-minute-2011.csv", "nt-spy-minute-2011-03.csv")  # in time order
_NT_SCHEMA = {
    "time": pl.String,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
}


def _load_spy_2011(folder: Path, symbols: Sequence[str] | None) -> BarTable:
    """NinjaTrader ``yyyyMMdd HHmmss;o;h;l;c;v`` in UTC at bar end -> US/Eastern, regular session."""
    files = [folder / name for name in _NT_FILES]
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found")
    utc = pl.col("time").str.to_datetime("%Y%m%d %H%M%S", time_unit="us", time_zone="UTC", strict=False)
    scan = pl.scan_csv(files, separator=";", has_header=False, schema=_NT_SCHEMA, include_file_paths=FILE_COLUMN)
    bars = scan.select(
        pl.lit("SPY").alias("symbol"),
        utc.dt.convert_time_zone("America/New_York").dt.replace_time_zone(None).alias("timestamp"),
        *OHLCV,
        pl.col("close").alias("price"),
        FILE_COLUMN,
    )
    report: dict[str, int] = {}
    source = source_name(folder, symbols)
    frame = regular_session(only_symbols(bars, symbols).collect(), US_SESSION[0], US_SESSION[-1], report, source)
    return finish(frame, bar_minutes=1, source=source, report=report, symbols=symbols, session=US_SESSION)


_KLINE_SCHEMA = {
    "open_time": pl.String,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
}


def _load_binance_btc_1min(folder: Path, symbols: Sequence[str] | None) -> BarTable:
    """``binanceus_<PAIR>_1m_*.csv`` klines: bar START in UTC -> bar end, UTC naive; price = close."""
    files = pick_files(matching_files(folder, "binanceus_*_1m_*.csv"), symbols, lambda path: path.name.split("_")[1])
    start = pl.col("open_time").str.to_datetime("%Y-%m-%d %H:%M:%S%z", time_unit="us", strict=False)
    frame = (
        pl.scan_csv(files, schema=_KLINE_SCHEMA, include_file_paths=FILE_COLUMN)
        .select(
            pl.col(FILE_COLUMN).str.extract(r"binanceus_([^_/\\]+)_1m_").alias("symbol"),
            (start.dt.replace_time_zone(None) + pl.duration(minutes=1)).alias("timestamp"),
            *OHLCV,
            pl.col("close").alias("price"),
            FILE_COLUMN,
        )
        .collect()
    )
    return finish(
        frame, bar_minutes=1, source=source_name(folder, symbols), report={}, symbols=symbols, session=DAY_AND_NIGHT
    )


@dataclass(frozen=True)
class Preset:
    """A known data folder and how to read it.

    :param name: the preset's name, as given to :func:`load_preset`
    :param folder: the folder, relative to :func:`shared_data_dir`
    :param bar_minutes: bar length in minutes
    :param splits: ``{"train" | "valid" | "test": (first, last)}``, inclusive ISO dates of the bars' days
        (the date of each bar's start)
    :param price_rule: how the execution price of a bar is made, in one sentence
    :param description: the market, the instruments and every repair or drop the loader makes
    :param loader: ``loader(folder, symbols) -> BarTable``
    """

    name: str
    folder: str
    bar_minutes: int
    splits: dict[str, tuple[str, str]]
    price_rule: str
    description: str
    loader: Callable[[Path, Sequence[str] | None], BarTable]


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="ashare-1min",
            folder="ashare-1min-2024",
            bar_minutes=1,
            splits={
                "train": ("2024-03-01", "2024-03-08"),
                "valid": ("2024-03-11", "2024-03-11"),
                "test": ("2024-03-12", "2024-03-13"),
            },
            price_rule="price = close (the source has no amount).",
            description=(
                "China A-share main-board stocks, 1-minute bars, 7 days of March 2024 (stocks_1min_*.csv.gz; the "
                "index files are not loaded). Volume in lots x 100 -> shares. The 09:30 opening-auction bar is "
                "folded into the 09:31 bar (auction open, high/low over both, volumes added, 09:31 close), so a "
                "full day has 240 bars 09:31..11:30 and 13:01..15:00 (Beijing time, bar end). Some 15:00 "
                "closing-auction bars have the open outside [low, high]: high/low are widened to include it "
                "(counted). Untraded stock-days (suspensions) are dropped (counted); the minutes a stock-day misses "
                "are filled and counted when the episodes are built."
            ),
            loader=_load_ashare_1min,
        ),
        Preset(
            name="ashare-etf-5min",
            folder="ashare-etf-5min",
            bar_minutes=5,
            splits={
                "train": ("2021-04-09", "2022-06-30"),
                "valid": ("2022-07-01", "2022-09-30"),
                "test": ("2022-10-01", "2022-12-31"),
            },
            price_rule="price = amount / vol where vol >= 1, clipped into [low, high] (counted); else the close.",
            description=(
                "42 China A-share ETFs, 5-minute bars 2021-04..2022-12, 48 bars/day 09:35..11:30, 13:05..15:00 "
                "(Beijing time, bar end); symbols are the fund codes of the file names. The header repeats "
                "column names, so the first 7 columns are read by position. vol < 1 (a 5.9e-39 placeholder) "
                "means no trade: volume 0 (counted). The index series 399006 and 999999 are not loaded."
            ),
            loader=_load_ashare_etf_5min,
        ),
        Preset(
            name="ashare-2018",
            folder="ashare-samples-2018",
            bar_minutes=1,
            splits={
                "train": ("2018-01-02", "2018-01-22"),
                "valid": ("2018-01-23", "2018-01-25"),
                "test": ("2018-01-26", "2018-01-30"),
            },
            price_rule="price = turnover / volume on bars with volume > 0, clipped into [low, high] (counted); "
            "else the close.",
            description=(
                "Ping An Bank (000001.SZ), 1-minute bars, the 21 trading days of January 2018 (15 train, 3 valid, "
                "3 test), 240 bars/day 09:31..11:30, 13:01..15:00 (Beijing time, bar end; HHMMSSmmm times). "
                "Volume in shares; the 14:59 bar never trades (closing call auction prints at 15:00)."
            ),
            loader=_load_ashare_2018,
        ),
        Preset(
            name="sse-index-1min",
            folder="sse-index-1min-2015-2019",
            bar_minutes=1,
            splits={
                "train": ("2015-01-01", "2017-12-31"),
                "valid": ("2018-01-01", "2018-06-30"),
                "test": ("2018-07-01", "2019-02-28"),
            },
            price_rule="price = close (the source has no amount).",
            description=(
                "SSE Composite index (000001.XSHG, not tradable: market-wide profile), 1-minute bars "
                "2015-01-05..2019-02-12, read from the CSV inside the zip; 240 bars/day 09:31..11:30, "
                "13:01..15:00 (bar end). Episodes are laid on that calendar: the minutes a day misses (the 14:59 "
                "bar on 117 days, a random minute on a few) are filled and counted, and the 2016-01-04 and "
                "2016-01-07 circuit-breaker halts (142 and 17 bars) fall under min_coverage and are dropped (counted)."
            ),
            loader=_load_sse_index_1min,
        ),
        Preset(
            name="lean-us-minute",
            folder="us-equity-minute-lean",
            bar_minutes=1,
            splits={
                "train": ("2008-03-07", "2013-10-09"),
                "valid": ("2013-10-10", "2013-10-10"),
                "test": ("2013-10-11", "2023-08-03"),
            },
            price_rule="price = close (trade bars have no amount).",
            description=(
                "QuantConnect Lean sample trade bars of 10 US equities (41 symbol-days, 2008..2023). Times are "
                "ms since midnight US/Eastern at bar START, so timestamp = start + 1 minute; prices / 10,000 -> "
                "dollars; symbols upper-cased. Regular session only: bars ending 09:31..16:00 (390 a full day); "
                "the 16:01 bar holding the closing-auction print is folded into the 16:00 bar, the other "
                "extended-hours bars are dropped (both counted). No holiday calendar: on half days (GOOG "
                "2015-12-24) the sparse prints after the 13:00 close are kept, and the day (224 of 390 bars) falls "
                "under min_coverage when the episodes are built (dropped, counted)."
            ),
            loader=_load_lean_us_minute,
        ),
        Preset(
            name="spy-2011",
            folder="us-spy-1min-2011",
            bar_minutes=1,
            splits={
                "train": ("2011-01-03", "2011-03-11"),
                "valid": ("2011-03-14", "2011-03-18"),
                "test": ("2011-03-21", "2011-03-31"),
            },
            price_rule="price = close (the source has no amount).",
            description=(
                "SPY 1-minute bars, January and March 2011 (NinjaTrader export, ';'-separated). Labels are bar "
                "END times in UTC (checked: the opening-cross volume spike is labelled 14:31 UTC in January = "
                "09:31 EST, and the first pre-market bar 04:01), converted to US/Eastern naive (DST from "
                "2011-03-13). Regular session only: bars ending 09:31..16:00, 390 a day; the 16:01 bar holding the "
                "closing-cross print is folded into the 16:00 bar, the other extended-hours bars are dropped "
                "(both counted)."
            ),
            loader=_load_spy_2011,
        ),
        Preset(
            name="binance-btc-1min",
            folder="crypto-btc-1min-2023",
            bar_minutes=1,
            splits={
                "train": ("2023-03-01", "2023-03-14"),
                "valid": ("2023-03-15", "2023-03-17"),
                "test": ("2023-03-18", "2023-03-21"),
            },
            price_rule="price = close (the klines have no quote volume).",
            description=(
                "BTC vs USD, USDT, USDC on Binance.US, 1-minute klines 2023-03-01..21, 24-hour market. open_time "
                "is the bar START in UTC: timestamp = start + 1 minute, kept in UTC naive. A day is the UTC date "
                "of the bar start, so a day's 1,440 bars end 00:01..00:00 of the next date. Zero-volume bars "
                "(43% of BTCUSDC) are kept with volume 0 and price = close."
            ),
            loader=_load_binance_btc_1min,
        ),
    )
}


def preset_path(preset: Preset, path: str | os.PathLike | None = None) -> Path:
    """The folder of ``preset``: ``path`` when given, else ``shared_data_dir() / preset.folder``.

    :raises FileNotFoundError: the folder does not exist, or no path is given and no shared data folder is found
    """
    if path is None:
        root = shared_data_dir()
        if root is None:
            raise FileNotFoundError(
                f"preset {preset.name!r}: no shared data folder found; pass path= or set ${DATA_ENV_VAR} "
                f"to the folder holding {preset.folder}/"
            )
        path = root / preset.folder
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"preset {preset.name!r}: folder {folder} not found")
    return folder


def load_preset(name: str, path: str | os.PathLike | None = None, symbols: Sequence[str] | None = None) -> BarTable:
    """Load a preset data set (see :data:`PRESETS`).

    :param name: preset name
    :param path: the preset's folder; default ``shared_data_dir() / preset.folder``
    :param symbols: load only these instruments (filtered as early as the format allows)
    :raises ValueError: unknown preset name
    :raises FileNotFoundError: the folder is not found (see :func:`preset_path`)
    :raises DataError: a file polars cannot read in the preset's format, or bars that break a rule
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    preset = PRESETS[name]
    folder = preset_path(preset, path)
    if isinstance(symbols, str):
        symbols = [symbols]
    try:
        return preset.loader(folder, None if symbols is None else list(symbols))
    except pl.exceptions.PolarsError as error:
        detail = f"not in the {name} format: {type(error).__name__}: {str(error).splitlines()[0]}"
        raise DataError("unreadable file", source=str(folder), detail=detail) from error
