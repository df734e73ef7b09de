"""Read bar files into the canonical :class:`~order_exec_gym.data.schema.BarTable`.

:func:`read_bars` reads your own CSV or Parquet bars through a column mapping; the other functions are the steps
it shares with the vendor formats of :mod:`order_exec_gym.data.presets`. Every reader follows the same conventions:

* ``timestamp`` is the bar END time, exchange-local and timezone-naive (UTC for the 24-hour crypto market).
  A bar belongs to the day of its START (:func:`~order_exec_gym.data.schema.bar_day`): the rule the dataset uses
  to cut days, so the crypto bar ending at 00:00 belongs to the previous date. Split date ranges use the same days.
* ``volume`` is in shares (or units of the instrument); ``price`` is the bar's execution price: the VWAP
  amount / volume where the source has an amount, otherwise the close (each preset states its rule).
* Untraded symbol-days (every bar's volume exactly 0, e.g. suspended stocks) are dropped on purpose and counted;
  every drop or repair is counted in :attr:`BarTable.report` as ``{reason: count}``. Nothing is dropped, converted
  or repaired silently: anything else that breaks a rule of :func:`~order_exec_gym.data.schema.validate` (which
  :class:`BarTable` runs) raises :class:`~order_exec_gym.errors.DataError` naming the rule, the file, the symbol,
  the timestamp and the value, and so do unreadable files (empty, not UTF-8, not CSV or Parquet) and blank lines
  (or rows of empty fields) in a CSV file, named by their line number.

Everything is polars: lazy scans, one collect per source, vectorised expressions.
"""

from __future__ import annotations

import gzip
import zlib
import math
import os
import zipfile
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import time
from pathlib import Path

import polars as pl

from order_exec_gym.data.schema import BarTable, bar_day, check, to_float, to_text
from order_exec_gym.errors import DataError

DATA_ENV_VAR = "ORDER_EXEC_GYM_DATA"

# Report keys shared by several readers.
UNTRADED = "untraded symbol-days dropped"
VWAP_CLIPPED = "VWAP outside [low, high] clipped into it"
EXTENDED_HOURS = "extended-hours bars dropped"
CLOSING_PRINT = "closing-auction bars (ending one minute after the close) folded into the closing bar"

BLANK_LINE = "blank line"
#: The bytes a blank CSV line (or a row of empty fields) may hold: whitespace, field separators and quotes.
_BLANK_BYTES = b" \t\r\n\f\v,;|\""
FILE_COLUMN = "_file"  # helper column: the file each row comes from, to name it in errors
_ISO_DATE_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}"  # what read_bars parses without a timestamp_format
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
    time_zone: str | None = None,
    session: Sequence[time] | None = None,
    volume_multiplier: float = 1.0,
    separator: str = ",",
    has_header: bool = True,
    source: str | None = None,
) -> BarTable:
    """Read bars from CSV (``.csv``, ``.csv.gz``, UTF-8) or Parquet (``.parquet``) files into a :class:`BarTable`.

    :param paths: one file or several (concatenated in the given order: timestamps must ascend per symbol)
    :param columns: canonical name -> column name in the file, for the names that differ
        (``symbol``, ``timestamp``, ``open``, ``high``, ``low``, ``close``, ``volume``); without a header,
        the columns as polars names them (``column_0``, ``column_1``, ... in recent versions; a missing column's
        error lists them)
    :param bar_minutes: bar length in minutes; timestamps must be bar END times
    :param amount: column holding the traded amount (turnover, finite and >= 0); then price = amount / volume on
        bars with volume > 0 (a VWAP outside [low, high] is clipped into it and counted), else the close.
        Without ``amount``, price = close.
    :param symbol: the instrument of every row (files of one instrument); otherwise read from the symbol column
    :param timestamp_format: strftime format of text timestamps; without it, only ISO 8601 date-times
        (``2024-03-01 09:31:00``, ``2024-03-01T09:31``, with or without an offset) are read: a date alone, the order of
        day and month, or epoch numbers are never guessed
    :param time_zone: the exchange's time zone (IANA name, e.g. ``"Asia/Shanghai"``). Timestamps that carry a zone
        or a UTC offset (``2024-03-01T09:31:00+08:00`` in CSV, a zoned Parquet column) are converted to its local
        time and lose the zone; without ``time_zone`` they raise :class:`DataError`, since the exchange's local
        time cannot be known. Naive timestamps are taken as exchange-local, as they are.
    :param session: the bar END times of a full session (:func:`~order_exec_gym.data.schema.bar_times`), when
        known: bars must end at one of them, and the dataset counts the bars missing from each session
    :param volume_multiplier: converts volume to shares (e.g. 100 for lots); applied before the VWAP
    :param separator: CSV field separator
    :param has_header: whether CSV files start with a header line
    :param source: label of the data in messages and :attr:`BarTable.source` (default: the file names)

    Untraded symbol-days (every bar's volume exactly 0) are dropped and counted in :attr:`BarTable.report`
    (:data:`UNTRADED`); every other bar is kept as it is, or the read fails.

    :raises DataError: an unreadable file (empty, not UTF-8, corrupt), a blank line or a line of empty fields in a
        CSV file (naming its line number), a missing column, text that is not a number,
        an unparseable or timezone-aware timestamp (see ``time_zone``), or any rule of
        :func:`~order_exec_gym.data.schema.validate`, naming the file, symbol, timestamp and value
    """
    files = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not files:
        raise ValueError("read_bars needs at least one file")
    if bar_minutes <= 0:
        raise ValueError(f"bar_minutes must be positive, got {bar_minutes}")
    if not (math.isfinite(volume_multiplier) and volume_multiplier > 0):
        raise ValueError(f"volume_multiplier must be finite and positive, got {volume_multiplier}")
    if time_zone is not None and not _is_time_zone(time_zone):
        raise ValueError(f"time_zone must be an IANA time zone name such as 'Asia/Shanghai', got {time_zone!r}")
    unknown = sorted(set(columns or {}) - set(_MAPPABLE))
    if unknown:
        raise ValueError(f"columns maps unknown canonical names {unknown}; mappable names are {list(_MAPPABLE)}")
    names = {name: name for name in _MAPPABLE} | dict(columns or {})
    if symbol is not None:
        del names["symbol"]
    if amount is not None:
        names["amount"] = amount
    frame = pl.concat(
        [
            _read_file(path, names, symbol, timestamp_format, time_zone, volume_multiplier, separator, has_header)
            for path in files
        ]
    )
    source = source or ", ".join(str(path) for path in files)
    report: dict[str, int] = {}
    frame = vwap(frame, source, report) if amount is not None else frame.with_columns(pl.col("close").alias("price"))
    return finish(frame, bar_minutes=bar_minutes, source=source, report=report, session=session)


def _is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone name."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _read_file(
    path: Path,
    names: Mapping[str, str],
    symbol: str | None,
    timestamp_format: str | None,
    time_zone: str | None,
    volume_multiplier: float,
    separator: str,
    has_header: bool,
) -> pl.DataFrame:
    """One file's bars with canonical names and dtypes (price not yet set), plus the :data:`FILE_COLUMN`."""
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith(".parquet"):
        scan = pl.scan_parquet(path)
    elif suffixes.endswith((".csv", ".csv.gz")):
        _check_text(path)
        scan = pl.scan_csv(path, separator=separator, has_header=has_header, infer_schema=False)
    else:
        raise ValueError(f"{path}: unsupported file type (use .csv, .csv.gz or .parquet)")
    try:
        available = scan.collect_schema().names()
        missing = [f"{column!r} (for {name})" for name, column in names.items() if column not in available]
        if missing:
            raise DataError("missing column", source=str(path), detail=f"{', '.join(missing)}; the file has {available}")
        frame = scan.select(pl.col(column).alias(name) for name, column in names.items()).collect()
    except pl.exceptions.PolarsError as error:
        raise _unreadable(path, error) from error
    except (OSError, EOFError, zlib.error) as error:  # e.g. a truncated or corrupt .gz
        raise DataError("unreadable file", source=str(path), detail=f"{type(error).__name__}: {error}") from error
    source = str(path)
    if not suffixes.endswith(".parquet"):
        check_blank_lines(frame, ["timestamp", *(c for c in frame.columns if c != "timestamp")], source, separator)
    if symbol is not None:
        frame = frame.with_columns(pl.lit(symbol).alias("symbol"))
    frame = to_text(frame, "symbol", source)
    frame = frame.with_columns(_parse_timestamps(frame, timestamp_format, time_zone, source))
    frame = to_float(frame, [c for c in (*OHLCV, "amount") if c in frame.columns], source)
    return frame.with_columns(pl.col("volume") * volume_multiplier, pl.lit(source).alias(FILE_COLUMN))


#: Byte order marks of the encodings text files most often come in instead of UTF-8.
BYTE_ORDER_MARKS = {b"\xff\xfe": "UTF-16 (little-endian)", b"\xfe\xff": "UTF-16 (big-endian)"}


def _check_text(path: Path) -> None:
    """Refuse a CSV (gzipped or not) that cannot be read as text: a truncated or corrupt gzip, or a UTF-16 file (whose
    header would otherwise read as one unknown column)."""
    try:
        with gzip.open(path) if path.suffix.lower() == ".gz" else open(path, "rb") as handle:
            head = handle.read(4096)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError("unreadable file", source=str(path), detail=f"{type(error).__name__}: {error}") from error
    for mark, encoding in BYTE_ORDER_MARKS.items():
        if head.startswith(mark):
            raise DataError("not UTF-8 text", source=str(path), detail=f"the file is {encoding}; save it as UTF-8")
    if head and not head.split(b"\n", 1)[0].strip(_BLANK_BYTES):  # polars would skip it, or misread the header
        raise _blank_line(str(path), 1)


def check_blank_lines(frame: pl.DataFrame, columns: Sequence[str], source: str, separator: str = ",") -> None:
    """Raise :class:`DataError` naming the file and the line when a row of ``frame`` holds no value in any of
    ``columns`` because its CSV line is blank or only empty fields (polars reads such a line as a row of nulls,
    which would otherwise be rejected without its line, or dropped by a later filter).

    The file is the row's :data:`FILE_COLUMN`, else ``source``: a ``.csv``, a ``.csv.gz`` or ``<zip>/<member>``.
    A row of nulls whose line is not blank (e.g. an unparseable timestamp and missing values) is left to
    validation, which rejects it."""
    def empty(column: str) -> pl.Expr:
        value = pl.col(column)
        return value.is_null() | (value.str.strip_chars() == "") if frame.schema[column] == pl.String else value.is_null()

    if not columns or frame.height == 0:
        return
    rows = frame.filter(empty(columns[0]))  # the first column alone first: it is cheaper than all
    if rows.height == 0:
        return
    rows = rows.filter(pl.all_horizontal([empty(column) for column in columns]))
    if rows.height == 0:
        return
    files = rows[FILE_COLUMN].unique(maintain_order=True).to_list() if FILE_COLUMN in rows.columns else [source]
    for file in files:
        line = _first_blank_line(file, separator)
        if line is not None:
            raise _blank_line(file, line)


def _blank_line(source: str, line: int) -> DataError:
    detail = f"line {line} holds no value (a blank line, or only empty fields): delete it; no line is skipped"
    return DataError(BLANK_LINE, source=source, detail=detail)


def _first_blank_line(source: str, separator: str = ",") -> int | None:
    """The 1-based number of the first blank line (or line of empty fields) of the CSV ``source``, outside quoted
    fields; None when there is none or the file cannot be read again."""
    path = Path(source)
    blank = _BLANK_BYTES + separator.encode()
    try:
        if path.is_file():
            handle = gzip.open(path) if path.suffix.lower() == ".gz" else open(path, "rb")
        elif path.parent.is_file() and zipfile.is_zipfile(path.parent):  # a member of a zip (see zip_csv)
            handle = zipfile.ZipFile(path.parent).open(path.name)
        else:
            return None
        with handle:
            quoted = False
            for number, line in enumerate(handle, 1):
                if not quoted and not line.strip(blank):
                    return number
                quoted ^= line.count(b'"') % 2 == 1
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, KeyError):
        return None
    return None


def _unreadable(path: Path, error: pl.exceptions.PolarsError) -> DataError:
    """The :class:`DataError` for a file polars cannot read: empty, not UTF-8, or what polars says."""
    if isinstance(error, pl.exceptions.NoDataError):
        return DataError("empty file", source=str(path), detail="no header and no rows")
    if ".csv" in [suffix.lower() for suffix in path.suffixes]:
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix.lower() == ".gz" else path.read_bytes()
        except (OSError, EOFError, zlib.error) as bad:
            return DataError("unreadable file", source=str(path), detail=f"{type(bad).__name__}: {bad}")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            line = raw.count(b"\n", 0, bad.start) + 1
            detail = f"byte {raw[bad.start]:#04x} on line {line} is not UTF-8; save the file as UTF-8"
            return DataError("not UTF-8 text", source=str(path), detail=detail)
    detail = f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return DataError("unreadable file", source=str(path), detail=detail)


def _parse_timestamps(frame: pl.DataFrame, timestamp_format: str | None, time_zone: str | None, path: str) -> pl.Series:
    """The timestamp column as naive exchange-local ``Datetime("us")`` (see :func:`read_bars`' ``time_zone``)."""
    raw = frame["timestamp"]
    if raw.dtype == pl.String:
        parsed = _parse_text(frame, timestamp_format, path)
    elif isinstance(raw.dtype, pl.Datetime):
        parsed = raw
    else:
        detail = f"the timestamp column has dtype {raw.dtype}; epoch numbers are not read, convert them to date-times"
        raise DataError("timestamp is not a date-time", source=path, detail=detail)
    if parsed.dtype.time_zone is None:
        return parsed.cast(pl.Datetime("us"))
    if time_zone is None:
        row = frame.filter(raw.is_not_null()).row(0, named=True)
        raise DataError(
            "timezone-aware timestamps",
            source=path,
            symbol=row["symbol"],
            timestamp=row["timestamp"],
            detail="bar times must be exchange-local: pass time_zone=, the exchange's zone (e.g. 'Asia/Shanghai'), "
            "to convert them to its local time",
        )
    return parsed.dt.convert_time_zone(time_zone).dt.replace_time_zone(None).cast(pl.Datetime("us"))


def _parse_text(frame: pl.DataFrame, timestamp_format: str | None, path: str) -> pl.Series:
    """Text timestamps parsed with ``timestamp_format``, or, without it, as ISO 8601 date-times in the format of the
    first (nothing is guessed: not a date alone, not the order of day and month). A value that does not parse
    raises naming the first one."""
    raw = frame["timestamp"]
    if timestamp_format is None:
        guessed = raw.is_not_null() & ~raw.str.contains(_ISO_DATE_TIME)
        if guessed.any():
            raise _unparseable(frame, guessed, path, "are not ISO 8601 date-times (2024-03-01 09:31:00)")
    try:
        parsed = raw.str.to_datetime(timestamp_format, time_unit="us", strict=False)
    except pl.exceptions.ComputeError:  # no date-time format fits the first value
        raise _unparseable(frame, raw.is_not_null(), path, "fit no date-time format") from None
    bad = parsed.is_null() & raw.is_not_null()
    if bad.any():
        fits = repr(timestamp_format) if timestamp_format else "of the first timestamp"
        raise _unparseable(frame, bad, path, f"do not match the format {fits}")
    return parsed


def _unparseable(frame: pl.DataFrame, bad: pl.Series, path: str, why: str) -> DataError:
    """The "unparseable timestamp" error naming the first of the ``bad`` rows."""
    row = frame.filter(bad).row(0, named=True)
    detail = f"{bad.sum()} value(s) {why}; pass timestamp_format= (epoch numbers are not read)"
    return DataError("unparseable timestamp", source=path, symbol=row["symbol"], timestamp=row["timestamp"], detail=detail)


# --------------------------------------------------------------------------------------------------------------
# Shared steps
# --------------------------------------------------------------------------------------------------------------


def vwap(frame: pl.DataFrame, source: str, report: dict[str, int]) -> pl.DataFrame:
    """Set price = amount / volume on bars with volume > 0, else close; clip VWAPs outside [low, high] (counted).

    Vendors round the amount, so tiny bars' VWAPs can sit just outside the range. When most traded bars are
    outside, the units of amount and volume disagree: that raises instead of clipping everything. Amounts must be
    finite and >= 0.
    """
    check_blank_lines(frame, _values(frame), source)
    amount = pl.col("amount")
    invalid = amount.is_null() | amount.is_nan() | amount.is_infinite() | (amount < 0)
    try:
        check(frame, [("NaN, missing, infinite or negative amount", invalid, "amount", "")], source)
    except DataError as error:
        raise _in_file(error, frame) from None
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


def _values(frame: pl.DataFrame) -> list[str]:
    """The columns of ``frame`` read from a bar's line (a blank line leaves them all null): not the symbol, which
    some formats take from the file name."""
    return [c for c in ("timestamp", *OHLCV, "amount") if c in frame.columns]


def _drop_untraded(frame: pl.DataFrame, bar_minutes: int, report: dict[str, int]) -> pl.DataFrame:
    """Drop the symbol-days on which every bar's volume is exactly 0 (suspended or never traded), counting them.

    A missing or NaN volume is not a zero: its day stays, for :func:`~order_exec_gym.data.schema.validate` to reject.
    """
    day = bar_day(bar_minutes).alias("_day")
    days = frame.select("symbol", day, "volume").group_by("symbol", "_day").agg(pl.col("volume").eq_missing(0.0).all())
    untraded = days.filter("volume").drop("volume")
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


def regular_session(frame: pl.DataFrame, first: time, last: time, report: dict[str, int], source: str) -> pl.DataFrame:
    """Keep the bars ending between ``first`` and ``last`` (inclusive), after folding the closing-auction print
    into the ``last`` bar; count the other bars as extended hours. A blank line of the CSV is an error first
    (:func:`check_blank_lines`; ``source`` names the data for rows without their file)."""
    check_blank_lines(frame, _values(frame), source)
    frame = _fold_closing_print(frame, last, report)
    # a bar without a timestamp is not an extended-hours bar: it stays for validation to reject
    kept = frame.filter(pl.col("timestamp").dt.time().is_between(first, last) | pl.col("timestamp").is_null())
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
    session: Sequence[time] | None = None,
) -> BarTable:
    """Group rows by symbol (stable), count the ``flags`` columns (see :func:`_count_flags`), drop untraded
    symbol-days, and make the :class:`BarTable` (which validates it; errors name the file of the row)."""
    if symbols is not None and frame.height == 0:
        raise DataError("unknown symbols", source=source, detail=f"none of {list(symbols)} is in the data")
    check_blank_lines(frame, _values(frame), source)
    frame = _grouped_by_symbol(frame)
    if flags:
        frame = _count_flags(frame, flags, report)
    frame = _drop_untraded(frame, bar_minutes, report)
    try:
        return BarTable(frame, bar_minutes, source, report, session)
    except DataError as error:
        raise _in_file(error, frame) from None


def _grouped_by_symbol(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` sorted by symbol, stable (rows of a symbol in their order), contiguous: a column at a time, so that
    a caller that handed over its only reference holds one column twice at most, not the whole frame."""
    order = frame.select(pl.arg_sort_by("symbol", maintain_order=True)).to_series()
    columns = frame.get_columns()
    del frame
    for i, column in enumerate(columns):
        columns[i] = column.gather(order)
        del column
    return pl.DataFrame(columns)


def _in_file(error: DataError, frame: pl.DataFrame) -> DataError:
    """``error`` re-addressed to the file of the offending row (validate only knows the whole source)."""
    if FILE_COLUMN not in frame.columns:
        return error
    row = frame.filter(
        pl.col("symbol").eq_missing(error.symbol), pl.col("timestamp").eq_missing(error.timestamp)
    ).select(FILE_COLUMN)
    if row.height == 0:
        return error
    return error.with_source(row.item(0, 0))


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
