"""Readers that turn bar files into the canonical :class:`~order_exec_gym.data.schema.BarTable`.

* :func:`read_bars` reads your own CSV or Parquet bars through a column mapping.
* :func:`load_preset` reads one of the vendor folders of ``../shared/data`` (see :data:`PRESETS`).

Every loader follows the same conventions:

* ``timestamp`` is the bar END time, exchange-local and timezone-naive (UTC for the 24-hour crypto market).
  A bar belongs to the day of its START, ``timestamp - bar_minutes``: the rule the dataset uses to cut days,
  so the crypto bar ending at 00:00 belongs to the previous date. Split date ranges use the same days.
* ``volume`` is in shares (or units of the instrument); ``price`` is the bar's execution price: the VWAP
  amount / volume where the source has an amount, otherwise the close (each preset states its rule).
* Untraded symbol-days (total volume 0, e.g. suspended stocks) are dropped on purpose, and every drop or
  repair is counted in :attr:`BarTable.report` as ``{reason: count}``. Nothing is dropped silently.
* The result goes through :func:`~order_exec_gym.data.schema.validate`; its errors name the rule, the file,
  the symbol and the timestamp.

Everything is polars: lazy scans, one collect per source, vectorised expressions.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

import polars as pl

from order_exec_gym.data.schema import BarTable, validate
from order_exec_gym.errors import DataError

DATA_ENV_VAR = "ORDER_EXEC_GYM_DATA"

# Report keys shared by several loaders.
UNTRADED = "untraded symbol-days dropped"
VWAP_CLIPPED = "VWAP outside [low, high] clipped into it"
EXTENDED_HOURS = "extended-hours bars dropped"
CLOSING_PRINT = "closing-auction bars (ending one minute after the close) folded into the closing bar"

_FILE = "_file"  # helper column: the file each row comes from, to name it in errors
_OHLCV = ("open", "high", "low", "close", "volume")
_MAPPABLE = ("symbol", "timestamp", *_OHLCV)


def shared_data_dir() -> Path | None:
    """The folder holding the shared real data sets.

    ``$ORDER_EXEC_GYM_DATA`` if set; otherwise the first existing ``shared/data`` folder found walking up from
    the current directory, then from this package's directory (so ``../shared/data`` next to the repository is
    found); otherwise ``None``.
    """
    if os.environ.get(DATA_ENV_VAR):
        return Path(os.environ[DATA_ENV_VAR])
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if (folder / "shared" / "data").is_dir():
                return folder / "shared" / "data"
    return None


# --------------------------------------------------------------------------------------------------------------
# Generic reader
# --------------------------------------------------------------------------------------------------------------


def read_bars(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    columns: Mapping[str, str] | None = None,
    bar_minutes: int,
    amount: str | None = None,
    symbol: str | None = None,
    timestamp_format: str | None = None,
    volume_multiplier: float = 1.0,
    separator: str = ",",
    has_header: bool = True,
    source: str | None = None,
) -> BarTable:
    """Read bars from CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``) files into a :class:`BarTable`.

    :param paths: one file or several (concatenated in the given order: timestamps must ascend per symbol)
    :param columns: canonical name -> column name in the file, for the names that differ
        (``symbol``, ``timestamp``, ``open``, ``high``, ``low``, ``close``, ``volume``); without a header,
        polars names the columns ``column_1``, ``column_2``, ...
    :param bar_minutes: bar length in minutes; timestamps must be bar END times
    :param amount: column holding the traded amount (turnover); then price = amount / volume on bars with
        volume > 0 (a VWAP outside [low, high] is clipped into it and counted), else the close.
        Without ``amount``, price = close.
    :param symbol: the instrument of every row (files of one instrument); otherwise read from the symbol column
    :param timestamp_format: strftime format of string timestamps (inferred when None); timezone-aware
        timestamps keep their wall-clock time and lose the zone
    :param volume_multiplier: converts volume to shares (e.g. 100 for lots); applied before the VWAP
    :param separator: CSV field separator
    :param has_header: whether CSV files start with a header line
    :param source: label of the data in messages and :attr:`BarTable.source` (default: the file names)
    :raises DataError: a missing column, an unparseable timestamp, or any rule of
        :func:`~order_exec_gym.data.schema.validate`, naming the file, symbol and timestamp
    """
    files = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not files:
        raise ValueError("read_bars needs at least one file")
    if bar_minutes <= 0:
        raise ValueError(f"bar_minutes must be positive, got {bar_minutes}")
    unknown = sorted(set(columns or {}) - set(_MAPPABLE))
    if unknown:
        raise ValueError(f"columns maps unknown canonical names {unknown}; mappable names are {list(_MAPPABLE)}")
    names = {name: name for name in _MAPPABLE} | dict(columns or {})
    if symbol is not None:
        del names["symbol"]
    if amount is not None:
        names["amount"] = amount
    frame = pl.concat(
        [_read_file(path, names, symbol, timestamp_format, volume_multiplier, separator, has_header) for path in files]
    )
    source = source or ", ".join(str(path) for path in files)
    report: dict[str, int] = {}
    frame = _vwap(frame, source, report) if amount is not None else frame.with_columns(pl.col("close").alias("price"))
    return _finish(frame, bar_minutes=bar_minutes, source=source, report=report)


def _read_file(
    path: Path,
    names: Mapping[str, str],
    symbol: str | None,
    timestamp_format: str | None,
    volume_multiplier: float,
    separator: str,
    has_header: bool,
) -> pl.DataFrame:
    """One file's bars with canonical names and dtypes (price not yet set), plus the ``_file`` column."""
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith(".parquet"):
        scan = pl.scan_parquet(path)
    elif suffixes.endswith((".csv", ".csv.gz")):
        scan = pl.scan_csv(path, separator=separator, has_header=has_header, infer_schema=False)
    else:
        raise ValueError(f"{path}: unsupported file type (use .csv, .csv.gz or .parquet)")
    available = scan.collect_schema().names()
    missing = [f"{column!r} (for {name})" for name, column in names.items() if column not in available]
    if missing:
        raise DataError("missing column", source=str(path), detail=f"{', '.join(missing)}; the file has {available}")
    frame = scan.select(pl.col(column).alias(name) for name, column in names.items()).collect()
    numeric = [c for c in (*_OHLCV, "amount") if c in frame.columns]
    frame = frame.with_columns(
        pl.lit(symbol).alias("symbol") if symbol is not None else pl.col("symbol").cast(pl.String),
        pl.col(numeric).cast(pl.Float64, strict=False),
        pl.lit(str(path)).alias(_FILE),
    ).with_columns(pl.col("volume") * volume_multiplier)
    return frame.with_columns(_parse_timestamps(frame, timestamp_format, str(path)))


def _parse_timestamps(frame: pl.DataFrame, timestamp_format: str | None, path: str) -> pl.Series:
    """The timestamp column as naive ``Datetime("us")``; unparseable strings raise naming the first one."""
    raw = frame["timestamp"]
    if raw.dtype == pl.String:
        parsed = raw.str.to_datetime(timestamp_format, time_unit="us", strict=False)
        bad = parsed.is_null() & raw.is_not_null()
        if bad.any():
            row = frame.filter(bad).row(0, named=True)
            raise DataError(
                "unparseable timestamp",
                source=path,
                symbol=row["symbol"],
                timestamp=row["timestamp"],
                detail=f"{bad.sum()} value(s) do not match format {timestamp_format or '(inferred)'}",
            )
        return parsed
    if isinstance(raw.dtype, pl.Datetime):
        return (raw.dt.replace_time_zone(None) if raw.dtype.time_zone else raw).cast(pl.Datetime("us"))
    raise DataError("timestamp is not a date-time", source=path, detail=f"the timestamp column has dtype {raw.dtype}")


# --------------------------------------------------------------------------------------------------------------
# Shared steps
# --------------------------------------------------------------------------------------------------------------


def _vwap(frame: pl.DataFrame, source: str, report: dict[str, int]) -> pl.DataFrame:
    """Set price = amount / volume on bars with volume > 0, else close; clip VWAPs outside [low, high] (counted).

    Vendors round the amount, so tiny bars' VWAPs can sit just outside the range. When most traded bars are
    outside, the units of amount and volume disagree: that raises instead of clipping everything.
    """
    traded = pl.col("volume") > 0
    frame = frame.with_columns(
        pl.when(traded).then(pl.col("amount") / pl.col("volume")).otherwise(pl.col("close")).alias("price")
    ).drop("amount")
    outside = (pl.col("price") < pl.col("low")) | (pl.col("price") > pl.col("high"))
    n_outside, n_traded = frame.select(outside.sum(), traded.sum()).row(0)
    if n_outside > n_traded / 2:
        row = frame.filter(outside).row(0, named=True)
        raise DataError(
            "VWAP outside [low, high]",
            source=row.get(_FILE, source),
            symbol=row["symbol"],
            timestamp=row["timestamp"],
            detail=f"on {n_outside} of {n_traded} traded bars: amount and volume units disagree "
            "(volume in lots? see volume_multiplier)",
        )
    report[VWAP_CLIPPED] = n_outside
    return frame.with_columns(pl.col("price").clip(pl.col("low"), pl.col("high")))


def _bar_day(bar_minutes: int) -> pl.Expr:
    """The day a bar belongs to: the date of its start."""
    return (pl.col("timestamp") - pl.duration(minutes=bar_minutes)).dt.date()


def _drop_untraded(frame: pl.DataFrame, bar_minutes: int, report: dict[str, int]) -> pl.DataFrame:
    """Drop the symbol-days whose total volume is 0 (suspended or never traded), counting them."""
    day = _bar_day(bar_minutes).alias("_day")
    volume = frame.select("symbol", day, "volume").group_by("symbol", "_day").agg(pl.col("volume").sum())
    untraded = volume.filter(pl.col("volume") == 0).drop("volume")
    report[UNTRADED] = untraded.height
    if untraded.height == 0:
        return frame
    return frame.with_columns(day).join(untraded, on=["symbol", "_day"], how="anti", maintain_order="left").drop("_day")


def _count_flags(frame: pl.DataFrame, reasons: Mapping[str, str], report: dict[str, int]) -> pl.DataFrame:
    """Add the number of true values of each boolean flag column to ``report`` under its reason; drop the flags."""
    counts = frame.select(pl.col(list(reasons)).sum()).row(0, named=True)
    report.update({reason: counts[flag] for flag, reason in reasons.items()})
    return frame.drop(list(reasons))


def _fold_closing_print(frame: pl.DataFrame, last: time, report: dict[str, int]) -> pl.DataFrame:
    """Fold the bar ending one minute after ``last`` (US closing-auction print) into the ``last`` bar before it
    (rows in file order): the close and the price become the print's, high/low span both, volumes add up."""
    ts, symbol = pl.col("timestamp"), pl.col("symbol")
    closing = (ts.dt.time() == last) & (symbol == symbol.shift(-1)) & (ts.shift(-1) - ts == pl.duration(minutes=1))
    frame = frame.with_columns(closing.fill_null(False).alias("_into"))
    following = {name: pl.col(name).shift(-1) for name in ("high", "low", "close", "volume")}
    frame = frame.with_columns(
        pl.when("_into").then(following["close"]).otherwise(pl.col("close")).alias("close"),
        pl.when("_into").then(following["close"]).otherwise(pl.col("price")).alias("price"),
        pl.when("_into").then(pl.max_horizontal("high", following["high"])).otherwise(pl.col("high")).alias("high"),
        pl.when("_into").then(pl.min_horizontal("low", following["low"])).otherwise(pl.col("low")).alias("low"),
        pl.when("_into").then(pl.col("volume") + following["volume"]).otherwise(pl.col("volume")).alias("volume"),
    )
    folded = pl.col("_into").shift(1, fill_value=False)
    report[CLOSING_PRINT] = int(
        frame.select(folded.sum()).item()
    )
    return frame.filter(~folded).drop("_into")


def _regular_session(frame: pl.DataFrame, first: time, last: time, report: dict[str, int]) -> pl.DataFrame:
    """Keep the bars ending between ``first`` and ``last`` (inclusive), after folding the closing-auction print
    into the ``last`` bar; count the other bars as extended hours."""
    frame = _fold_closing_print(frame, last, report)
    kept = frame.filter(pl.col("timestamp").dt.time().is_between(first, last))
    report[EXTENDED_HOURS] = frame.height - kept.height
    return kept


def _finish(
    frame: pl.DataFrame,
    *,
    bar_minutes: int,
    source: str,
    report: dict[str, int],
    symbols: Sequence[str] | None = None,
    flags: Mapping[str, str] | None = None,
) -> BarTable:
    """Group rows by symbol (stable), count the ``flags`` columns (see :func:`_count_flags`), drop untraded
    symbol-days, validate, and wrap into a :class:`BarTable`."""
    if symbols is not None and frame.height == 0:
        raise DataError("unknown symbols", source=source, detail=f"none of {list(symbols)} is in the data")
    frame = frame.sort("symbol", maintain_order=True)  # also makes the (many-chunk) collected frame contiguous
    if flags:
        frame = _count_flags(frame, flags, report)
    frame = _drop_untraded(frame, bar_minutes, report)
    try:
        bars = validate(frame, source, bar_minutes=bar_minutes)
    except DataError as error:
        raise _in_file(error, frame) from None
    return BarTable(bars, bar_minutes, source, report)


def _in_file(error: DataError, frame: pl.DataFrame) -> DataError:
    """``error`` re-addressed to the file of the offending row (validate only knows the whole source)."""
    if _FILE not in frame.columns:
        return error
    row = frame.filter(
        pl.col("symbol").eq_missing(error.symbol), pl.col("timestamp").eq_missing(error.timestamp)
    ).select(_FILE)
    if row.height == 0:
        return error
    head = str(DataError(error.rule, source=error.source, symbol=error.symbol, timestamp=error.timestamp))
    detail = str(error)[len(head) + 2 :]
    return DataError(error.rule, source=row.item(0, 0), symbol=error.symbol, timestamp=error.timestamp, detail=detail)


def _files(folder: Path, pattern: str) -> list[Path]:
    """The files of ``folder`` matching ``pattern``, sorted by name; raises when there are none."""
    files = sorted(folder.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no {pattern} files in {folder}")
    return files


def _pick(files: Iterable[Path], symbols: Sequence[str] | None, symbol_of: Callable[[Path], str]) -> list[Path]:
    """The files whose symbol is in ``symbols`` (all when None); raises when none is left."""
    files = list(files)
    if symbols is None:
        return files
    picked = [path for path in files if symbol_of(path) in symbols]
    if not picked:
        available = sorted({symbol_of(path) for path in files})
        raise DataError("unknown symbols", source=str(files[0].parent), detail=f"{list(symbols)}; have {available}")
    return picked


def _only(bars: pl.LazyFrame, symbols: Sequence[str] | None) -> pl.LazyFrame:
    return bars if symbols is None else bars.filter(pl.col("symbol").is_in(list(symbols)))


def _zip_csv(path: Path) -> tuple[str, bytes]:
    """The name and bytes of the single CSV inside the zip ``path``."""
    with zipfile.ZipFile(path) as archive:
        members = [name for name in archive.namelist() if name.lower().endswith(".csv")]
        if len(members) != 1:
            raise DataError("not one CSV in the zip", source=str(path), detail=f"members {archive.namelist()}")
        return f"{path}/{members[0]}", archive.read(members[0])


def _source(folder: Path, symbols: Sequence[str] | None) -> str:
    return str(folder) if symbols is None else f"{folder} [symbols {', '.join(symbols)}]"


# --------------------------------------------------------------------------------------------------------------
# Presets: one loader per folder of ../shared/data
# --------------------------------------------------------------------------------------------------------------

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
    files = _files(folder, "stocks_1min_*.csv*")
    report = {"index files not loaded (not tradable)": len(list(folder.glob("index_1min_*.csv*")))}
    bars = _only(pl.scan_csv(files, schema=_ASHARE_SCHEMA, include_file_paths=_FILE), symbols).select(
        "symbol",
        pl.col("time").str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False).alias("timestamp"),
        "open",
        "high",
        "low",
        "close",
        pl.col("volume") * 100.0,  # lots of 100 shares -> shares
        _FILE,
    )
    frame = _widen_to_open(_fold_opening_auction(bars)).with_columns(pl.col("close").alias("price")).collect()
    flags = {
        "_folded": "09:30 opening-auction bars folded into the 09:31 bar",
        "_relabelled": "09:30 opening-auction bars without a 09:31 bar relabelled 09:31",
        "_widened": "bars with open outside [low, high]: high/low widened to include it",
    }
    return _finish(frame, bar_minutes=1, source=_source(folder, symbols), report=report, symbols=symbols, flags=flags)


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
        bars.with_columns((ts.dt.time() == time(9, 30)).alias("_relabelled"))
        .with_columns(
            (
                auction.shift(1, fill_value=False) & (symbol == symbol.shift(1)) & (ts.diff() == pl.duration(minutes=1))
            ).alias("_folded")
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
    every = _files(folder, "*.min.csv*")
    indices = [path for path in every if _fund_code(path) in _ETF_INDICES]
    files = _pick((path for path in every if path not in indices), symbols, _fund_code)
    report = {f"index series not loaded ({', '.join(_ETF_INDICES)}; not tradable)": len(indices)}
    scan = pl.scan_csv(
        files, has_header=False, skip_rows=1, schema=_ETF_SCHEMA, extra_columns="ignore", include_file_paths=_FILE
    )
    no_trade = pl.col("vol") < 1  # zero-volume bars read vol = amount = 5.9e-39
    frame = scan.select(
        pl.col(_FILE).str.extract(r"([^/\\]+)\.min\.csv").alias("symbol"),
        pl.col("datetime").str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False).alias("timestamp"),
        "open",
        "high",
        "low",
        "close",
        pl.when(no_trade).then(0.0).otherwise(pl.col("vol")).alias("volume"),
        "amount",
        no_trade.alias("_no_trade"),
        _FILE,
    ).collect()
    flags = {"_no_trade": "bars with vol < 1 (denormal placeholder) read as volume 0"}
    frame = _vwap(frame, str(folder), report)
    return _finish(frame, bar_minutes=5, source=_source(folder, symbols), report=report, symbols=symbols, flags=flags)


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
        *_OHLCV,
        pl.col("turnover").alias("amount"),
        pl.lit(str(path)).alias(_FILE),
    )
    report: dict[str, int] = {}
    frame = _vwap(_only(bars, symbols).collect(), str(path), report)
    return _finish(frame, bar_minutes=1, source=_source(path, symbols), report=report, symbols=symbols)


_SSE_ZIP = "000001.XSHG_1min.zip"


def _load_sse_index_1min(folder: Path, symbols: Sequence[str] | None) -> BarTable:
    """The zipped JoinQuant-style CSV (symbol,id,dt,freq,open,close,high,low,vol); price = close."""
    name, raw = _zip_csv(folder / _SSE_ZIP)
    bars = pl.scan_csv(raw, schema_overrides={"symbol": pl.String, "dt": pl.String, "vol": pl.Float64}).select(
        "symbol",
        pl.col("dt").str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False).alias("timestamp"),
        "open",
        "high",
        "low",
        "close",
        pl.col("vol").alias("volume"),
        pl.col("close").alias("price"),
        pl.lit(name).alias(_FILE),
    )
    frame = _only(bars, symbols).collect()
    return _finish(frame, bar_minutes=1, source=_source(folder / _SSE_ZIP, symbols), report={}, symbols=symbols)


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
    files = _pick(_files(folder / "minute", "*/*_trade.zip"), symbols, lambda path: path.parent.name.upper())
    scans = []
    for path in files:  # one small zip per symbol-day
        name, raw = _zip_csv(path)
        day = datetime.strptime(path.name[:8], "%Y%m%d")
        scans.append(
            pl.scan_csv(raw, has_header=False, schema=_LEAN_SCHEMA).with_columns(
                pl.lit(path.parent.name.upper()).alias("symbol"),
                (pl.lit(day) + pl.duration(milliseconds=pl.col("ms")) + pl.duration(minutes=1)).alias("timestamp"),
                (pl.col("open", "high", "low", "close") / _LEAN_PRICE_SCALE).round(4),  # exact 4-decimal dollars
                pl.lit(name).alias(_FILE),
            )
        )
    frame = pl.concat(scans).with_columns(pl.col("close").alias("price")).drop("ms").collect()
    report: dict[str, int] = {}
    frame = _regular_session(frame, time(9, 31), time(16, 0), report)
    return _finish(frame, bar_minutes=1, source=_source(folder, symbols), report=report, symbols=symbols)


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
    bars = pl.scan_csv(files, separator=";", has_header=False, schema=_NT_SCHEMA, include_file_paths=_FILE).select(
        pl.lit("SPY").alias("symbol"),
        utc.dt.convert_time_zone("America/New_York").dt.replace_time_zone(None).alias("timestamp"),
        *_OHLCV,
        pl.col("close").alias("price"),
        _FILE,
    )
    report: dict[str, int] = {}
    frame = _regular_session(_only(bars, symbols).collect(), time(9, 31), time(16, 0), report)
    return _finish(frame, bar_minutes=1, source=_source(folder, symbols), report=report, symbols=symbols)


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
    files = _pick(_files(folder, "binanceus_*_1m_*.csv"), symbols, lambda path: path.name.split("_")[1])
    start = pl.col("open_time").str.to_datetime("%Y-%m-%d %H:%M:%S%z", time_unit="us", strict=False)
    frame = (
        pl.scan_csv(files, schema=_KLINE_SCHEMA, include_file_paths=_FILE)
        .select(
            pl.col(_FILE).str.extract(r"binanceus_([^_/\\]+)_1m_").alias("symbol"),
            (start.dt.replace_time_zone(None) + pl.duration(minutes=1)).alias("timestamp"),
            *_OHLCV,
            pl.col("close").alias("price"),
            _FILE,
        )
        .collect()
    )
    return _finish(frame, bar_minutes=1, source=_source(folder, symbols), report={}, symbols=symbols)


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
                "(counted). Stock-days with missing minutes are kept as they are."
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
                "13:01..15:00 (bar end). Short days are kept as they are: the 2016-01-04 and 2016-01-07 "
                "circuit-breaker halts, and days missing the 14:59 bar or a random minute."
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
                "2015-12-24) the sparse prints after the 13:00 close are kept."
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
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    preset = PRESETS[name]
    folder = preset_path(preset, path)
    if isinstance(symbols, str):
        symbols = [symbols]
    return preset.loader(folder, None if symbols is None else list(symbols))
