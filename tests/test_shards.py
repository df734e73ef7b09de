"""Sharded markets: equal to the in-memory dataset (arrays, splits, report, context, every order's rewards and
observations), lazy to open, bounded in memory, streamed from a preset's files."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from order_exec_gym.data.dataset import FIELDS, MarketDataset
from order_exec_gym.data.presets import ASHARE_SESSION, PRESETS, load_preset
from order_exec_gym.data.readers import shared_data_dir
from order_exec_gym.data.schema import BarTable
from order_exec_gym.data.shards import (
    ShardedMarket,
    group_seed,
    preset_shards,
    synthetic_shards,
    write_shards,
)
from order_exec_gym.data.synthetic import synthetic_bars
from order_exec_gym.errors import DataError
from order_exec_gym.data.market import Market, MarketContext
from order_exec_gym.orders import Orders
from order_exec_gym.task import ExecutionTask

GROUPS = (("SYN000", "SYN001", "SYN002"), ("SYN003", "SYN004"), ("SYN005", "SYN006"))
UNPRICED = "episodes dropped: bars before the first trade and no previous session to price them"
SHORT = "episodes dropped: fewer than 90% of a full session's 240 bars"
LEADING = "leading missing bars filled (previous session's close, zero volume)"
FILLED = "missing bars filled (previous close, zero volume)"


def gapped_market() -> BarTable:
    """7 synthetic instruments x 12 days with every kind of drop and fill: a first session without its first bars
    (dropped, unpriced), a later one (filled from the previous close), a session under the coverage (dropped), and
    bars missing mid-session (filled); SYN005 and SYN006 (the last group) list on the third day."""
    bars = synthetic_bars(n_symbols=7, n_days=12, seed=3)
    frame = bars.frame.with_columns(
        pl.col("timestamp").dt.date().rank("dense").over("symbol").alias("day") - 1,
        pl.int_range(pl.len()).over("symbol", pl.col("timestamp").dt.date()).alias("bar"),
    )
    symbol, day, bar = pl.col("symbol"), pl.col("day"), pl.col("bar")
    gone = (
        ((symbol == "SYN000") & (day == 0) & (bar < 5))
        | ((symbol == "SYN001") & (day == 3) & (bar < 3))
        | ((symbol == "SYN004") & (day == 5) & (bar < 200))
        | (symbol.is_in(["SYN002", "SYN006"]) & (day == 7) & (bar % 37 == 5))
        | (symbol.is_in(["SYN005", "SYN006"]) & (day < 2))
    )
    return BarTable(frame.filter(~gone).drop("day", "bar"), 1, bars.source, session=bars.session)


def groups_of(table: BarTable, groups=GROUPS) -> list[BarTable]:
    return [dataclasses.replace(table, frame=table.frame.filter(pl.col("symbol").is_in(group))) for group in groups]


@pytest.fixture(scope="module")
def sharded(tmp_path_factory) -> tuple[ShardedMarket, MarketDataset]:
    """The gapped market written as 3 shards, and the same market built in memory."""
    table = gapped_market()
    market = write_shards(groups_of(table), tmp_path_factory.mktemp("shards") / "market")
    return market, MarketDataset.from_bars(table)


def assert_same(dataset: MarketDataset, expected: MarketDataset) -> None:
    """Every array (values and dtypes), the splits and the report are equal."""
    for name in ("symbols", "dates", "lengths"):
        got, want = getattr(dataset, name), getattr(expected, name)
        assert got.dtype == want.dtype and np.array_equal(got, want), name
    for name in FIELDS:
        assert dataset.bars[name].dtype == np.float32
        np.testing.assert_array_equal(dataset.bars[name], expected.bars[name], err_msg=name)
    assert dataset.splits == expected.splits
    assert dataset.report == expected.report


# ------------------------------------------------------------------------------------------------ write_shards


def test_sharded_market_equals_the_in_memory_one(sharded):
    market, whole = sharded
    assert market.n_shards == 3 and len(market) == len(whole)
    assert {UNPRICED, SHORT, LEADING, FILLED} <= set(whole.report)  # the fixture exercises every drop and fill
    dataset = market.to_dataset()
    assert_same(dataset, whole)
    assert dataset.source == whole.source
    for name in whole.splits:
        assert_same(dataset.split(name), whole.split(name))
    assert "3 shards" in market.summary() and f"{FILLED}: {whole.report[FILLED]}" in market.summary()


def test_each_shard_holds_whole_instruments_and_the_market_splits(sharded):
    market, whole = sharded
    previous = whole.previous_sessions()
    for name in whole.splits:
        rows = []
        for i, shard in market.iter_shards():
            assert shard.splits == market.splits and set(np.unique(shard.symbols)) == set(GROUPS[i])
            assert isinstance(shard.bars["price"], np.memmap)
            at = whole.rows_of(shard)
            assert np.all(market.shards[at] == i) and np.array_equal(market.rows[at], np.arange(len(shard)))
            own = shard.previous_sessions()  # an episode's previous session is in its own shard
            assert np.array_equal(np.where(own >= 0, at[own], -1), previous[at])
            part = shard.split(name)
            rows.append(whole.rows_of(part))
            for field in FIELDS:
                np.testing.assert_array_equal(part.bars[field], whole.bars[field][rows[-1]])
        assert np.array_equal(np.sort(np.concatenate(rows)), whole.rows_of(whole.split(name)))


def test_index_points_at_each_episode(sharded):
    market, whole = sharded
    for i, shard in market.iter_shards():
        mine = market.shards == i
        assert np.array_equal(market.symbols[mine], shard.symbols[market.rows[mine]])
        assert np.array_equal(market.dates[mine], shard.dates[market.rows[mine]])
        assert np.array_equal(np.sort(market.rows[mine]), np.arange(len(shard)))


def test_global_context_equals_the_whole_markets(sharded):
    market, whole = sharded
    context, day = whole.market_context().values, np.searchsorted(whole.market_context().dates, whole.dates)
    stored = np.load(market.directory / "context.npy")
    assert stored.dtype == np.float32 and np.array_equal(stored, context)
    assert np.array_equal(market.context_dates, np.unique(whole.dates))
    assert np.array_equal(market.market_context().of(whole.dates), context[day])
    for _, shard in market.iter_shards():
        assert shard.context is market.market_context()  # the market's, as data: never rebuilt from the shard
        assert np.array_equal(shard.market_context().of(shard.dates), context[day[whole.rows_of(shard)]])
        own = dataclasses.replace(shard, context=None, shard=False).market_context().values  # the shard's alone
        assert not np.array_equal(own, context)
    dataset = market.to_dataset()
    assert np.array_equal(dataset.market_context().of(dataset.dates), context[day])


@pytest.mark.parametrize(
    "settings",
    [{}, {"history": "session", "market_features": True, "side": "buy", "step_minutes": 15}],
    ids=["lookback", "session-market"],
)
def test_every_order_gets_the_same_rewards_and_observations(sharded, settings):
    market, whole = sharded
    rng = np.random.default_rng(0)
    n, length = 3, 120
    for split in ("train", "test"):
        reference = ExecutionTask(whole, split, settings, num_orders=n)
        for _, shard in market.iter_shards():
            task = ExecutionTask(shard, split, settings, num_orders=n)
            episode = rng.choice(len(task.dataset), n, replace=False)
            side, start = np.where(rng.random(n) < 0.5, 1.0, -1.0), rng.integers(0, 240 - length, n)
            task.reset(Orders(episode, side, start, np.full(n, length)))
            same = reference.dataset.rows_of(task.dataset.select(episode))
            reference.reset(Orders(same, side, start, np.full(n, length)))
            done = np.zeros(n, bool)
            while not done.all():
                for key, value in task.observe().items():
                    np.testing.assert_array_equal(value, reference.observe()[key], err_msg=key)
                twap = np.full(n, 2)
                got, want = task.sim.step(task.ratios(twap)), reference.sim.step(reference.ratios(twap))
                np.testing.assert_array_equal(got.reward, want.reward)
                np.testing.assert_array_equal(got.exec_price, want.exec_price)
                done = got.done
            np.testing.assert_array_equal(task.sim.price_advantage(), reference.sim.price_advantage())


def test_open_reads_no_bar_file(sharded, tmp_path):
    market, _ = sharded
    copy = tmp_path / "market"
    (copy / "shards").mkdir(parents=True)
    for path in market.directory.glob("*.*"):
        (copy / path.name).write_bytes(path.read_bytes())
    opened = ShardedMarket.open(copy)  # no shard directory at all: nothing but the meta and the index is read
    assert len(opened) == len(market) and opened.n_shards == 3 and "3 shards" in opened.summary()
    assert isinstance(opened.symbols, np.memmap)
    with pytest.raises(DataError, match="incomplete data directory.*shards/00000"):
        opened.shard(0)
    with pytest.raises(ValueError, match="shard 3 out of range"):
        market.shard(3)


def test_pickles_as_its_directory(sharded):
    market, _ = sharded
    data = pickle.dumps(market)
    assert len(data) < 1000
    again = pickle.loads(data)
    assert again.directory == market.directory and np.array_equal(again.symbols, market.symbols)


def test_write_shards_default_and_given_splits(tmp_path):
    table = gapped_market()
    splits = {"train": ("2023-01-02", "2023-01-10"), "test": ("2023-01-11", "2023-01-17")}
    market = write_shards(groups_of(table), tmp_path / "m", splits=splits)
    assert_same(market.to_dataset(), MarketDataset.from_bars(table, splits=splits))
    assert all(shard.splits == market.splits for _, shard in market.iter_shards())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["m"]  # no temporary directory left


def test_tables_in_any_order(tmp_path):
    """Groups in no symbol order give the same market; the context's sums then add the instruments in another
    order, so it equals the whole market's to float rounding only."""
    table = gapped_market()
    shuffled = [("SYN005", "SYN001"), ("SYN006", "SYN000", "SYN003"), ("SYN004", "SYN002")]
    market = write_shards(groups_of(table, shuffled), tmp_path / "m")
    whole = MarketDataset.from_bars(table)
    assert_same(market.to_dataset(), whole)
    context = np.load(market.directory / "context.npy")
    np.testing.assert_allclose(context, whole.market_context().values, rtol=1e-6, atol=1e-6)


def test_write_shards_rejects_what_would_break_the_shards(tmp_path):
    table = gapped_market()
    overlapping = groups_of(table, [("SYN000", "SYN001"), ("SYN001", "SYN002")])
    with pytest.raises(DataError, match=r"instrument in two tables .*symbol SYN001.*shard 00000"):
        write_shards(overlapping, tmp_path / "m")
    without = dataclasses.replace(table, session=None)
    with pytest.raises(DataError, match="no session calendar"):
        write_shards([without], tmp_path / "m")
    other = dataclasses.replace(groups_of(table)[1], session=(dt.time(9, 0), *table.session))
    with pytest.raises(DataError, match="another calendar"):
        write_shards([groups_of(table)[0], other], tmp_path / "m")
    short_day = (pl.col("symbol") == "SYN004") & (pl.col("timestamp").dt.date() == dt.date(2023, 1, 9))
    halted = dataclasses.replace(table, frame=table.frame.filter(short_day))  # under min_coverage: no episode
    with pytest.raises(DataError, match=r"empty shard .*shard 00001 \(SYN004..SYN004\) has no episode"):
        write_shards([groups_of(table)[0], halted], tmp_path / "m")
    with pytest.raises(ValueError, match="at least one table"):
        write_shards([], tmp_path / "m")
    assert list(tmp_path.iterdir()) == []  # failures leave nothing behind


# ------------------------------------------------------------------------------------------------ synthetic


def test_synthetic_shards(tmp_path):
    market = synthetic_shards(tmp_path / "syn", n_symbols=7, n_days=5, symbols_per_shard=3, seed=4, signal=0.5)
    assert len(market) == 35 and market.n_shards == 3
    assert list(np.unique(market.symbols)) == [f"SYN{i:05d}" for i in range(7)]
    pairs = set(zip(market.symbols.tolist(), market.dates.tolist()))
    assert len(pairs) == 35 and np.all(np.diff(market.dates.astype(np.int64)) >= 0)
    assert market.model["n_symbols"] == 7 and market.model["signal"] == 0.5 and market.model["symbols_per_shard"] == 3
    for i, shard in market.iter_shards():
        assert len(shard) == 5 * (3 if i < 2 else 1) and shard.model == market.model
        for name in FIELDS:  # the .npy header, then the float32 bars
            path = market.directory / "shards" / f"{i:05d}" / f"{name}.npy"
            assert path.stat().st_size == 128 + len(shard) * 240 * 4
    # group 1 is synthetic_bars of its own seed, its instruments renamed by their index in the market
    group = synthetic_bars(n_symbols=3, n_days=5, seed=group_seed(4, 1), signal=0.5)
    renamed = {f"SYN{i:03d}": f"SYN{i + 3:05d}" for i in range(3)}
    frame = group.frame.with_columns(pl.col("symbol").replace_strict(renamed))
    expected = MarketDataset.from_bars(dataclasses.replace(group, frame=frame))
    shard = market.shard(1)
    for name in FIELDS:
        np.testing.assert_array_equal(shard.bars[name], expected.bars[name])
    again = synthetic_shards(tmp_path / "again", n_symbols=7, n_days=5, symbols_per_shard=3, seed=4, signal=0.5)
    np.testing.assert_array_equal(again.shard(2).bars["price"], market.shard(2).bars["price"])
    with pytest.raises(ValueError, match="symbols_per_shard"):
        synthetic_shards(tmp_path / "bad", n_symbols=7, n_days=5, symbols_per_shard=0)


PEAK = """
import sys
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.shards import synthetic_shards
from order_exec_gym.data.synthetic import synthetic_bars

def peak():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # the peak so far := the RSS now (after the imports)
before = peak()
if sys.argv[1] == "shards":
    synthetic_shards(sys.argv[2], n_symbols=160, n_days=40, symbols_per_shard=8)
else:
    MarketDataset.from_bars(synthetic_bars(n_symbols=160, n_days=40))
print(peak() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc/self/clear_refs")
def test_synthetic_shards_memory_is_bounded_by_one_group(tmp_path):
    """A market of 20 groups built as shards peaks far below the same market built in memory.

    Peak RSS is the kernel's VmHWM, reset after the imports: ``ru_maxrss`` of a process started from pytest's starts
    at pytest's own peak (the kernel carries it over exec)."""

    def peak(*args: str) -> int:
        run = subprocess.run([sys.executable, "-c", PEAK, *args], capture_output=True, text=True, check=True)
        return int(run.stdout.split()[-1])  # KiB above the imports

    in_memory, shards = peak("memory"), peak("shards", str(tmp_path / "m"))
    assert shards < 0.3 * in_memory, (shards, in_memory)


# ------------------------------------------------------------------------------------------------ presets

ASHARE_DAYS = ("2024-03-01", "2024-03-04", "2024-03-07", "2024-03-08", "2024-03-11", "2024-03-12")
ASHARE_SYMBOLS = ("600519.SH", "000001.SZ", "601318.SH", "000002.SZ", "002594.SZ", "600036.SH")  # file order


def write_ashare(folder: Path) -> None:
    """Vendor-format A-share files: 6 stocks x 6 days of 241 bars (the 09:30 auction bar included), symbols in
    file order unsorted, the first day gzipped, an index file, and what the loader and the dataset repair or drop:
    a first session starting late (unpriced), minutes missing, an untraded day, a 09:31 bar missing after the
    auction, a short day, a closing open outside [low, high]."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    clock = ["09:30"] + [f"{t:%H:%M}" for t in ASHARE_SESSION]
    cut = {  # (day, symbol): the bars kept
        (0, "600519.SH"): slice(3, None),
        (0, "000001.SZ"): np.r_[0:100, 105:241],
        (2, "601318.SH"): np.r_[0:1, 2:241],
        (3, "002594.SZ"): slice(0, 100),
        (3, "000001.SZ"): slice(2, None),
    }
    for d, day in enumerate(ASHARE_DAYS):
        parts = []
        for symbol in ASHARE_SYMBOLS:
            close = np.round(20 * np.exp(np.cumsum(rng.normal(0, 1e-3, 241))), 2)
            open_ = np.r_[close[0], close[:-1]]
            volume = rng.integers(0, 500, 241) * (0 if (d, symbol) == (1, "000002.SZ") else 1)
            high, low = np.maximum(open_, close) + 0.01, np.minimum(open_, close) - 0.01
            if (d, symbol) == (4, "600036.SH"):
                open_[-1] = high[-1] + 0.05
            part = pl.DataFrame(
                {"symbol": symbol, "time": [f"{day} {t}:00" for t in clock], "open": open_, "close": close,
                 "high": high, "low": low, "volume": volume.astype(float)}
            )  # fmt: skip
            keep = cut.get((d, symbol), slice(None))
            parts.append(part[keep] if isinstance(keep, slice) else part[keep.tolist()])
        text = pl.concat(parts).write_csv(float_precision=2)
        name = f"stocks_1min_{day.replace('-', '')}.csv"
        if d == 0:
            (folder / f"{name}.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (folder / name).write_text(text)
    (folder / "index_1min_20240304.csv").write_text("symbol,time,open,close,high,low,volume\n")


def test_preset_shards_equals_from_preset_on_vendor_files(tmp_path):
    folder = tmp_path / "ashare"
    write_ashare(folder)
    whole = MarketDataset.from_bars(load_preset("ashare-1min", folder), splits=PRESETS["ashare-1min"].splits)
    assert_same(MarketDataset.from_preset("ashare-1min", path=folder, cache=False), whole)  # built through shards
    reasons = [reason for reason, count in whole.report.items() if count]
    assert len(reasons) == 9  # every repair, drop and fill happens (and the index file is counted once)
    market = preset_shards("ashare-1min", tmp_path / "market", symbols_per_shard=2, path=folder)
    assert market.n_shards == 3 and market.source == str(folder)
    assert_same(market.to_dataset(), whole)
    assert np.array_equal(np.load(market.directory / "context.npy"), whole.market_context().values)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ashare", "market"]  # the row files are gone


def test_preset_shards_errors_name_the_original_files(tmp_path):
    folder = tmp_path / "ashare"
    write_ashare(folder)
    path = folder / "stocks_1min_20240308.csv"
    lines = path.read_text().splitlines()
    bad = next(i for i, line in enumerate(lines) if line.startswith("600036.SH") and "10:00" in line)
    lines[bad] = ",".join(lines[bad].split(",")[:5] + ["-1.0"] + lines[bad].split(",")[6:])  # low < 0
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as expected:
        load_preset("ashare-1min", folder)
    with pytest.raises(DataError) as error:
        preset_shards("ashare-1min", tmp_path / "market", symbols_per_shard=2, path=folder)
    assert str(error.value) == str(expected.value) and str(path) in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ashare"]

    path.write_text("\n".join(lines[:1] + lines[1:300] + lines[600:] + lines[300:600]) + "\n")  # a block moved
    with pytest.raises(DataError, match=r"instrument rows apart in .*stocks_1min_20240308.csv, symbol 000001.SZ"):
        preset_shards("ashare-1min", tmp_path / "market", path=folder)
    with pytest.raises(ValueError, match="preset_shards streams the presets"):
        preset_shards("ashare-etf-5min", tmp_path / "market")


def test_preset_shards_equals_from_preset_on_the_real_ashare_set(tmp_path):
    """The 3,106 stocks x 7 days as 16 shards (about 20 s, and 2 GB for the in-memory build)."""
    root = shared_data_dir()
    if root is None or not (root / PRESETS["ashare-1min"].folder).is_dir():
        pytest.skip("../shared/data/ashare-1min-2024 not found: the real-data test needs the shared data folder")
    market = preset_shards("ashare-1min", tmp_path / "market")
    whole = MarketDataset.from_bars(load_preset("ashare-1min"), splits=PRESETS["ashare-1min"].splits)
    assert market.n_shards == 16
    assert_same(market.to_dataset(), whole)
    assert np.array_equal(np.load(market.directory / "context.npy"), whole.market_context().values)


def test_a_split_of_a_shard_and_a_lone_shard_never_get_a_wrong_market_context(sharded):
    """The hostile finding: a shard's split (shard.split('train') used as the market) lost the primed context and
    rebuilt it from the shard's own instruments, up to 1.93 off; a shard directory loaded alone did the same. The
    split keeps the whole market's context; the lone shard refuses to build its own."""
    market, whole = sharded
    settings = {"history": "session", "market_features": True}
    shard = market.shard(1)
    for split in ("train", "test"):
        part = shard.split(split)
        reference = ExecutionTask(whole, split, settings, num_orders=2)
        task = ExecutionTask(part, "all", settings, num_orders=2)
        orders = Orders(np.array([0, 1]), np.ones(2), np.zeros(2, np.int64), np.full(2, 240))
        task.reset(orders)
        rows = reference.dataset.rows_of(part.select(np.array([0, 1])))
        reference.reset(Orders(rows, np.ones(2), np.zeros(2, np.int64), np.full(2, 240)))
        for _ in range(3):  # today's market-context columns (the previous session may lie outside the split)
            np.testing.assert_array_equal(task.observe()["public"][:, 240:, 4:7], reference.observe()["public"][:, 240:, 4:7])
            task.sim.step(np.full(2, 0.1))
            reference.sim.step(np.full(2, 0.1))
    alone = MarketDataset.load(market.directory / "shards" / market.shard_names[1])
    assert alone.shard and len(alone) == len(shard)
    with pytest.raises(DataError, match="market context of a lone shard.*ShardedMarket.open"):
        ExecutionTask(alone, config=settings, num_orders=1)
    ExecutionTask(alone, config={"history": "session"}, num_orders=1)  # no market context needed: fine


# ----------------------------------------------------------------------------------------- the market interface


def test_both_markets_implement_one_interface(sharded):
    """A dataset and a sharded market answer the same questions the same way: index, splits, previous sessions,
    context, and partitions that hold every episode at the row they say."""
    market, whole = sharded
    for candidate in (market, whole):
        assert isinstance(candidate, Market)
        partition, row = candidate.partition_rows()
        for p in range(candidate.n_partitions):
            part, mine = candidate.partition(p), np.flatnonzero(partition == p)
            assert np.array_equal(part.symbols[row[mine]], candidate.symbols[mine])
            assert np.array_equal(part.dates[row[mine]], candidate.dates[mine])
    for split in ("train", "valid", "test", "all"):
        assert np.array_equal(market.split_rows(split), whole.split_rows(split))
    assert np.array_equal(market.previous_sessions(), whole.previous_sessions())
    assert np.array_equal(market.market_context().values, whole.market_context().values)
    assert np.array_equal(market.market_context().dates, whole.market_context().dates)
    assert whole.n_partitions == 1 and whole.partition(0) is whole and market.n_partitions == 3
    with pytest.raises(KeyError, match="unknown split 'tset'"):
        market.split_rows("tset")


def test_a_saved_part_of_a_shard_keeps_the_whole_markets_context(sharded, tmp_path):
    """The context is data: a shard's split saved and loaded alone still carries the whole market's (before, the
    saved copy was a lone shard that could not give market features at all)."""
    market, _ = sharded
    part = market.shard(0).split("train")
    part.save(tmp_path / "part")
    loaded = MarketDataset.load(tmp_path / "part")
    assert np.array_equal(loaded.market_context().values, market.market_context().values)
    settings = dict(history="session", market_features=True)
    task, again = ExecutionTask(part, "all", settings, num_orders=2), ExecutionTask(loaded, "all", settings, num_orders=2)
    orders = Orders(np.array([0, 3]), np.array([1, -1]), np.array([0, 0]), np.array([240, 240]))
    task.reset(orders), again.reset(orders)
    np.testing.assert_array_equal(task.observe()["public"], again.observe()["public"])


def test_the_index_is_checked_against_each_shards_own_episodes(tmp_path):
    """An index that sends orders to another instrument's rows (here: written with valid checksums, as a faulty
    writer would) is refused when the shard is opened, naming it."""
    from order_exec_gym.data.store import write_meta
    import json

    market = synthetic_shards(tmp_path / "market", n_symbols=4, n_days=6, symbols_per_shard=2, seed=1)
    rows = np.load(market.directory / "rows.npy")
    first = np.flatnonzero(market.shards == 0)[:2]
    rows[first] = rows[first[::-1]]  # two episodes of shard 0 swapped
    np.save(market.directory / "rows.npy", rows)
    meta = json.loads((market.directory / "meta.json").read_text())
    write_meta(market.directory, {key: value for key, value in meta.items() if key not in ("files", "checksum")})
    reopened = ShardedMarket.open(market.directory)
    with pytest.raises(DataError, match="shard and index differ.*00000"):
        reopened.shard(0)
    reopened.shard(1)  # the other shard is as written


def test_a_context_without_the_date_is_an_error():
    context = MarketContext(np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[D]"), np.zeros((2, 4, 3), np.float32))
    assert context.of(np.array(["2024-01-03"], dtype="datetime64[D]")).shape == (1, 4, 3)
    with pytest.raises(DataError, match="2024-01-04"):
        context.of(np.array(["2024-01-03", "2024-01-04"], dtype="datetime64[D]"))


def test_a_preset_cache_build_says_what_it_builds_and_a_cached_load_is_quiet(tmp_path, capsys):
    folder = tmp_path / "ashare"
    write_ashare(folder)
    first = MarketDataset.from_preset("ashare-1min", path=folder, cache=tmp_path / "cache")
    said = capsys.readouterr().err
    assert f"building the episodes of 'ashare-1min' from {folder} into the cache {tmp_path / 'cache'}" in said
    assert f"{len(first):,} episodes of 'ashare-1min' built in" in said
    assert [path.name.startswith("ashare-1min-") for path in (tmp_path / "cache").iterdir()] == [True]  # no build left
    again = MarketDataset.from_preset("ashare-1min", path=folder, cache=tmp_path / "cache")
    assert capsys.readouterr().err == ""
    assert_same(again, first)


def test_a_blank_line_streamed_through_shards_is_named_by_its_line_in_the_original_file(tmp_path):
    """The error is raised on the original file, not on the partition written from it (where its line differs)."""
    folder = tmp_path / "ashare"
    write_ashare(folder)
    path = folder / "stocks_1min_20240308.csv"
    lines = path.read_text().splitlines()
    other = next(i for i, line in enumerate(lines) if i > 0 and not line.startswith(lines[1].split(",")[0]))
    path.write_text("\n".join(lines[: other + 2] + [""] + lines[other + 2 :]) + "\n")  # a blank line in the 2nd group
    with pytest.raises(DataError, match=rf"blank line in .*stocks_1min_20240308.csv.*line {other + 3} "):
        preset_shards("ashare-1min", tmp_path / "market", symbols_per_shard=1, path=folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ashare"]  # no partition files left
