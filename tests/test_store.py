"""Data at rest: every edit, truncation or loss of a saved dataset, cache or sharded market is an error naming the
file, never a different market; a writer killed at any moment leaves the old or the new directory whole."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.shards import ShardedMarket, synthetic_shards
from order_exec_gym.data.store import recover_directory
from order_exec_gym.errors import DataError

FIXTURES = Path(__file__).parent / "data"


def dead_pid() -> int:
    """The pid of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def assert_same(a: MarketDataset, b: MarketDataset) -> None:
    assert np.array_equal(a.symbols, b.symbols) and np.array_equal(a.dates, b.dates)
    assert np.array_equal(a.lengths, b.lengths) and a.bar_minutes == b.bar_minutes
    assert all(np.array_equal(a.bars[name], b.bars[name]) for name in a.bars)


@pytest.fixture
def saved(small_market, tmp_path) -> Path:
    small_market.save(tmp_path / "market")
    return tmp_path / "market"


def rewrite(path: Path, change) -> None:
    """Save ``change(array)`` over the ``.npy`` file at ``path`` (a well-formed file with other contents)."""
    values = np.load(path)
    np.save(path, change(values))


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("lengths.npy", lambda v: v - 1),
        ("dates.npy", lambda v: np.roll(v, 1)),
        ("price.npy", lambda v: np.where(np.arange(v.shape[1]) == 3, np.nan, v).astype(v.dtype)),
        ("close.npy", lambda v: np.zeros_like(v)),
        ("symbols.npy", lambda v: v[::-1]),
    ],
)
def test_an_edited_array_file_is_refused_naming_it(saved, name, change):
    rewrite(saved / name, change)
    with pytest.raises(DataError, match=f"changed array file in {saved / name}"):
        MarketDataset.load(saved)


def test_edited_truncated_or_missing_files_are_refused_naming_them(saved, small_market):
    assert_same(MarketDataset.load(saved), small_market)
    meta = json.loads((saved / "meta.json").read_text())
    (saved / "meta.json").write_text(json.dumps({**meta, "bar_minutes": 5}))
    with pytest.raises(DataError, match="changed meta.json"):
        MarketDataset.load(saved)
    (saved / "meta.json").write_text(json.dumps(meta)[:40])
    with pytest.raises(DataError, match=f"unreadable meta.json in {saved / 'meta.json'}"):
        MarketDataset.load(saved)
    (saved / "meta.json").write_text(json.dumps(meta))
    data = (saved / "high.npy").read_bytes()
    (saved / "high.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="unreadable array file.*high.npy: mmap length"):  # truncated
        MarketDataset.load(saved)
    (saved / "high.npy").unlink()
    with pytest.raises(DataError, match="missing array file.*high.npy"):
        MarketDataset.load(saved)
    (saved / "meta.json").unlink()
    with pytest.raises(DataError, match="incomplete data directory"):
        MarketDataset.load(saved)


def test_a_directory_without_checksums_is_not_trusted(saved):
    meta = json.loads((saved / "meta.json").read_text())
    del meta["files"], meta["checksum"]
    (saved / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="unverifiable data directory.*load it with verify=False and save it again"):
        MarketDataset.load(saved)
    MarketDataset.load(saved, verify=False).save(saved)  # the way out the message names
    assert "checksum" in json.loads((saved / "meta.json").read_text())
    MarketDataset.load(saved)


def test_a_kill_between_the_two_renames_leaves_the_old_directory(saved, small_market):
    """What a writer killed after moving the old directory aside, before moving the new one in, leaves; and the
    temporary directories of killed builds."""
    pid = dead_pid()
    saved.rename(saved.with_name(f"market.old{pid}"))
    (saved.with_name(f"market.tmp{pid}")).mkdir()  # half written
    assert_same(MarketDataset.load(saved), small_market)
    assert sorted(path.name for path in saved.parent.iterdir()) == ["market"]


def test_leftovers_of_live_writers_are_kept(saved):
    mine = saved.with_name(f"market.tmp{os.getpid()}")
    mine.mkdir()
    recover_directory(saved)
    assert mine.exists()


def test_writers_killed_at_random_moments_never_leave_a_broken_dataset(tmp_path, small_market):
    """A process saving two markets in turn, killed (SIGKILL) 12 times at random moments: each time the directory
    loads, verified, as one of the two."""
    other = MarketDataset.synthetic(n_symbols=4, n_days=20, seed=8)
    target = tmp_path / "market"
    small_market.save(target)
    script = (
        "import sys\nfrom order_exec_gym.data.dataset import MarketDataset\n"
        "a, b = MarketDataset.synthetic(n_symbols=4, n_days=20, seed=7), MarketDataset.synthetic(n_symbols=4, n_days=20, seed=8)\n"
        "print('ready', flush=True)\n"
        "while True:\n    a.save(sys.argv[1]); b.save(sys.argv[1])\n"
    )  # fmt: skip
    rng = np.random.default_rng(0)
    for _ in range(12):
        writer = subprocess.Popen([sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.3))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        loaded = MarketDataset.load(target, mmap=False)
        assert np.array_equal(loaded.bars["price"], small_market.bars["price"]) or np.array_equal(
            loaded.bars["price"], other.bars["price"]
        )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["market"]


def test_a_damaged_preset_cache_is_rebuilt(tmp_path):
    folder = FIXTURES / "ashare-etf-5min"
    first = MarketDataset.from_preset("ashare-etf-5min", path=folder, cache=tmp_path, min_coverage=0.01)
    (cache,) = [path for path in tmp_path.iterdir()]
    (cache / "low.npy").unlink()  # what a killed replacement once left, on every later load
    with pytest.warns(UserWarning, match="rebuilding the damaged cache"):
        again = MarketDataset.from_preset("ashare-etf-5min", path=folder, cache=tmp_path, min_coverage=0.01)
    assert_same(again, first)
    assert_same(MarketDataset.load(cache), first)  # whole again


def test_a_sharded_market_refuses_edited_or_swapped_parts(tmp_path):
    market = synthetic_shards(tmp_path / "market", n_symbols=6, n_days=8, symbols_per_shard=2)
    directory = market.directory
    shard = market.shard(1)  # a good shard opens
    assert len(shard) > 0
    meta = json.loads((directory / "meta.json").read_text())
    (directory / "meta.json").write_text(json.dumps({**meta, "shards": meta["shards"][::-1]}))  # swapped names
    with pytest.raises(DataError, match="changed meta.json"):
        ShardedMarket.open(directory)
    (directory / "meta.json").write_text(json.dumps(meta))
    shutil.rmtree(directory / "shards" / "00000")
    shutil.copytree(directory / "shards" / "00001", directory / "shards" / "00000")  # another shard's copy
    with pytest.raises(DataError, match="replaced shard.*00000"):
        ShardedMarket.open(directory).shard(0)
    rewrite(directory / "rows.npy", lambda v: v[::-1].copy())
    with pytest.raises(DataError, match="changed array file.*rows.npy"):
        ShardedMarket.open(directory)


def test_the_preset_cache_follows_the_files_contents_not_their_sizes_and_times(tmp_path):
    """A file edited in place, same size and same modification time, is read again, not served from the cache."""
    folder = tmp_path / "etf"
    shutil.copytree(FIXTURES / "ashare-etf-5min", folder)
    first = MarketDataset.from_preset("ashare-etf-5min", path=folder, cache=tmp_path / "cache", min_coverage=0.01)
    path = folder / "510300.min.csv"
    stat = path.stat()
    text = path.read_text()
    changed = text.replace(",9850.0,", ",9851.0,", 1)  # the amount of one bar: its VWAP price moves
    assert changed != text and len(changed) == len(text)
    path.write_text(changed)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = MarketDataset.from_preset("ashare-etf-5min", path=folder, cache=tmp_path / "cache", min_coverage=0.01)
    assert not all(np.array_equal(again.bars[name], first.bars[name]) for name in first.bars)


def test_two_writers_at_once_leave_one_whole_dataset(tmp_path, small_market):
    """Two processes saving different markets into one directory at the same time (parallel trials building one
    cache): neither fails, and what is left loads, verified, as one of the two."""
    target = tmp_path / "market"
    script = (
        "import sys\nfrom order_exec_gym.data.dataset import MarketDataset\n"
        "m = MarketDataset.synthetic(n_symbols=4, n_days=20, seed=int(sys.argv[2]))\n"
        "for _ in range(15):\n    m.save(sys.argv[1])\n"
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, str(target), seed]) for seed in ("7", "8")]
    assert [writer.wait() for writer in writers] == [0, 0]
    loaded = MarketDataset.load(target, mmap=False)
    other = MarketDataset.synthetic(n_symbols=4, n_days=20, seed=8)
    assert any(np.array_equal(loaded.bars["price"], m.bars["price"]) for m in (small_market, other))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["market"]
