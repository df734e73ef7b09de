"""MarketDataset: bars to episodes on each date's grid, reported fills and drops, date splits, persistence."""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings

import numpy as np
import polars as pl
import pytest

from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.market import default_splits
from order_exec_gym.data.resolve import SYNTHETIC, load_dataset
from order_exec_gym.data.schema import PRICE_RANGE, VOLUME_RANGE, BarTable, bar_times
from order_exec_gym.data.synthetic import synthetic_bars
from order_exec_gym.errors import DataError

SESSION = bar_times((dt.time(9, 31), dt.time(9, 40)), bar_minutes=1)  # a 10-bar session


def bars(rows: list[tuple[str, str, float, float]], session: tuple[dt.time, ...] | None = None) -> BarTable:
    """A BarTable from (symbol, 'YYYY-mm-dd HH:MM', price, volume) rows; OHLC all equal to price."""
    frame = pl.DataFrame(
        {
            "symbol": [r[0] for r in rows],
            "timestamp": [dt.datetime.fromisoformat(r[1]) for r in rows],
            "price": [r[2] for r in rows],
            "volume": [r[3] for r in rows],
        }
    ).with_columns(open=pl.col("price"), high=pl.col("price"), low=pl.col("price"), close=pl.col("price"))
    return BarTable(frame, bar_minutes=1, source="test", session=session)


def day_rows(symbol: str, day: str, minutes=range(31, 41), price: float = 10.0) -> list[tuple[str, str, float, float]]:
    """Rows of ``symbol`` on ``day`` (YYYY-mm-dd) ending at 09:``minutes``, all at ``price`` with volume 100."""
    return [(symbol, f"{day} 09:{m:02d}", price, 100.0) for m in minutes]


def test_synthetic_market_is_deterministic_and_valid():
    a, b, c = synthetic_bars(3, 5, seed=1), synthetic_bars(3, 5, seed=1), synthetic_bars(3, 5, seed=2)
    assert a.frame.equals(b.frame) and not a.frame.equals(c.frame)
    assert a.frame.height == 3 * 5 * 240
    volume = a.frame["volume"].to_numpy().reshape(15, 240).mean(axis=0)
    assert volume[:10].mean() > 1.5 * volume[100:140].mean() and volume[-10:].mean() > 1.2 * volume[100:140].mean()


def test_episodes_are_instrument_days_on_contiguous_arrays(small_market):
    assert len(small_market) == 80 and small_market.max_bars == 240
    for values in small_market.bars.values():
        assert values.dtype == np.float32 and values.flags.c_contiguous and values.shape == (80, 240)
    assert (small_market.lengths == 240).all()
    assert len(np.unique(small_market.symbols)) == 4 and len(np.unique(small_market.dates)) == 20


def test_missing_bars_are_filled_from_the_past_and_reported():
    rows = [("B", f"2024-01-01 09:{m:02d}", 10.0 + m, 50.0) for m in range(31, 41)]
    rows += [("A", f"2024-01-02 09:{m:02d}", 10.0 + m, 100.0) for m in range(31, 41)]
    rows += [("B", f"2024-01-02 09:{m:02d}", 20.0 + m, 50.0) for m in range(31, 41) if m not in (31, 35)]
    dataset = MarketDataset.from_bars(bars(rows), min_coverage=0.5)
    b = int(np.flatnonzero((dataset.symbols == "B") & (dataset.dates == np.datetime64("2024-01-02")))[0])
    assert dataset.lengths[b] == 10
    np.testing.assert_allclose(dataset.bars["price"][b, :5], [50, 52, 53, 54, 54])  # leading gap: the day before's close
    np.testing.assert_allclose(dataset.bars["volume"][b, :5], [0, 50, 50, 50, 0])
    assert dataset.report == {
        "leading missing bars filled (previous session's close, zero volume)": 1,
        "missing bars filled (previous close, zero volume)": 1,
    }


def test_a_first_session_with_a_leading_gap_is_dropped_not_priced_from_the_future():
    rows = [("A", f"2024-01-02 09:{m:02d}", 10.0, 100.0) for m in range(31, 41)]
    rows += [("B", f"2024-01-02 09:{m:02d}", 20.0 + m, 50.0) for m in range(33, 41)]
    dataset = MarketDataset.from_bars(bars(rows), min_coverage=0.5)
    assert list(dataset.symbols) == ["A"]
    assert dataset.report == {"episodes dropped: bars before the first trade and no previous session to price them": 1}


def test_a_dataset_left_without_episodes_is_an_error():
    """The only session misses its first bar and has no earlier price: nothing is left, and that is not silent."""
    with pytest.raises(DataError, match="empty dataset"):
        MarketDataset.from_bars(bars(day_rows("A", "2024-01-02", range(32, 41)), session=SESSION))


def test_short_episodes_are_dropped_and_reported():
    rows = [("A", f"2024-01-02 09:{m:02d}", 10.0, 100.0) for m in range(31, 41)]
    rows += [("B", "2024-01-02 09:31", 20.0, 50.0)]
    dataset = MarketDataset.from_bars(bars(rows), min_coverage=0.9)
    assert list(dataset.symbols) == ["A"]
    assert dataset.report == {"episodes dropped: fewer than 90% of a full session's 10 bars": 1}
    assert "dropped" in dataset.summary()


def test_a_date_with_one_bar_per_symbol_is_dropped_and_reported():
    """Without a calendar a date's grid is the bars seen that date: a one-bar date is short of the longest date's."""
    rows = [row for day in ("2024-01-02", "2024-01-03", "2024-01-04") for s in "AB" for row in day_rows(s, day)]
    rows += day_rows("A", "2024-01-05", [31]) + day_rows("B", "2024-01-05", [31])
    dataset = MarketDataset.from_bars(bars(rows))
    assert len(dataset) == 6 and set(dataset.lengths) == {10} and dataset.last_date == dt.date(2024, 1, 4)
    assert dataset.report == {"episodes dropped: fewer than 90% of a full session's 10 bars": 2}
    with pytest.raises(DataError, match="no episode has 90% of a full session's 10 bars"):
        MarketDataset.from_bars(bars(rows[-2:], session=SESSION))  # against a calendar, even alone


def test_a_session_calendar_finds_the_missing_bars_of_one_instrument():
    """One instrument cannot be compared with others: its sessions are laid on the calendar, the missing bars are
    filled and counted, and a halted day (short of min_coverage) is dropped and counted."""
    rows = day_rows("IDX", "2024-01-02", price=10.0)
    rows += day_rows("IDX", "2024-01-03", [m for m in range(31, 41) if m != 39], price=11.0)  # the 09:39 bar missing
    rows += day_rows("IDX", "2024-01-04", range(31, 34), price=12.0)  # halted after 3 bars
    without = MarketDataset.from_bars(bars(rows), min_coverage=0.3)
    assert list(without.lengths) == [10, 9, 3] and "missing bars filled (previous close, zero volume)" not in without.report
    dataset = MarketDataset.from_bars(bars(rows, session=SESSION))
    assert list(dataset.lengths) == [10, 10] and dataset.last_date == dt.date(2024, 1, 3)
    assert dataset.report == {
        "episodes dropped: fewer than 90% of a full session's 10 bars": 1,
        "missing bars filled (previous close, zero volume)": 1,
    }
    np.testing.assert_array_equal(dataset.bars["volume"][1, 7:], [100, 0, 100])  # 09:38, 09:39 filled, 09:40
    kept = MarketDataset.from_bars(bars(rows, session=SESSION), min_coverage=0.3)
    assert kept.report["missing bars filled (previous close, zero volume)"] == 1 + 7  # the halt's 7 trailing bars
    np.testing.assert_array_equal(kept.bars["close"][2], [12.0] * 10)


def test_min_coverage_must_be_a_share():
    for value in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="min_coverage"):
            MarketDataset.from_bars(bars(day_rows("A", "2024-01-02")), min_coverage=value)


def test_bad_bars_never_reach_the_episodes():
    """A hand-made BarTable is validated when made: NaN, negative prices, duplicates are errors, not fills."""
    rows = day_rows("A", "2024-01-02")
    for broken, rule in [
        (rows[:3] + [("A", "2024-01-02 09:34", float("nan"), 100.0)] + rows[4:], "NaN or missing price"),
        (rows[:3] + [("A", "2024-01-02 09:34", -5.0, 100.0)] + rows[4:], "non-positive price"),
        (rows + [("A", "2024-01-02 09:40", 11.0, 100.0)], "duplicated timestamp"),
    ]:
        with pytest.raises(DataError, match=rule):
            MarketDataset.from_bars(bars(broken))


def test_the_float32_arrays_hold_the_validated_range_faithfully():
    low, high = PRICE_RANGE
    rows = day_rows("LOW", "2024-01-02", price=low) + day_rows("HIGH", "2024-01-02", price=high)
    table = dataclasses.replace(bars(rows), frame=bars(rows).frame.with_columns(volume=pl.lit(VOLUME_RANGE[1])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or underflow in the cast to float32
        dataset = MarketDataset.from_bars(table)
    for name, values in dataset.bars.items():
        assert np.isfinite(values).all() and (values > 0).all(), name
    np.testing.assert_allclose(dataset.bars["price"][:, 0], [high, low], rtol=1e-7)
    np.testing.assert_allclose(dataset.bars["volume"], VOLUME_RANGE[1], rtol=1e-7)


def test_half_days_are_padded_after_their_length():
    rows = [("A", f"2024-01-02 09:{m:02d}", 10.0 + m, 100.0) for m in range(31, 41)]
    rows += [("A", f"2024-01-03 09:{m:02d}", 30.0 + m, 100.0) for m in range(31, 36)]
    dataset = MarketDataset.from_bars(bars(rows), min_coverage=0.5)
    assert list(dataset.lengths) == [10, 5] and dataset.max_bars == 10
    np.testing.assert_allclose(dataset.bars["price"][1], [61, 62, 63, 64, 65, 65, 65, 65, 65, 65])
    np.testing.assert_allclose(dataset.bars["volume"][1, 5:], 0)


def test_days_group_by_bar_start_so_a_midnight_bar_stays_in_its_day():
    rows = [("X", "2024-01-02 23:59", 10.0, 1.0), ("X", "2024-01-03 00:00", 11.0, 1.0), ("X", "2024-01-03 00:01", 12.0, 1.0)]
    dataset = MarketDataset.from_bars(bars(rows), min_coverage=0.1)
    assert [str(d) for d in dataset.dates] == ["2024-01-02", "2024-01-03"]
    assert list(dataset.lengths) == [2, 1]
    np.testing.assert_array_equal(dataset.bars["close"][0], [10.0, 11.0])  # the bar ending at 00:00 is the day's last


def test_a_24_hour_calendar_ends_each_day_with_the_midnight_bar():
    night = bar_times((dt.time(0, 1), dt.time(0, 0)), bar_minutes=1)
    rows = [("X", f"2024-01-02 {h:02d}:{m:02d}", 10.0 + (h * 60 + m) / 1e3, 1.0) for h in range(24) for m in range(60)][1:]
    rows += [("X", "2024-01-03 00:00", 99.0, 1.0)]
    dataset = MarketDataset.from_bars(bars(rows, session=night))
    assert list(dataset.lengths) == [1440] and dataset.bars["close"][0, -1] == 99.0
    assert dataset.bars["close"][0, 0] == np.float32(10.001) and (np.diff(dataset.bars["close"][0, :-1]) > 0).all()


def test_splits_are_by_date_and_never_overlap():
    dataset = MarketDataset.synthetic(n_symbols=2, n_days=20, seed=0)
    parts = {name: dataset.split(name) for name in ("train", "valid", "test")}
    assert sum(len(p) for p in parts.values()) == len(dataset)
    assert parts["train"].last_date < parts["valid"].first_date <= parts["valid"].last_date < parts["test"].first_date
    assert len(dataset.split("all")) == len(dataset)
    with pytest.raises(KeyError, match="unknown split"):
        dataset.split("holdout")


def arrays(dataset: MarketDataset) -> dict[str, np.ndarray]:
    """Every array of ``dataset`` by name."""
    return {"symbols": dataset.symbols, "dates": dataset.dates, "lengths": dataset.lengths, **dataset.bars}


def in_split(dataset: MarketDataset, name: str) -> np.ndarray:
    """The mask of the episodes of split ``name``, computed directly from the dates."""
    first, last = (np.datetime64(day, "D") for day in dataset.splits[name])
    return (dataset.dates >= first) & (dataset.dates <= last)


def test_splits_are_views_of_the_market_built_once(small_market):
    for name in ("train", "valid", "test"):
        part = small_market.split(name)
        assert small_market.split(name) is part
        mask = in_split(small_market, name)
        for key, values in arrays(part).items():
            assert np.shares_memory(values, arrays(small_market)[key]), key
            np.testing.assert_array_equal(values, arrays(small_market)[key][mask])  # the rows a copy would hold
        assert all(values.flags.c_contiguous for values in part.bars.values())


def test_splits_of_rows_in_another_order_are_copies_of_the_right_rows(small_market):
    by_symbol = small_market.select(np.lexsort((small_market.dates, small_market.symbols)))  # splits not contiguous
    for name in ("train", "valid", "test"):
        part, mask = by_symbol.split(name), in_split(by_symbol, name)
        assert 0 < mask.sum() < len(by_symbol)
        for key, values in arrays(part).items():
            assert not np.shares_memory(values, arrays(by_symbol)[key]), key
            np.testing.assert_array_equal(values, arrays(by_symbol)[key][mask])


def test_splits_of_a_memory_mapped_dataset_are_memory_mapped_views(tmp_path, small_market):
    small_market.save(tmp_path / "market")
    loaded = MarketDataset.load(tmp_path / "market")
    train = loaded.split("train")
    assert isinstance(train.bars["price"], np.memmap) and np.shares_memory(train.bars["price"], loaded.bars["price"])
    for key, values in arrays(small_market.split("train")).items():
        np.testing.assert_array_equal(arrays(train)[key], values)


def test_derived_data_is_built_once_per_dataset(small_market):
    dataset = small_market.select(slice(None))
    calls = []

    def build() -> list:
        calls.append(1)
        return [len(calls)]

    first = dataset.derived("key", build)
    assert dataset.derived("key", build) is first and calls == [1]
    assert dataset.derived("other key", build) == [2]
    fresh = (dataset.select(slice(None)), dataset.select([0, 1]), dataclasses.replace(dataset, source="copy"))
    assert [other.derived("key", build) for other in fresh] == [[3], [4], [5]]  # new datasets derive anew


def test_the_synthetic_market_is_built_once_per_set_of_options_and_read_only():
    market = MarketDataset.synthetic(n_symbols=2, n_days=5, seed=1)
    assert MarketDataset.synthetic(2, 5, 1) is market
    assert MarketDataset.synthetic(n_symbols=2, n_days=5, seed=1, noise_bps=8.0) is market  # the default, spelled out
    assert load_dataset(None, n_symbols=2, n_days=5, seed=1) is market
    for key, values in arrays(market).items():
        assert not values.flags.writeable, key
    with pytest.raises(ValueError, match="read-only"):
        market.bars["price"][0, 0] = 1.0
    for other in (
        MarketDataset.synthetic(n_symbols=2, n_days=5, seed=2),
        MarketDataset.synthetic(n_symbols=2, n_days=5, seed=1, noise_bps=4.0),
        MarketDataset.synthetic(n_symbols=2, n_days=5, seed=1, daily_volatility=0.03),
    ):
        assert other is not market and not np.array_equal(other.bars["price"], market.bars["price"])
    assert MarketDataset.synthetic(n_symbols=2, n_days=6, seed=1).bars["price"].shape[0] == 12


def test_load_dataset_takes_the_synthetic_name_like_none():
    assert load_dataset(SYNTHETIC, n_symbols=2, n_days=5, seed=1) is load_dataset(None, n_symbols=2, n_days=5, seed=1)
    assert load_dataset("synthetic", n_symbols=2, n_days=5, seed=1).source.startswith("synthetic")


def test_empty_split_raises():
    dataset = MarketDataset.from_bars(synthetic_bars(1, 3, seed=0), splits={"test": ("2030-01-01", "2030-12-31")})
    with pytest.raises(DataError, match="empty split"):
        dataset.split("test")


def test_default_splits_cover_all_dates_in_order():
    dates = np.datetime64("2024-01-01") + np.arange(10).astype("timedelta64[D]")
    splits = default_splits(dates)
    assert splits["train"] == (dt.date(2024, 1, 1), dt.date(2024, 1, 7))
    assert splits["valid"] == (dt.date(2024, 1, 8), dt.date(2024, 1, 9))
    assert splits["test"] == (dt.date(2024, 1, 10), dt.date(2024, 1, 10))


def test_save_and_load_round_trip_with_memory_map(tmp_path, small_market):
    small_market.save(tmp_path / "market")
    loaded = MarketDataset.load(tmp_path / "market")
    assert isinstance(loaded.bars["price"], np.memmap)
    for name, values in small_market.bars.items():
        np.testing.assert_array_equal(loaded.bars[name], values)
    np.testing.assert_array_equal(loaded.symbols, small_market.symbols)
    np.testing.assert_array_equal(loaded.dates, small_market.dates)
    assert loaded.splits == small_market.splits and loaded.report == small_market.report
    assert len(load_dataset(tmp_path / "market")) == len(small_market)


def test_load_dataset_rejects_unknown_data():
    with pytest.raises(ValueError, match="cannot resolve data") as error:
        load_dataset("no-such-preset")
    assert f"None or {SYNTHETIC!r}" in str(error.value) and "ashare-1min" in str(error.value)
