"""Presets: every preset on the real files (skipped without ../shared/data) and on tiny crafted files.

The crafted files in ``tests/data/<folder>`` mirror the vendor formats; zips are built from them in tmp_path.
"""

from __future__ import annotations

import shutil
import zipfile
from datetime import date, datetime, time
from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.presets import PRESETS, load_preset, preset_path
from order_exec_gym.data.readers import (
    CLOSING_PRINT,
    DATA_ENV_VAR,
    EXTENDED_HOURS,
    UNTRADED,
    VWAP_CLIPPED,
    shared_data_dir,
)
from order_exec_gym.data.schema import BarTable
from order_exec_gym.errors import DataError

FIXTURES = Path(__file__).parent / "data"
FILLED = "missing bars filled (previous close, zero volume)"


def dropped(bars: int) -> str:
    """The report key of the episodes dropped for having fewer than 90% of a full session's ``bars``."""
    return f"episodes dropped: fewer than 90% of a full session's {bars} bars"


def real_folder(name: str) -> Path:
    """The real data folder of preset ``name``; skips the test when it is absent."""
    folder = PRESETS[name].folder
    root = shared_data_dir()
    if root is None or not (root / folder).is_dir():
        pytest.skip(f"../shared/data/{folder} not found: real-data test needs the shared data folder")
    return root / folder


def per_day(bars: BarTable) -> pl.DataFrame:
    """One row per symbol-day (the date of the bar start): bar count, volume, first and last bar end time."""
    day = (pl.col("timestamp") - pl.duration(minutes=bars.bar_minutes)).dt.date()
    return bars.frame.group_by("symbol", day.alias("day"), maintain_order=True).agg(
        pl.len().alias("bars"),
        pl.col("volume").sum(),
        pl.col("timestamp").first().dt.time().alias("first"),
        pl.col("timestamp").last().dt.time().alias("last"),
    )


def zip_fixture(csv: Path, target: Path) -> None:
    """Zip the crafted CSV ``csv`` into ``target`` (a vendor zip holding one CSV)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        archive.write(csv, csv.name)


def rows(bars: BarTable, *columns: str) -> list[tuple]:
    """The table's rows as tuples of the given columns."""
    return bars.frame.select(columns).rows()


# --------------------------------------------------------------------------------------------------------------
# Registry and resolution
# --------------------------------------------------------------------------------------------------------------


def ashare_with_line(tmp_path: Path, line: str) -> tuple[Path, Path]:
    """A copy of the A-share fixture folder with ``line`` appended to its 2024-03-04 file: ``(folder, file)``."""
    folder = tmp_path / "ashare"
    shutil.copytree(FIXTURES / "ashare-1min-2024", folder)
    bad = folder / "stocks_1min_20240304.csv"
    bad.write_text(bad.read_text() + line + "\n")
    return folder, bad


def test_every_shared_folder_has_a_preset():
    root = shared_data_dir()
    if root is None:
        pytest.skip("../shared/data not found: real-data test needs the shared data folder")
    folders = {path.name for path in root.iterdir() if path.is_dir()}
    assert folders <= {preset.folder for preset in PRESETS.values()}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_splits_are_ordered_date_ranges(name):
    preset = PRESETS[name]
    assert preset.name == name and preset.price_rule and preset.description
    assert list(preset.splits) == ["train", "valid", "test"]
    ranges = [tuple(date.fromisoformat(day) for day in preset.splits[split]) for split in preset.splits]
    for (first, last), (next_first, _) in pairwise(ranges):
        assert first <= last < next_first
    assert ranges[-1][0] <= ranges[-1][1]


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError, match="ashare-1min"):
        load_preset("nasdaq-itch")


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_preset("spy-2011", tmp_path / "nowhere")


def test_shared_data_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    assert shared_data_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match="us-spy-1min-2011"):
        load_preset("spy-2011")
    (tmp_path / "us-spy-1min-2011").mkdir()
    assert preset_path(PRESETS["spy-2011"]) == tmp_path / "us-spy-1min-2011"
    assert preset_path(PRESETS["spy-2011"], FIXTURES) == FIXTURES


def test_unknown_symbols_are_an_error():
    with pytest.raises(DataError, match="unknown symbols"):
        load_preset("binance-btc-1min", FIXTURES / "crypto-btc-1min-2023", symbols=["ETHUSDT"])
    with pytest.raises(DataError, match="unknown symbols"):
        load_preset("spy-2011", FIXTURES / "us-spy-1min-2011", symbols=["QQQ"])


def test_a_file_not_in_the_preset_format_is_a_data_error(tmp_path):
    folder, _ = ashare_with_line(tmp_path, "000001.SZ,2024-03-04 09:32:00,10.45,ten,10.46,10.44,10.0")
    with pytest.raises(DataError, match="unreadable file") as error:
        load_preset("ashare-1min", folder)
    assert str(folder) in str(error.value) and "`ten`" in str(error.value)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_has_a_session_calendar(name, tmp_path):
    """Fixture bars lie on their preset's calendar (checked by BarTable); lengths match the descriptions."""
    folder = FIXTURES / PRESETS[name].folder
    if name == "sse-index-1min":
        zip_fixture(folder / "000001.XSHG_1min.csv", tmp_path / "000001.XSHG_1min.zip")
        folder = tmp_path
    elif name == "lean-us-minute":
        for csv in (folder / "minute").glob("*/*.csv"):
            zip_fixture(csv, tmp_path / "minute" / csv.parent.name / f"{csv.name[:8]}_trade.zip")
        folder = tmp_path
    bars = load_preset(name, folder)
    expected = {"ashare-etf-5min": 48, "lean-us-minute": 390, "spy-2011": 390, "binance-btc-1min": 1440}
    assert len(bars.session) == expected.get(name, 240)


def test_errors_name_the_file_symbol_and_timestamp(tmp_path):
    folder, bad = ashare_with_line(tmp_path, "000001.SZ,2024-03-04 09:32:00,10.45,10.50,10.46,10.44,10.0")
    with pytest.raises(DataError, match="close outside") as error:
        load_preset("ashare-1min", folder)
    assert str(bad) in str(error.value)
    assert "000001.SZ" in str(error.value) and "2024-03-04 09:32:00" in str(error.value)


# --------------------------------------------------------------------------------------------------------------
# ashare-1min
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ashare_all() -> BarTable:
    return load_preset("ashare-1min", real_folder("ashare-1min"))


def test_ashare_1min_real_all_files(ashare_all):
    bars = ashare_all
    assert bars.frame.height == 5_215_368 and bars.n_symbols == 3_106
    assert bars.report == {
        "index files not loaded (not tradable)": 6,
        "09:30 opening-auction bars folded into the 09:31 bar": 21_732,
        "09:30 opening-auction bars without a 09:31 bar relabelled 09:31": 0,
        "bars with open outside [low, high]: high/low widened to include it": 14,
        UNTRADED: 0,
    }
    days = per_day(bars)
    assert days.height == 21_732
    assert days["day"].unique().sort().to_list() == [date(2024, 3, d) for d in (1, 4, 7, 8, 11, 12, 13)]
    assert days.filter(pl.col("bars") == 240).height == 21_547 and days["bars"].max() == 240
    assert set(days["first"]) == {time(9, 31)} and set(days["last"]) == {time(15, 0)}
    clock = bars.frame["timestamp"].dt.time()
    morning, afternoon = clock.is_between(time(9, 31), time(11, 30)), clock.is_between(time(13, 1), time(15, 0))
    assert (morning | afternoon).all()
    assert (bars.frame["open"] <= bars.frame["high"]).all() and (bars.frame["open"] >= bars.frame["low"]).all()


def test_ashare_1min_real_episodes(ashare_all):
    dataset = MarketDataset.from_bars(ashare_all, splits=PRESETS["ashare-1min"].splits)
    assert len(dataset) == 21_732 and set(dataset.lengths) == {240}
    assert dataset.report == ashare_all.report | {FILLED: 312}  # 185 stock-days miss 312 minutes; none below 90%


def test_ashare_1min_real_symbols_in_shares():
    bars = load_preset("ashare-1min", real_folder("ashare-1min"), symbols=["000001.SZ", "600519.SH"])
    days = per_day(bars).filter(pl.col("day") == date(2024, 3, 1))
    volume = dict(days.select("symbol", "volume").rows())
    assert volume == {"000001.SZ": 182_810_400.0, "600519.SH": 2_686_600.0}  # 1.83 M and 26,866 lots
    first = bars.frame.row(0, named=True)  # 09:30 auction (10.59, 28,476 lots) folded into 09:31
    assert first["timestamp"] == datetime(2024, 3, 1, 9, 31)
    assert (first["open"], first["high"], first["low"], first["close"]) == (10.59, 10.59, 10.54, 10.56)
    assert first["volume"] == (28_476 + 58_499) * 100
    assert (bars.frame["price"] == bars.frame["close"]).all()


def test_ashare_1min_fixture():
    bars = load_preset("ashare-1min", FIXTURES / "ashare-1min-2024")
    assert bars.report == {
        "index files not loaded (not tradable)": 1,
        "09:30 opening-auction bars folded into the 09:31 bar": 3,  # 600000.SH's too, before its day is dropped
        "09:30 opening-auction bars without a 09:31 bar relabelled 09:31": 1,
        "bars with open outside [low, high]: high/low widened to include it": 1,
        UNTRADED: 1,  # 600000.SH never traded
    }
    assert rows(bars, "symbol", "timestamp", "open", "high", "low", "close", "volume", "price") == [
        # auction 10.60 x 28,476 lots folded: auction open, high over both bars, volumes added, 09:31 close
        ("000001.SZ", datetime(2024, 3, 1, 9, 31), 10.60, 10.60, 10.54, 10.56, 8_697_500.0, 10.56),
        ("000001.SZ", datetime(2024, 3, 1, 9, 32), 10.56, 10.56, 10.55, 10.55, 1_285_400.0, 10.55),
        # 15:00 bar with open 9.99 below low 10.0: low widened
        ("000001.SZ", datetime(2024, 3, 1, 15, 0), 9.99, 10.0, 9.99, 10.0, 308_900.0, 10.0),
        ("000001.SZ", datetime(2024, 3, 4, 9, 31), 10.40, 10.46, 10.40, 10.45, 300_000.0, 10.45),
        # auction bar without a 09:31 bar becomes the 09:31 bar
        ("000002.SZ", datetime(2024, 3, 1, 9, 31), 9.99, 9.99, 9.99, 9.99, 10_000.0, 9.99),
        ("000002.SZ", datetime(2024, 3, 1, 9, 32), 9.98, 9.98, 9.97, 9.97, 1_000.0, 9.97),
    ]


# --------------------------------------------------------------------------------------------------------------
# ashare-etf-5min
# --------------------------------------------------------------------------------------------------------------


def test_ashare_etf_5min_real():
    bars = load_preset("ashare-etf-5min", real_folder("ashare-etf-5min"))
    assert bars.frame.height == 812_496 and bars.n_symbols == 42
    assert bars.report == {
        "index series not loaded (399006, 999999; not tradable)": 2,
        "bars with vol < 1 (denormal placeholder) read as volume 0": 7_450,
        VWAP_CLIPPED: 12_462,
        UNTRADED: 2,
    }
    days = per_day(bars)
    assert set(days["bars"]) == {48}
    assert set(days["first"]) == {time(9, 35)} and set(days["last"]) == {time(15, 0)}
    assert days["day"].min().isoformat() == PRESETS["ashare-etf-5min"].splits["train"][0]
    frame = bars.frame
    assert frame.select(pl.col("price").is_between(pl.col("low"), pl.col("high")).all()).item()
    untraded = frame.filter(pl.col("volume") == 0)
    assert untraded.height > 0 and (untraded["price"] == untraded["close"]).all()
    assert frame.filter(pl.col("volume") > 0)["volume"].min() >= 1


def test_ashare_etf_5min_fixture():
    bars = load_preset("ashare-etf-5min", FIXTURES / "ashare-etf-5min")
    assert bars.report == {
        "index series not loaded (399006, 999999; not tradable)": 1,
        "bars with vol < 1 (denormal placeholder) read as volume 0": 3,
        VWAP_CLIPPED: 1,
        UNTRADED: 1,  # 2022-01-05: only denormal bars
    }
    assert rows(bars, "symbol", "timestamp", "volume", "price") == [
        ("510300", datetime(2022, 1, 4, 9, 35), 1_000_000.0, 4.905),  # amount / vol
        ("510300", datetime(2022, 1, 4, 9, 40), 0.0, 4.91),  # vol = 5.9e-39: no trade, price = close
        ("510300", datetime(2022, 1, 4, 9, 45), 100.0, 4.92),  # 500 / 100 = 5.0 clipped to the high
        ("510300", datetime(2022, 1, 4, 9, 50), 2_000.0, 4.925),
    ]


# --------------------------------------------------------------------------------------------------------------
# ashare-2018
# --------------------------------------------------------------------------------------------------------------


def test_ashare_2018_real():
    bars = load_preset("ashare-2018", real_folder("ashare-2018"))
    assert bars.frame.height == 5_040 and bars.report == {VWAP_CLIPPED: 126, UNTRADED: 0}
    days = per_day(bars)
    assert days.height == 21 and set(days["bars"]) == {240}
    assert set(days["first"]) == {time(9, 31)} and set(days["last"]) == {time(15, 0)}
    frame = bars.frame
    assert set(frame["symbol"]) == {"000001.SZ"}
    assert frame["close"].is_between(12.5, 15.5).all()  # ~13.4 CNY in early January 2018
    auction_gap = frame.filter(pl.col("timestamp").dt.time() == time(14, 59))
    assert (auction_gap["volume"] == 0).all() and (auction_gap["price"] == auction_gap["close"]).all()
    assert frame.select(pl.col("price").is_between(pl.col("low"), pl.col("high")).all()).item()


def test_ashare_2018_fixture():
    bars = load_preset("ashare-2018", FIXTURES / "ashare-samples-2018")
    assert bars.report == {VWAP_CLIPPED: 0, UNTRADED: 0}
    assert rows(bars, "symbol", "timestamp", "volume", "price") == [
        ("000001.SZ", datetime(2018, 1, 2, 9, 31), 2_000_000.0, 13.37),  # 26,740,000 / 2,000,000
        ("000001.SZ", datetime(2018, 1, 2, 14, 59), 0.0, 13.69),  # no trade: the close
        ("000001.SZ", datetime(2018, 1, 2, 15, 0), 96_000.0, 13.7),  # 1,315,200 / 96,000
    ]


# --------------------------------------------------------------------------------------------------------------
# sse-index-1min
# --------------------------------------------------------------------------------------------------------------


def test_sse_index_1min_real():
    bars = load_preset("sse-index-1min", real_folder("sse-index-1min"))
    assert bars.frame.height == 239_550 and bars.report == {UNTRADED: 0}
    days = per_day(bars)
    assert days.height == 1_000 and days.filter(pl.col("bars") == 240).height == 877
    halts = days.filter(pl.col("day").is_in([date(2016, 1, 4), date(2016, 1, 7)])).sort("day")
    assert halts.select("bars", "last").rows() == [(142, time(13, 35)), (17, time(10, 0))]
    assert set(days["first"]) == {time(9, 31)}
    assert (bars.frame["price"] == bars.frame["close"]).all()


def test_sse_index_1min_real_episodes_on_the_calendar():
    """One instrument: the calendar finds the 14:59 bars missing on 117 days and the halts."""
    dataset = MarketDataset.from_preset("sse-index-1min", real_folder("sse-index-1min"), cache=False)
    assert len(dataset) == 998 and set(dataset.lengths) == {240}
    assert dataset.report == {UNTRADED: 0, dropped(240): 2, FILLED: 117 + 2 * 2 + 2 * 4}
    assert not np.isin(dataset.dates, np.array(["2016-01-04", "2016-01-07"], dtype="datetime64[D]")).any()
    halts = MarketDataset.from_preset("sse-index-1min", real_folder("sse-index-1min"), cache=False, min_coverage=0.05)
    assert len(halts) == 1_000 and halts.report[FILLED] == 129 + (240 - 142) + (240 - 17)


def test_sse_index_1min_fixture(tmp_path):
    zip_fixture(FIXTURES / "sse-index-1min-2015-2019" / "000001.XSHG_1min.csv", tmp_path / "000001.XSHG_1min.zip")
    bars = load_preset("sse-index-1min", tmp_path)
    assert rows(bars, "symbol", "timestamp", "volume", "price") == [
        ("000001.XSHG", datetime(2016, 1, 7, 9, 31), 1_547_416_600.0, 3288.45),
        ("000001.XSHG", datetime(2016, 1, 7, 10, 0), 280_000_000.0, 3115.89),  # halted day kept as it is
        ("000001.XSHG", datetime(2016, 1, 8, 9, 31), 2_000_000_000.0, 3203.21),
    ]


# --------------------------------------------------------------------------------------------------------------
# lean-us-minute
# --------------------------------------------------------------------------------------------------------------


def test_lean_us_minute_real():
    bars = load_preset("lean-us-minute", real_folder("lean-us-minute"))
    assert bars.frame.height == 15_292 and bars.n_symbols == 10
    assert bars.report == {CLOSING_PRINT: 33, EXTENDED_HOURS: 5_933, UNTRADED: 0}
    days = per_day(bars)
    assert days.height == 41 and days.filter(pl.col("bars") == 390).height == 32
    assert set(days["first"]) == {time(9, 31)} and days["last"].max() == time(16, 0)
    spy = bars.frame.filter(pl.col("symbol") == "SPY", pl.col("timestamp").dt.date() == date(2013, 10, 7))
    assert spy.height == 390 and spy["close"].is_between(165.0, 172.0).all()  # dollars, not deci-cents
    half_day = days.filter(pl.col("symbol") == "GOOG", pl.col("day") == date(2015, 12, 24))
    assert half_day.select("bars", "last").rows() == [(224, time(15, 45))]  # late prints after the 13:00 close


def test_lean_us_minute_real_episodes():
    """Partial sessions of the sample (the GOOG half day, a 6-bar day, two thin days) are dropped and counted."""
    dataset = MarketDataset.from_preset("lean-us-minute", real_folder("lean-us-minute"), cache=False)
    assert len(dataset) == 37 and set(dataset.lengths) == {390}
    assert dataset.report[dropped(390)] == 4 and dataset.report[FILLED] == 14


def test_lean_us_minute_fixture(tmp_path):
    for csv in (FIXTURES / "us-equity-minute-lean" / "minute").glob("*/*.csv"):
        zip_fixture(csv, tmp_path / "minute" / csv.parent.name / f"{csv.name[:8]}_trade.zip")
    (tmp_path / "minute" / "spy" / "20131007_quote.zip").write_bytes(b"quote bars are not read")
    bars = load_preset("lean-us-minute", tmp_path)
    assert bars.report == {CLOSING_PRINT: 1, EXTENDED_HOURS: 1, UNTRADED: 0}  # 16:01 folded into 16:00, 04:01 dropped
    assert rows(bars, "symbol", "timestamp", "open", "high", "low", "close", "volume") == [
        ("AIG", datetime(2013, 10, 7, 9, 32), 48.96, 49.11, 48.87, 48.90, 46_626.0),
        ("SPY", datetime(2013, 10, 7, 9, 31), 167.44, 167.48, 167.39, 167.40, 1_500_000.0),
        ("SPY", datetime(2013, 10, 7, 16, 0), 167.30, 167.35, 167.29, 167.33, 2_100_000.0),
    ]
    assert load_preset("lean-us-minute", tmp_path, symbols=["AIG"]).n_symbols == 1


# --------------------------------------------------------------------------------------------------------------
# spy-2011
# --------------------------------------------------------------------------------------------------------------


def test_spy_2011_real():
    bars = load_preset("spy-2011", real_folder("spy-2011"))
    assert bars.frame.height == 16_770 and bars.report == {CLOSING_PRINT: 43, EXTENDED_HOURS: 14_944, UNTRADED: 0}
    days = per_day(bars)
    assert days.height == 43 and set(days["bars"]) == {390}
    assert set(days["first"]) == {time(9, 31)} and set(days["last"]) == {time(16, 0)}
    assert date(2011, 3, 14) in days["day"].to_list()  # first session after the DST switch, still 09:31..16:00
    # Bar END labels: the opening-cross volume spike sits in the 09:31 bar.
    opening = bars.frame.group_by(pl.col("timestamp").dt.date()).agg(
        (pl.col("volume").first() / pl.col("volume").median()).alias("ratio")
    )
    assert opening["ratio"].median() > 2


def test_spy_2011_fixture():
    bars = load_preset("spy-2011", FIXTURES / "us-spy-1min-2011")
    assert bars.report == {CLOSING_PRINT: 1, EXTENDED_HOURS: 1, UNTRADED: 0}  # 16:01 folded, 09:30 dropped
    assert rows(bars, "symbol", "timestamp", "close") == [
        ("SPY", datetime(2011, 1, 3, 9, 31), 126.75),  # 14:31 UTC, EST = UTC-5
        ("SPY", datetime(2011, 1, 3, 16, 0), 127.05),
        ("SPY", datetime(2011, 3, 11, 9, 31), 129.15),  # before the 2011-03-13 switch
        ("SPY", datetime(2011, 3, 14, 9, 31), 130.05),  # 13:31 UTC, EDT = UTC-4
        ("SPY", datetime(2011, 3, 14, 16, 0), 130.52),
    ]
    closing = bars.frame.filter(pl.col("timestamp") == datetime(2011, 1, 3, 16, 0)).row(0, named=True)
    assert (closing["high"], closing["low"], closing["volume"]) == (127.08, 127.02, 1_997_071 + 2_540_924)


# --------------------------------------------------------------------------------------------------------------
# binance-btc-1min
# --------------------------------------------------------------------------------------------------------------


def test_binance_btc_1min_real():
    bars = load_preset("binance-btc-1min", real_folder("binance-btc-1min"))
    assert bars.frame.height == 90_720 and bars.report == {UNTRADED: 0}
    assert sorted(bars.frame["symbol"].unique()) == ["BTCUSD", "BTCUSDC", "BTCUSDT"]
    days = per_day(bars)
    assert days.height == 63 and set(days["bars"]) == {1_440}
    assert set(days["first"]) == {time(0, 1)} and set(days["last"]) == {time(0, 0)}
    assert days["day"].max() == date(2023, 3, 21)
    assert bars.frame["timestamp"].max() == datetime(2023, 3, 22, 0, 0)
    zero = bars.frame.filter(pl.col("symbol") == "BTCUSDC", pl.col("volume") == 0)
    assert zero.height == 12_971 and (zero["price"] == zero["close"]).all()


def test_binance_btc_1min_real_episodes_end_with_the_midnight_bar():
    bars = load_preset("binance-btc-1min", real_folder("binance-btc-1min"), symbols=["BTCUSDT"])
    dataset = MarketDataset.from_bars(bars)
    assert len(dataset) == 21 and set(dataset.lengths) == {1_440}
    close = bars.frame.filter(pl.col("timestamp").is_in([datetime(2023, 3, 1, 0, 1), datetime(2023, 3, 2, 0, 0)]))["close"]
    np.testing.assert_array_equal(dataset.bars["close"][0, [0, -1]], close.cast(pl.Float32).to_numpy())


def test_binance_btc_1min_fixture():
    bars = load_preset("binance-btc-1min", FIXTURES / "crypto-btc-1min-2023")
    assert bars.report == {UNTRADED: 1}  # BTCUSDC never traded on 2023-03-02
    assert rows(bars, "symbol", "timestamp", "volume", "price") == [
        ("BTCUSDT", datetime(2023, 3, 1, 23, 59), 1.5, 23605.0),
        ("BTCUSDT", datetime(2023, 3, 2, 0, 0), 0.25, 23615.0),  # ends at midnight, belongs to 2023-03-01
        ("BTCUSDT", datetime(2023, 3, 2, 0, 1), 0.0, 23615.0),  # zero-volume bar kept
        ("BTCUSDT", datetime(2023, 3, 2, 0, 2), 0.1, 23625.0),
    ]
    assert per_day(bars).select("day", "bars").rows() == [(date(2023, 3, 1), 2), (date(2023, 3, 2), 2)]
