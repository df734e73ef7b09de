"""The canonical bar schema: one test per validate() rule, and the generic read_bars() reader."""

from __future__ import annotations

import gzip
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from order_exec_gym.data.readers import UNTRADED, VWAP_CLIPPED, read_bars
from order_exec_gym.data.schema import COLUMNS, BarTable, bar_day, validate
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
    frame.with_columns(pl.col("timestamp").dt.replace_time_zone("Asia/Shanghai")).drop("price").write_parquet(path)
    table = read_bars(path, bar_minutes=1)  # canonical names: no mapping; the zone is dropped, wall clock kept
    assert table.frame.equals(frame.with_columns(pl.col("close").alias("price")))
    assert table.report == {UNTRADED: 0}


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


def test_read_bars_rejects_unknown_names_and_types(tmp_path):
    with pytest.raises(ValueError, match="unknown canonical names"):
        read_bars(tmp_path / "x.csv", columns={"vwap": "VWAP"}, bar_minutes=1)
    with pytest.raises(ValueError, match="unsupported file type"):
        read_bars(tmp_path / "x.xlsx", bar_minutes=1)
