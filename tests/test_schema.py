"""The canonical bar schema: one test per validate() rule, the generic read_bars() reader, and blank lines (in
read_bars' files and the presets')."""

from __future__ import annotations

import dataclasses
import gzip
import shutil
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from order_exec_gym.data.presets import load_preset
from order_exec_gym.data.readers import EXTENDED_HOURS, UNTRADED, VWAP_CLIPPED, read_bars
from order_exec_gym.data.schema import COLUMNS, PRICE_RANGE, VOLUME_RANGE, BarTable, bar_day, bar_times, validate
from order_exec_gym.errors import DataError

SOURCE = "vendor/bars_2024.csv"


def bars(**changes: list) -> pl.DataFrame:
    """A valid frame: symbols B then A, three 1-minute bars each on 2024-03-01; ``changes`` replace columns."""
    columns = {
        "symbol": ["B", "B", "B", "A", "A", "A"],
        "timestamp": [datetime(2024, 3, 1, 9, 31 + i) for i in range(3)] * 2,
        "open": [10.0, 10.1, 10.2, 5.0, 5.1, 5.2],
        "high": [10.2, 10.3, 10.4, 5.2, 5.3, 5.4],
        "low": [9.9, 10.0, 10.1, 4.9, 5.0, 5.1],
        "close": [10.1, 10.2, 10.3, 5.1, 5.2, 5.3],
        "volume": [100.0, 200.0, 300.0, 10.0, 20.0, 30.0],
        "price": [10.1, 10.2, 10.3, 5.1, 5.2, 5.3],
    }
    return pl.DataFrame(columns | changes)


def with_value(column: str, row: int, value) -> pl.DataFrame:
    frame = bars()
    return bars(**{column: [value if i == row else v for i, v in enumerate(frame[column].to_list())]})


def assert_names(error: pytest.ExceptionInfo, rule: str, symbol: str | None = None, timestamp: str | None = None):
    """The message names the rule, the file and, when given, the symbol and the timestamp."""
    message = str(error.value)
    assert rule in message and SOURCE in message
    assert error.value.rule == rule and error.value.source == SOURCE
    if symbol is not None:
        assert f"symbol {symbol}" in message and f"at {timestamp}" in message


# --------------------------------------------------------------------------------------------------------------
# validate(): one test per rule
# --------------------------------------------------------------------------------------------------------------


def test_valid_frame_passes_with_symbols_in_any_order():
    frame = validate(bars(), SOURCE)
    assert frame.columns == list(COLUMNS)
    assert frame["symbol"].to_list() == ["A"] * 3 + ["B"] * 3  # grouped by symbol, each symbol's order kept
    assert frame.filter(pl.col("symbol") == "B")["close"].to_list() == [10.1, 10.2, 10.3]
    interleaved = bars().sort(pl.col("timestamp"), "symbol")  # A, B, A, B, ...
    assert validate(interleaved, SOURCE).equals(frame)


def test_missing_column():  # no row to point at: the rule, the file and the column
    with pytest.raises(DataError) as error:
        validate(bars().drop("price"), SOURCE)
    assert_names(error, "missing column")
    assert "price" in str(error.value)


def test_empty_table():  # no row to point at: the rule and the file
    with pytest.raises(DataError) as error:
        validate(bars().clear(), SOURCE)
    assert_names(error, "empty table")


def test_nan_price():
    with pytest.raises(DataError) as error:
        validate(with_value("close", 4, float("nan")), SOURCE)
    assert_names(error, "NaN or missing price (close)", "A", "2024-03-01 09:32:00")


@pytest.mark.parametrize("value", [1e300, 1e40, 1e16, 1e-16, 1e-300, float("inf")])
def test_price_out_of_range(value):  # the float32 episode arrays would hold inf, 0 or a denormal
    with pytest.raises(DataError) as error:
        validate(with_value("high", 1, value), SOURCE)
    assert_names(error, "price out of range (high)", "B", "2024-03-01 09:32:00")
    assert f"high = {value!r}" in str(error.value) and f"[{PRICE_RANGE[0]:g}, {PRICE_RANGE[1]:g}]" in str(error.value)


@pytest.mark.parametrize("value", [1e31, 1e39, float("inf"), 1e-300, 5.9e-39])
def test_volume_out_of_range(value):
    with pytest.raises(DataError) as error:
        validate(with_value("volume", 4, value), SOURCE)
    assert_names(error, "volume out of range", "A", "2024-03-01 09:32:00")
    assert f"volume = {value!r}" in str(error.value)


def test_prices_and_volumes_at_the_bounds_pass():
    low, high = PRICE_RANGE
    frame = bars(
        open=[low] * 3 + [high] * 3, high=[low] * 3 + [high] * 3, low=[low] * 3 + [high] * 3,
        close=[low] * 3 + [high] * 3, price=[low] * 3 + [high] * 3, volume=[VOLUME_RANGE[0], 0.0, VOLUME_RANGE[1]] * 2,
    )  # fmt: skip
    assert validate(frame, SOURCE).height == 6


def test_non_positive_price():
    with pytest.raises(DataError) as error:
        validate(with_value("open", 2, 0.0), SOURCE)
    assert_names(error, "non-positive price (open)", "B", "2024-03-01 09:33:00")


def test_negative_volume():
    with pytest.raises(DataError) as error:
        validate(with_value("volume", 1, -5.0), SOURCE)
    assert_names(error, "negative volume", "B", "2024-03-01 09:32:00")


def test_high_below_low():
    with pytest.raises(DataError) as error:
        validate(with_value("high", 3, 4.8), SOURCE)
    assert_names(error, "high < low", "A", "2024-03-01 09:31:00")


def test_close_outside_low_high():
    with pytest.raises(DataError) as error:
        validate(with_value("close", 5, 5.5), SOURCE)
    assert_names(error, "close outside [low, high]", "A", "2024-03-01 09:33:00")


def test_unsorted_timestamps():
    with pytest.raises(DataError) as error:
        validate(with_value("timestamp", 2, datetime(2024, 3, 1, 9, 30)), SOURCE)
    assert_names(error, "unsorted timestamps", "B", "2024-03-01 09:30:00")


def test_duplicated_timestamps():
    with pytest.raises(DataError) as error:
        validate(with_value("timestamp", 4, datetime(2024, 3, 1, 9, 31)), SOURCE)
    assert_names(error, "duplicated timestamp", "A", "2024-03-01 09:31:00")


def test_empty_day():
    with pytest.raises(DataError) as error:
        validate(bars(volume=[100.0, 200.0, 300.0, 0.0, 0.0, 0.0]), SOURCE)
    assert_names(error, "empty day", "A", "2024-03-01 09:31:00")


def test_bar_outside_the_session():
    session = bar_times((time(9, 31), time(9, 32)), bar_minutes=1)
    with pytest.raises(DataError) as error:
        validate(bars(), SOURCE, session=session)
    assert_names(error, "bar outside the session", "A", "2024-03-01 09:33:00")
    assert "2 bars end at 09:31..09:32" in str(error.value)
    assert validate(bars(), SOURCE, session=bar_times((time(9, 31), time(9, 33)), bar_minutes=1)).height == 6


@pytest.mark.parametrize(
    "column, values, rule",
    [
        ("close", ["10.1", "10.2", "10.3", "5.1", "abc", "5.3"], "not a number (close)"),
        ("close", [True] * 6, "not a number (close)"),
        ("volume", [date(2024, 3, 1)] * 6, "not a number (volume)"),
        ("symbol", [1.5] * 6, "symbol is not text"),
        ("timestamp", ["2024-03-01 09:31"] * 6, "timestamp is not a date-time"),
    ],
)
def test_columns_are_cast_without_silent_changes(column, values, rule):
    with pytest.raises(DataError) as error:
        validate(bars(**{column: values}), SOURCE)
    assert_names(error, rule)
    if values[4] == "abc":
        assert "symbol A" in str(error.value) and "close = 'abc'" in str(error.value)


def test_numbers_of_other_types_and_text_numbers_are_read_exactly():
    frame = bars(volume=[100, 200, 300, 10, 20, 30], close=["10.1", "10.2", "10.3", "5.1", "5.2", "5.3"])
    assert validate(frame, SOURCE).equals(validate(bars(), SOURCE))


def test_timezone_aware_timestamps_are_an_error():
    frame = bars().with_columns(pl.col("timestamp").dt.replace_time_zone("Asia/Shanghai"))
    with pytest.raises(DataError) as error:
        validate(frame, SOURCE)
    assert_names(error, "timezone-aware timestamps")
    assert "Asia/Shanghai" in str(error.value)


def test_a_bar_table_is_validated_when_made():
    with pytest.raises(DataError, match="NaN or missing price"):
        BarTable(with_value("close", 4, float("nan")), bar_minutes=1, source=SOURCE)
    table = BarTable(bars(), bar_minutes=1, source=SOURCE)
    assert table.frame.equals(validate(bars(), SOURCE))  # canonical and grouped by symbol
    with pytest.raises(DataError, match="duplicated timestamp"):
        dataclasses.replace(table, frame=pl.concat([table.frame, table.frame.tail(1)]))
    with pytest.raises(ValueError, match="bar_minutes"):
        BarTable(bars(), bar_minutes=0, source=SOURCE)
    with pytest.raises(ValueError, match="session"):
        BarTable(bars(), bar_minutes=1, source=SOURCE, session=(time(9, 31), time(9, 31)))


def test_bar_times():
    ashare = bar_times((time(9, 31), time(11, 30)), (time(13, 1), time(15, 0)), bar_minutes=1)
    assert len(ashare) == 240 and ashare[119:121] == (time(11, 30), time(13, 1)) and ashare[-1] == time(15, 0)
    etf = bar_times((time(9, 35), time(11, 30)), (time(13, 5), time(15, 0)), bar_minutes=5)
    assert len(etf) == 48 and etf[:2] == (time(9, 35), time(9, 40))
    day_and_night = bar_times((time(0, 1), time(0, 0)), bar_minutes=1)
    assert len(day_and_night) == 1440 and day_and_night[0] == time(0, 1) and day_and_night[-1] == time(0, 0)


def test_empty_day_groups_bars_by_their_start_date():
    """A bar ending at 00:00 belongs to the previous day when bar_minutes is given."""
    frame = bars(
        symbol=["A", "A"],
        timestamp=[datetime(2023, 3, 1, 23, 59), datetime(2023, 3, 2, 0, 0)],
        open=[1.0, 1.0],
        high=[1.0, 1.0],
        low=[1.0, 1.0],
        close=[1.0, 1.0],
        price=[1.0, 1.0],
        volume=[0.0, 5.0],
    )
    assert validate(frame, SOURCE, bar_minutes=1).height == 2
    with pytest.raises(DataError) as error:
        validate(frame, SOURCE)  # without bar_minutes: days by timestamp date, 2023-03-01 has no volume
    assert_names(error, "empty day", "A", "2023-03-01 23:59:00")


def test_bar_day_is_the_date_of_the_bar_start():
    ends = pl.DataFrame({"timestamp": [datetime(2023, 3, 1, 23, 59), datetime(2023, 3, 2), datetime(2023, 3, 2, 0, 5)]})
    days = {minutes: ends.select(bar_day(minutes))["timestamp"].to_list() for minutes in (0, 1, 10)}
    assert days[0] == [date(2023, 3, 1), date(2023, 3, 2), date(2023, 3, 2)]  # the date of the timestamp
    assert days[1] == [date(2023, 3, 1), date(2023, 3, 1), date(2023, 3, 2)]  # the bar ending at 00:00 starts 23:59
    assert days[10] == [date(2023, 3, 1), date(2023, 3, 1), date(2023, 3, 1)]  # 00:05 - 10 minutes = 23:55


# --------------------------------------------------------------------------------------------------------------
# read_bars(): the generic reader
# --------------------------------------------------------------------------------------------------------------

VENDOR_CSV = """Ticker;Time;O;H;L;C;Lots;Turnover
X;2024-03-01 09:31;10.0;10.2;9.9;10.1;2;2020.0
X;2024-03-01 09:32;10.1;10.3;10.0;10.2;0;0.0
X;2024-03-01 09:33;10.2;10.4;10.1;10.3;1;1100.0
Y;2024-03-01 09:31;5.0;5.2;4.9;5.1;0;0.0
"""
MAPPING = {
    "symbol": "Ticker",
    "timestamp": "Time",
    "open": "O",
    "high": "H",
    "low": "L",
    "close": "C",
    "volume": "Lots",
}


@pytest.fixture
def vendor_csv(tmp_path) -> Path:
    path = tmp_path / "vendor.csv"
    path.write_text(VENDOR_CSV)
    return path


def test_read_bars_maps_columns_and_drops_untraded_days(vendor_csv):
    table = read_bars(vendor_csv, columns=MAPPING, bar_minutes=1, separator=";", volume_multiplier=100)
    assert isinstance(table, BarTable) and table.source == str(vendor_csv) and table.bar_minutes == 1
    assert table.report == {UNTRADED: 1}  # Y never traded
    assert table.frame.select("symbol", "timestamp", "volume", "price").rows() == [
        ("X", datetime(2024, 3, 1, 9, 31), 200.0, 10.1),
        ("X", datetime(2024, 3, 1, 9, 32), 0.0, 10.2),
        ("X", datetime(2024, 3, 1, 9, 33), 100.0, 10.3),
    ]


def test_read_bars_amount_gives_the_vwap(vendor_csv):
    table = read_bars(
        vendor_csv,
        columns=MAPPING,
        bar_minutes=1,
        separator=";",
        volume_multiplier=100,
        amount="Turnover",
        timestamp_format="%Y-%m-%d %H:%M",
    )
    # 2020 / 200 = 10.1; no trade -> close; 1100 / 100 = 11.0 is above the high 10.4 -> clipped
    assert table.frame["price"].to_list() == [10.1, 10.2, 10.4]
    assert table.report == {VWAP_CLIPPED: 1, UNTRADED: 1}


def test_read_bars_amount_in_other_units_is_an_error(vendor_csv):
    with pytest.raises(DataError, match="VWAP outside") as error:  # volume in lots: VWAPs 100x too high
        read_bars(vendor_csv, columns=MAPPING, bar_minutes=1, separator=";", amount="Turnover")
    assert str(vendor_csv) in str(error.value) and "symbol X" in str(error.value)


def test_read_bars_parquet_round_trip(tmp_path):
    path = tmp_path / "bars.parquet"
    frame = validate(bars(), SOURCE)
    frame.drop("price").write_parquet(path)
    table = read_bars(path, bar_minutes=1)  # canonical names: no mapping
    assert table.frame.equals(frame.with_columns(pl.col("close").alias("price")))
    assert table.report == {UNTRADED: 0}


def write_zoned(tmp_path: Path, suffix: str, offset: str) -> Path:
    """Bars of symbol Z at 09:31 and 21:31 (wall clock) on 2024-03-01 with UTC ``offset``, as CSV text or Parquet."""
    wall = [datetime(2024, 3, 1, 9, 31), datetime(2024, 3, 1, 21, 31)]
    frame = pl.DataFrame({"symbol": ["Z", "Z"], "timestamp": wall} | {c: [1.0, 1.0] for c in ("open", "high", "low", "close", "volume")})
    path = tmp_path / f"zoned{suffix}"
    if suffix == ".csv":
        frame.with_columns(pl.col("timestamp").dt.strftime(f"%Y-%m-%dT%H:%M:%S{offset}")).write_csv(path)
    else:
        frame.with_columns(pl.col("timestamp").dt.replace_time_zone(offset)).write_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("offset, zone", [("+08:00", "Asia/Shanghai"), ("-05:00", "America/New_York")])
def test_read_bars_timezone_aware_timestamps_need_the_exchange_zone(tmp_path, suffix, offset, zone):
    """CSV offsets and zoned Parquet columns are treated alike: an error without time_zone (the exchange's local
    time cannot be known), the exchange's local time with it; never a silent shift to UTC or a silent zone drop."""
    path = write_zoned(tmp_path, suffix, offset)
    with pytest.raises(DataError, match="timezone-aware timestamps") as error:
        read_bars(path, bar_minutes=1)
    assert str(path) in str(error.value) and "symbol Z" in str(error.value) and "time_zone=" in str(error.value)
    assert offset in str(error.value) or suffix == ".parquet"  # the CSV text as written
    local = read_bars(path, bar_minutes=1, time_zone=zone).frame["timestamp"].to_list()
    assert local == [datetime(2024, 3, 1, 9, 31), datetime(2024, 3, 1, 21, 31)]  # same date, wall clock of the exchange


def test_read_bars_converts_utc_timestamps_to_the_exchange_zone(tmp_path):
    path = write_zoned(tmp_path, ".csv", "Z")  # 09:31 UTC = 04:31 in New York (EST)
    table = read_bars(path, bar_minutes=1, time_zone="America/New_York")
    assert table.frame["timestamp"].to_list() == [datetime(2024, 3, 1, 4, 31), datetime(2024, 3, 1, 16, 31)]


def write_bars(path, minutes: int, n_bars: int = 48, n_days: int = 3):
    """A CSV of one symbol's bars ``minutes`` apart from 09:35, ``n_bars`` a day."""
    lines = ["symbol,timestamp,open,high,low,close,volume"]
    for day in range(n_days):
        start = datetime(2024, 3, 4 + day, 9, 30)
        lines += [f"S,{start + timedelta(minutes=minutes * (i + 1)):%Y-%m-%d %H:%M},10,10.1,9.9,10,100" for i in range(n_bars)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_bar_length_that_does_not_match_the_timestamps_is_an_error(tmp_path):
    """5-minute bars read as 1-minute bars would give 2 decisions where 8 were meant; 1-minute bars read as 5-minute
    bars would spread a step over five times the minutes. Both say what they look like instead."""
    five = write_bars(tmp_path / "five.csv", minutes=5)
    with pytest.raises(DataError, match=r"bar_minutes does not match the timestamps.*pass bar_minutes=5"):
        read_bars(five, bar_minutes=1)
    assert read_bars(five, bar_minutes=5).frame.height == 3 * 48
    one = write_bars(tmp_path / "one.csv", minutes=1)
    with pytest.raises(DataError, match="bars closer than bar_minutes.*bar_minutes=5") as error:
        read_bars(one, bar_minutes=5)
    assert "symbol S" in str(error.value)
    sparse = write_bars(tmp_path / "sparse.csv", minutes=5, n_bars=4)  # too few pairs to tell: kept
    assert read_bars(sparse, bar_minutes=1).frame.height == 3 * 4


HEADER = "symbol,timestamp,open,high,low,close,volume\n"


@pytest.mark.parametrize(
    "name, content, rule, detail",
    [
        ("empty.csv", b"", "empty file", "no header and no rows"),
        ("latin1.csv", (HEADER + "S\xe9,2024-03-01 09:31,1,1,1,1,1\n").encode("latin-1"), "not UTF-8 text", "byte 0xe9 on line 2"),
        ("ragged.csv", (HEADER + "A,2024-03-01 09:31,1,1,1,1,1,1\n").encode(), "unreadable file", "more fields"),
        ("corrupt.parquet", b"PAR1 not a parquet file", "unreadable file", "ComputeError"),
        ("epoch.csv", (HEADER + "A,1709285460,1,1,1,1,1\n").encode(), "unparseable timestamp", "epoch numbers are not read"),
        ("words.csv", (HEADER + "A,yesterday,1,1,1,1,1\n").encode(), "unparseable timestamp", "timestamp_format"),
        ("dates.csv", (HEADER + "A,2024-03-04,1,1,1,1,1\n").encode(), "unparseable timestamp", "not ISO 8601"),
        ("us.csv", (HEADER + "A,03/04/2024 09:31,1,1,1,1,1\n").encode(), "unparseable timestamp", "not ISO 8601"),
        ("mixed.csv", (HEADER + "A,2024-03-04 09:31,1,1,1,1,1\nA,2024-03-04T09:32+08:00,1,1,1,1,1\n").encode(),
         "unparseable timestamp", "1 value(s) do not match the format of the first timestamp"),
        ("text.csv", (HEADER + "A,2024-03-01 09:31,1,1,1,1.5e,1\n").encode(), "not a number (close)", "close = '1.5e'"),
        ("short.csv", (HEADER + "A,2024-03-01 09:31,1,1,1,1\n").encode(), "NaN or missing volume", "1 row(s)"),
        ("utf16.csv", (HEADER + "A,2024-03-01 09:31,1,1,1,1,1\n").encode("utf-16"), "not UTF-8 text", "UTF-16"),
        ("cut.csv.gz", gzip.compress((HEADER + "A,2024-03-01 09:31,1,1,1,1,1\n").encode())[:30], "unreadable file",
         "EOFError"),
        ("noise.csv.gz", b"\x1f\x8b" + bytes(range(100)), "unreadable file", "BadGzipFile"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else "",
)
def test_read_bars_unreadable_input_is_a_data_error(tmp_path, name, content, rule, detail):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        read_bars(path, bar_minutes=1)
    assert error.value.rule == rule and error.value.source == str(path) and detail in str(error.value)


def test_a_long_gzip_cut_after_its_first_rows_is_a_data_error(tmp_path):
    """The first rows decompress; polars meets the cut later, and the error still names the file."""
    rng = np.random.default_rng(0)
    rows = [f"A,2024-03-01 09:31,{p:.6f},{p:.6f},{p:.6f},{p:.6f},1\n" for p in rng.uniform(1, 2, 50_000)]
    data = gzip.compress((HEADER + "".join(rows)).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as error:
        read_bars(path, bar_minutes=1)
    assert error.value.rule == "unreadable file" and error.value.source == str(path)


def test_read_bars_day_and_month_order_comes_from_timestamp_format(tmp_path):
    path = tmp_path / "us.csv"
    path.write_text(HEADER + "A,03/04/2024 09:31,1,1,1,1,1\n")
    table = read_bars(path, bar_minutes=1, timestamp_format="%m/%d/%Y %H:%M")
    assert table.frame["timestamp"].to_list() == [datetime(2024, 3, 4, 9, 31)]


def test_read_bars_parquet_columns_of_the_wrong_kind(tmp_path):
    path = tmp_path / "bars.parquet"
    frame = bars().drop("price").with_columns(pl.col("close").cast(pl.String))
    frame.with_columns(pl.when(pl.int_range(pl.len()) == 4).then(pl.lit("n/a")).otherwise("close").alias("close")).write_parquet(path)
    with pytest.raises(DataError, match="not a number") as error:
        read_bars(path, bar_minutes=1)
    assert "symbol A" in str(error.value) and "at 2024-03-01 09:32:00" in str(error.value) and "'n/a'" in str(error.value)
    frame.with_columns(pl.col("timestamp").dt.epoch("s")).write_parquet(path)
    with pytest.raises(DataError, match="timestamp is not a date-time") as error:
        read_bars(path, bar_minutes=1)
    assert "Int64" in str(error.value) and str(path) in str(error.value)


def test_read_bars_invalid_amount_names_the_file(vendor_csv):
    vendor_csv.write_text(VENDOR_CSV.replace(";2020.0", ";-2020.0"))
    with pytest.raises(DataError, match="negative amount") as error:
        read_bars(vendor_csv, columns=MAPPING, bar_minutes=1, separator=";", volume_multiplier=100, amount="Turnover")
    assert str(vendor_csv) in str(error.value) and "symbol X" in str(error.value) and "amount = -2020.0" in str(error.value)


def test_read_bars_symbol_argument_and_several_files(tmp_path):
    first, second = tmp_path / "day1.csv", tmp_path / "day2.csv.gz"
    bars().filter(pl.col("symbol") == "A").drop("symbol", "price").write_csv(first)
    later = bars().filter(pl.col("symbol") == "A").drop("symbol", "price")
    second.write_bytes(gzip.compress(later.with_columns(pl.col("timestamp").dt.offset_by("1d")).write_csv().encode()))
    table = read_bars([first, second], symbol="A", bar_minutes=1)
    assert table.frame.height == 6 and set(table.frame["symbol"]) == {"A"}
    assert table.frame["timestamp"].is_sorted()


def test_read_bars_missing_mapped_column_names_it_and_the_file(vendor_csv):
    with pytest.raises(DataError, match="missing column") as error:
        read_bars(vendor_csv, columns=MAPPING | {"close": "Last"}, bar_minutes=1, separator=";")
    assert "'Last' (for close)" in str(error.value) and str(vendor_csv) in str(error.value)


def test_read_bars_unparseable_timestamp_names_the_value(vendor_csv):
    with pytest.raises(DataError, match="unparseable timestamp") as error:
        read_bars(vendor_csv, columns=MAPPING, bar_minutes=1, separator=";", timestamp_format="%Y%m%d %H%M%S")
    message = str(error.value)
    assert str(vendor_csv) in message and "symbol X" in message and "at 2024-03-01 09:31" in message


def test_read_bars_rule_errors_name_the_file_of_the_row(tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    bars().filter(pl.col("symbol") == "B").write_csv(good)
    with_value("volume", 4, -1.0).filter(pl.col("symbol") == "A").write_csv(bad)
    with pytest.raises(DataError) as error:
        read_bars([good, bad], bar_minutes=1)
    assert error.value.rule == "negative volume" and error.value.source == str(bad)
    assert "symbol A" in str(error.value) and "at 2024-03-01 09:32:00" in str(error.value)


def test_read_bars_rejects_unknown_names_types_and_settings(tmp_path):
    with pytest.raises(ValueError, match="unknown canonical names"):
        read_bars(tmp_path / "x.csv", columns={"vwap": "VWAP"}, bar_minutes=1)
    with pytest.raises(ValueError, match="unsupported file type"):
        read_bars(tmp_path / "x.xlsx", bar_minutes=1)
    with pytest.raises(ValueError, match="time_zone"):
        read_bars(tmp_path / "x.csv", bar_minutes=1, time_zone="+08:00")
    with pytest.raises(ValueError, match="volume_multiplier"):
        read_bars(tmp_path / "x.csv", bar_minutes=1, volume_multiplier=0.0)


def test_read_bars_session_is_checked_and_kept(tmp_path):
    path = tmp_path / "bars.csv"
    bars().drop("price").write_csv(path)
    session = bar_times((time(9, 31), time(9, 35)), bar_minutes=1)
    assert read_bars(path, bar_minutes=1, session=session).session == session
    with pytest.raises(DataError, match="bar outside the session") as error:
        read_bars(path, bar_minutes=1, session=session[:2])
    assert error.value.source == str(path) and "symbol A" in str(error.value)


# --------------------------------------------------------------------------------------------------------------
# Blank lines: an error naming the file and the line, never a skipped or misread row
# --------------------------------------------------------------------------------------------------------------

HEADER_LINE = HEADER.rstrip("\n")
ROWS = ["A,2024-03-01 09:31,1,1,1,1,1", "A,2024-03-01 09:32,1,1,1,1,1", "A,2024-03-01 09:33,1,1,1,1,1"]
BLANK_LINES = {  # the lines of a file, and the number of its first blank line
    "between rows": ([HEADER_LINE, ROWS[0], "", *ROWS[1:]], 3),
    "empty fields": ([HEADER_LINE, ROWS[0], ",,,,,,", *ROWS[1:]], 3),
    "spaces": ([HEADER_LINE, *ROWS[:2], " \t ", ROWS[2]], 4),
    "after the header": ([HEADER_LINE, "", *ROWS], 2),
    "at the end": ([HEADER_LINE, *ROWS, ""], 5),  # the file ends with "\n\n"
    "before the header": (["", HEADER_LINE, *ROWS], 1),  # polars skipped it
}


def write_lines(path: Path, lines: list[str], newline: str = "\n") -> Path:
    """``lines`` as a text file (gzipped for ``.gz``), each ended by ``newline``."""
    data = "".join(line + newline for line in lines).encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
@pytest.mark.parametrize("where", sorted(BLANK_LINES))
def test_a_blank_line_is_an_error_naming_the_file_and_the_line(tmp_path, where, suffix, newline):
    """A blank line, or one of empty fields or spaces, would be read as a row of nulls (or skipped, before the
    header): it is an error naming the file and its 1-based line number."""
    lines, number = BLANK_LINES[where]
    path = write_lines(tmp_path / f"bars{suffix}", lines, newline)
    with pytest.raises(DataError) as error:
        read_bars(path, bar_minutes=1)
    assert error.value.rule == "blank line" and error.value.source == str(path)
    assert f"line {number} holds no value" in str(error.value)
    clean = write_lines(tmp_path / f"clean{suffix}", [line for line in lines if line.strip(" \t,")], newline)
    assert read_bars(clean, bar_minutes=1).frame.height == 3  # the same file without it reads


def test_a_blank_line_is_found_in_the_file_that_has_it_with_any_separator_and_no_header(tmp_path):
    good = write_lines(tmp_path / "day1.csv", ["A;2024-03-01 09:31;1;1;1;1;1"])
    rows = ["A;2024-03-02 09:31;1;1;1;1;1", ";;;;;;", "A;2024-03-02 09:32;1;1;1;1;1"]
    bad = write_lines(tmp_path / "day2.csv.gz", rows)
    names = pl.read_csv(good, has_header=False, separator=";").columns  # polars' names for a file without a header
    columns = dict(zip(("symbol", "timestamp", "open", "high", "low", "close", "volume"), names))
    with pytest.raises(DataError, match="blank line") as error:
        read_bars([good, bad], columns=columns, bar_minutes=1, separator=";", has_header=False)
    assert error.value.source == str(bad) and "line 2 " in str(error.value)


def test_a_row_with_only_its_symbol_is_not_a_blank_line(tmp_path):
    """Values missing, not a blank line: validation's error, which names the symbol."""
    path = write_lines(tmp_path / "bars.csv", [HEADER_LINE, ROWS[0], "A,,,,,,"])
    with pytest.raises(DataError, match="null symbol or timestamp") as error:
        read_bars(path, bar_minutes=1)
    assert error.value.source == str(path) and "symbol A" in str(error.value)


PRESET_FIXTURES = Path(__file__).parent / "data"


PRESET_FILES = {  # preset: (its fixture folder, the file given a blank line)
    "ashare-1min": ("ashare-1min-2024", "stocks_1min_20240304.csv"),
    "ashare-etf-5min": ("ashare-etf-5min", "510300.min.csv"),
    "ashare-2018": ("ashare-samples-2018", "candle_201801_000001SZ_1min.csv"),
    "binance-btc-1min": ("crypto-btc-1min-2023", "binanceus_BTCUSDT_1m_20230301_20230321.csv"),
    "spy-2011": ("us-spy-1min-2011", "nt-spy-minute-2011.csv"),  # once dropped, counted as an extended-hours bar
    "sse-index-1min": ("sse-index-1min-2015-2019", "000001.XSHG_1min.csv"),  # zipped
}


@pytest.mark.parametrize(("preset", "at"), [(preset, at) for preset in PRESET_FILES for at in ("between rows", "at the end")])
def test_a_blank_line_in_a_preset_file_is_an_error_naming_the_file_and_the_line(tmp_path, preset, at):
    """The preset loaders share read_bars' steps (readers.vwap, regular_session, finish): a blank line is an error
    naming the file (a zip's member) and the line, never a dropped or counted bar."""
    folder, name = PRESET_FILES[preset]
    copy = tmp_path / folder
    shutil.copytree(PRESET_FIXTURES / folder, copy)
    path = copy / name
    lines = path.read_text().splitlines()
    line = 3 if at == "between rows" else len(lines) + 1
    lines.insert(line - 1, "")
    write_lines(path, lines)
    if name.endswith(".XSHG_1min.csv"):
        with zipfile.ZipFile(copy / "000001.XSHG_1min.zip", "w") as archive:
            archive.write(path, path.name)
        path.unlink()
        path = copy / "000001.XSHG_1min.zip" / name
    with pytest.raises(DataError, match="blank line") as error:
        load_preset(preset, copy)
    assert error.value.source == str(path) and f"line {line} holds no value" in str(error.value), str(error.value)


def test_a_bar_without_a_timestamp_is_not_counted_as_extended_hours(tmp_path):
    """regular_session keeps what it cannot place for validation to reject (it once dropped it as extended hours)."""
    copy = tmp_path / "spy"
    shutil.copytree(PRESET_FIXTURES / "us-spy-1min-2011", copy)
    path = copy / "nt-spy-minute-2011.csv"
    lines = path.read_text().splitlines()
    write_lines(path, [lines[0], "not a time;127.05;127.08;127.02;127.05;1997071", *lines[1:]])
    with pytest.raises(DataError, match="null symbol or timestamp") as error:
        load_preset("spy-2011", copy)
    assert error.value.source == str(path)
    assert load_preset("spy-2011", PRESET_FIXTURES / "us-spy-1min-2011").report[EXTENDED_HOURS] == 1


def test_a_line_of_empty_fields_in_a_semicolon_file_is_a_blank_line(tmp_path):
    """spy-2011's fields are separated by ';': a line of only ';' is blank there, named with its file and line."""
    copy = tmp_path / "spy"
    shutil.copytree(PRESET_FIXTURES / "us-spy-1min-2011", copy)
    path = copy / "nt-spy-minute-2011.csv"
    lines = path.read_text().splitlines()
    write_lines(path, [*lines[:2], ";;;;;", *lines[2:]])
    with pytest.raises(DataError, match="blank line") as error:
        load_preset("spy-2011", copy)
    assert error.value.source == str(path) and "line 3 holds no value" in str(error.value), str(error.value)
