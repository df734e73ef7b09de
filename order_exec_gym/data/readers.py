"""Read bar files into the canonical :class:`~order_exec_gym.data.schema.BarTable`.

:func:`read_bars` reads your own CSV or Parquet bars through a column mapping; the other functions are the steps
it shares with the vendor formats of :mod:`order_exec_gym.data.presets`. Every reader follows the same conventions:

* ``timestamp`` is the bar END time, exchange-local and timezone-naive (UTC for the 24-hour crypto market).
  A bar belongs to the day of its START (:func:`~order_exec_gym.data.schema.bar_day`): the rule the dataset uses
  to cut days, so the crypto bar ending at 00:00 belongs to the previous date. Split date ranges use the same days.
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
from datetime import time
from pathlib import Path

import polars as pl

from order_exec_gym.data.schema import BarTable, bar_day, validate
from order_exec_gym.errors import DataError

DATA_ENV_VAR = "ORDER_EXEC_GYM_DATA"

# Report keys shared by several readers.
UNTRADED = "untraded symbol-days dropped"
VWAP_CLIPPED = "VWAP outside [low, high] clipped into it"
EXTENDED_HOURS = "extended-hours bars dropped"
CLOSING_PRINT = "closing-auction bars (ending one minute after the close) folded into the closing bar"

FILE_COLUMN = "_file"  # helper column: the file each row comes from, to name it in errors
OHLCV = ("open", "high", "low", "close", "volume")
_MAPPABLE = ("symbol", "timestamp", *OHLCV)


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
    frame = vwap(frame, source, report) if amount is not None else frame.with_columns(pl.col("close").alias("price"))
    return finish(frame, bar_minutes=bar_minutes, source=source, report=report)


def _read_file(
    path: Path,
    names: Mapping[str, str],
    symbol: str | None,
    timestamp_format: str | None,
    volume_multiplier: float,
    separator: str,
    has_header: bool,
) -> pl.DataFrame:
    """One file's bars with canonical names and dtypes (price not yet set), plus the :data:`FILE_COLUMN`."""
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
    numeric = [c for c in (*OHLCV, "amount") if c in frame.columns]
    frame = frame.with_columns(
        pl.lit(symbol).alias("symbol") if symbol is not None else pl.col("symbol").cast(pl.String),
        pl.col(numeric).cast(pl.Float64, strict=False),
        pl.lit(str(path)).alias(FILE_COLUMN),
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


def vwap(frame: pl.DataFrame, source: str, report: dict[str, int]) -> pl.DataFrame:
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
            source=row.get(FILE_COLUMN, source),
            symbol=row["symbol"],
            timestamp=row["timestamp"],
            detail=f"on {n_outside} of {n_traded} traded bars: amount and volume units disagree "
            "(volume in lots? see volume_multiplier)",
        )
    report[VWAP_CLIPPED] = n_outside
    return frame.with_columns(pl.col("price").clip(pl.col("low"), pl.col("high")))


def _drop_untraded(frame: pl.DataFrame, bar_minutes: int, report: dict[str, int]) -> pl.DataFrame:
    """Drop the symbol-days whose total volume is 0 (suspended or never traded), counting them."""
    day = bar_day(bar_minutes).alias("_day")
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
    report[CLOSING_PRINT] = int(frame.select(folded.sum()).item())
    return frame.filter(~folded).drop("_into")


def regular_session(frame: pl.DataFrame, first: time, last: time, report: dict[str, int]) -> pl.DataFrame:
    """Keep the bars ending between ``first`` and ``last`` (inclusive), after folding the closing-auction print
    into the ``last`` bar; count the other bars as extended hours."""
    frame = _fold_closing_print(frame, last, report)
    kept = frame.filter(pl.col("timestamp").dt.time().is_between(first, last))
    report[EXTENDED_HOURS] = frame.height - kept.height
    return kept


def finish(
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
    if FILE_COLUMN not in frame.columns:
        return error
    row = frame.filter(
        pl.col("symbol").eq_missing(error.symbol), pl.col("timestamp").eq_missing(error.timestamp)
    ).select(FILE_COLUMN)
    if row.height == 0:
        return error
    head = str(DataError(error.rule, source=error.source, symbol=error.symbol, timestamp=error.timestamp))
    detail = str(error)[len(head) + 2 :]
    return DataError(error.rule, source=row.item(0, 0), symbol=error.symbol, timestamp=error.timestamp, detail=detail)


def matching_files(folder: Path, pattern: str) -> list[Path]:
    """The files of ``folder`` matching ``pattern``, sorted by name; raises when there are none."""
    files = sorted(folder.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no {pattern} files in {folder}")
    return files


def pick_files(files: Iterable[Path], symbols: Sequence[str] | None, symbol_of: Callable[[Path], str]) -> list[Path]:
    """The files whose symbol is in ``symbols`` (all when None); raises when none is left."""
    files = list(files)
    if symbols is None:
        return files
    picked = [path for path in files if symbol_of(path) in symbols]
    if not picked:
        available = sorted({symbol_of(path) for path in files})
        raise DataError("unknown symbols", source=str(files[0].parent), detail=f"{list(symbols)}; have {available}")
    return picked


def only_symbols(bars: pl.LazyFrame, symbols: Sequence[str] | None) -> pl.LazyFrame:
    """The rows of ``bars`` whose symbol is in ``symbols`` (all when None)."""
    return bars if symbols is None else bars.filter(pl.col("symbol").is_in(list(symbols)))


def zip_csv(path: Path) -> tuple[str, bytes]:
    """The name and bytes of the single CSV inside the zip ``path``."""
    with zipfile.ZipFile(path) as archive:
        members = [name for name in archive.namelist() if name.lower().endswith(".csv")]
        if len(members) != 1:
            raise DataError("not one CSV in the zip", source=str(path), detail=f"members {archive.namelist()}")
        return f"{path}/{members[0]}", archive.read(members[0])


def source_name(folder: Path, symbols: Sequence[str] | None) -> str:
    """The label of a folder's bars in messages and :attr:`BarTable.source`: the folder, then the symbols read."""
    return str(folder) if symbols is None else f"{folder} [symbols {', '.join(symbols)}]"
