"""Data at rest: every edit, truncation or loss of a saved dataset, cache or sharded market is an error naming the
file, never a different market; a writer killed at any moment leaves the old or the new directory whole."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.shards import ShardedMarket, synthetic_shards
from order_exec_gym.data.store import recover_directory
from order_exec_gym.errors import DataError
from tests.conftest import same_data

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


# --------------------------------------------------------------------------------------------------------------
# Writers killed at random points
# --------------------------------------------------------------------------------------------------------------

#: The fork server (see :class:`ForkServer`): argv[1] is ``{name: directory}`` of the markets ``save`` jobs write.
FORK_SERVER = r"""
import json, os, signal, sys, time, traceback
from pathlib import Path

from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.shards import synthetic_shards

MARKETS = {name: MarketDataset.load(path, mmap=False) for name, path in json.loads(sys.argv[1]).items()}


def write(job):
    if job["kind"] == "save":
        MARKETS[job["market"]].save(job["target"])
    elif job["kind"] == "shards":
        synthetic_shards(job["target"], **job["options"])
    else:
        MarketDataset.from_preset(job["preset"], path=job["path"], cache=job["cache"], min_coverage=0.01)


def state(target, pid):
    # What a replacement of target changes: its meta.json (moved aside, or another one), its old directory.
    try:
        inode = os.stat(target / "meta.json").st_ino
    except OSError:
        inode = None
    return inode, target.with_name(f"{target.name}.old{pid}").exists()


def watch(pid, job, start, until):
    # Poll the writer until it exits, or until `until` (None, "write": its temporary directory appears,
    # "replace": the target's meta.json or old directory change), for at most job["limit"] seconds; return its
    # exit status (None if it runs on) and when its temporary directory was first and last seen (or, for
    # "replace", when the change was seen), in seconds since the fork.
    target = Path(job["target"])
    before, seen = state(target, pid), None
    # the write's temporary directory; a preset streamed through shards first builds in <preset>-build.tmp<pid>
    # beside the cache (a save of a small fixture is over too fast to be seen reliably)
    tmps = [target.with_name(f"{target.name}.tmp{pid}")]
    if job.get("preset"):
        tmps.append(target.parent / f"{job['preset']}-build.tmp{pid}")
    while time.perf_counter() - start < job["limit"]:
        done, status = os.waitpid(pid, os.WNOHANG)
        now = time.perf_counter() - start
        if done:
            return status, seen
        if until == "replace":
            if state(target, pid) != before:
                return None, [now, now]
        elif any(tmp.exists() for tmp in tmps):
            seen = [now, now] if seen is None else [seen[0], now]
            if until == "write":
                return None, seen
        time.sleep(0.0002)
    return None, seen


for line in sys.stdin:
    job = json.loads(line)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the writer: one write, then (when it is to be killed) idle until killed
        code = 0
        try:
            write(job)
            if job["after"] is not None:
                time.sleep(60)
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    status, seen = None, None
    if job["after"] != "fork":
        status, seen = watch(pid, job, start, until=job["after"])
    if status is None:
        origin = seen[0] if job["after"] in ("write", "replace") and seen else 0.0
        time.sleep(max(0.0, origin + job["delay"] - (time.perf_counter() - start)))
        os.kill(pid, signal.SIGKILL)
        status = os.waitpid(pid, 0)[1]
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    reply = {"pid": pid, "killed": killed, "code": code, "seconds": time.perf_counter() - start, "write": seen}
    print(json.dumps(reply), flush=True)
"""


class ForkServer:
    """A Python process that has imported the data layer but run no polars query, forking one writer per request
    and SIGKILLing it at the requested moment.

    The writers are forked from it rather than from pytest's process: polars' thread pool does not survive a fork,
    so a writer forked from a process that has run a polars query (pytest's has) hangs at its own first query. One
    interpreter starts once; each writer is a fork of it, ready at once."""

    def __init__(self, markets: dict[str, Path], log: Path):
        self.log = log
        with open(log, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-c", FORK_SERVER, json.dumps({name: str(path) for name, path in markets.items()})],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
            )  # fmt: skip

    def run(self, job: dict[str, Any], after: str | None = None, delay: float = 0.0, limit: float = 10.0) -> dict:
        """Fork a writer doing ``job`` once. ``after=None``: wait for it to finish (at most ``limit`` seconds).
        Else SIGKILL it ``delay`` seconds after ``"fork"``, ``"write"`` (the first appearance of its temporary
        directory) or ``"replace"`` (the target's ``meta.json`` moved away or replaced, or its old directory
        appearing), awaited for at most ``limit`` seconds; it idles once its write is done.

        Returns ``pid``, ``killed``, ``seconds`` from the fork to its end, and ``write``: when its temporary
        directory was first and last seen (for ``"replace"``: when the change was seen), in seconds from the fork,
        or None."""
        self.process.stdin.write(json.dumps(job | {"after": after, "delay": delay, "limit": limit}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the fork server died:\n{self.log.read_text()}"
        reply = json.loads(line)
        assert reply["killed"] or reply["code"] == 0, f"the writer failed:\n{self.log.read_text()}"
        return reply

    def close(self) -> None:
        self.process.stdin.close()
        self.process.stdout.close()
        self.process.wait(timeout=30)


#: The two markets save jobs write in turn (large enough that a save takes some milliseconds).
KILL_MARKETS = {"a": {"n_symbols": 24, "n_days": 40, "seed": 1}, "b": {"n_symbols": 24, "n_days": 40, "seed": 2}}
KILLS = 20  # per kind of write: 60 in all
SHARD_OPTIONS = {"n_symbols": 6, "n_days": 8, "symbols_per_shard": 2}
PRESET = "ashare-etf-5min"
PRESET_FOLDERS = {"ashare-etf-5min": "ashare-etf-5min", "ashare-1min": "ashare-1min-2024"}


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory) -> ForkServer:
    root = tmp_path_factory.mktemp("fork_server")
    for name, options in KILL_MARKETS.items():
        MarketDataset.synthetic(**options).save(root / name)
    server = ForkServer({name: root / name for name in KILL_MARKETS}, root / "server.log")
    yield server
    server.close()


def leftovers(directory: Path) -> list[str]:
    """What writers of ``directory`` left beside it (temporary and old directories)."""
    return sorted(path.name for path in directory.parent.iterdir() if path.name.startswith(f"{directory.name}."))


class Replacement:
    """A directory and the write that replaces what it holds (``old``) by the other version (``new``)."""

    target: Path

    def job(self) -> dict[str, Any]:
        """The fork server's job writing the new version (after setting the old one up)."""
        raise NotImplementedError

    def outcome(self) -> str:
        """Load what a kill left: ``"old"`` or ``"new"``, whole and verified; fails on anything else."""
        raise NotImplementedError

    def leftovers(self) -> list[str]:
        """What writers left beside the target (temporary and old directories)."""
        return leftovers(self.target)


class SavedMarket(Replacement):
    """``MarketDataset.save`` of market a or b over the other."""

    def __init__(self, tmp_path: Path):
        self.markets = {name: MarketDataset.synthetic(**options) for name, options in KILL_MARKETS.items()}
        self.target, self.current = tmp_path / "saved" / "market", "b"
        self.markets[self.current].save(self.target)

    def job(self) -> dict[str, Any]:
        return {"kind": "save", "target": str(self.target), "market": "a" if self.current == "b" else "b"}

    def outcome(self) -> str:
        loaded = MarketDataset.load(self.target, mmap=False)  # never an error
        names = [name for name, market in self.markets.items() if same_data(loaded, market)]
        assert names, "the saved dataset loads as neither market"
        old, self.current = self.current, names[0]
        return "old" if self.current == old else "new"


class Sharded(Replacement):
    """``synthetic_shards`` with seed 0 or 1 over the other."""

    def __init__(self, tmp_path: Path):
        self.truths = {
            seed: synthetic_shards(tmp_path / f"{seed}", **SHARD_OPTIONS, seed=seed).to_dataset() for seed in (0, 1)
        }
        self.target, self.current = tmp_path / "sharded" / "market", 1
        synthetic_shards(self.target, **SHARD_OPTIONS, seed=self.current)

    def job(self) -> dict[str, Any]:
        return {"kind": "shards", "target": str(self.target), "options": SHARD_OPTIONS | {"seed": 1 - self.current}}

    def outcome(self) -> str:
        loaded = ShardedMarket.open(self.target).to_dataset()  # the index and every shard, verified
        seeds = [seed for seed, truth in self.truths.items() if same_data(loaded, truth)]
        assert seeds, "the sharded market loads as neither version"
        old, self.current = self.current, seeds[0]
        return "old" if self.current == old else "new"


class PresetCache(Replacement):
    """``from_preset`` on a preset whose cache was deleted (a build) or damaged (a replacement: one file deleted)."""

    def __init__(self, tmp_path: Path, preset: str = PRESET):
        self.preset, self.folder, self.cache = preset, FIXTURES / PRESET_FOLDERS[preset], tmp_path / "cache"
        self.truth = self.load()
        (self.target,) = list(self.cache.iterdir())
        self.builds = 0

    def load(self) -> MarketDataset:
        return MarketDataset.from_preset(self.preset, path=self.folder, cache=self.cache, min_coverage=0.01)

    def job(self) -> dict[str, Any]:
        self.builds += 1
        if self.builds % 2:
            shutil.rmtree(self.target)
        else:
            (self.target / "low.npy").unlink()
        paths = {"target": self.target, "path": self.folder, "cache": self.cache}
        return {"kind": "preset", "preset": self.preset} | {key: str(path) for key, path in paths.items()}

    def leftovers(self) -> list[str]:
        """Beside the target, and a streamed build's scratch directory in the cache folder."""
        scratch = sorted(path.name for path in self.cache.glob(f"{self.preset}-build.tmp*"))
        return leftovers(self.target) + scratch

    def outcome(self) -> str:
        try:
            loaded = MarketDataset.load(self.target, mmap=False)
        except DataError as error:
            if self.builds % 2:
                assert not self.target.exists(), f"a killed build left a broken cache: {error}"
            else:
                assert "missing array file" in str(error) and "low.npy" in str(error), f"not the old cache: {error}"
            state = "old"
        else:
            assert same_data(loaded, self.truth), "the cache loads as another market"
            state = "new"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert same_data(self.load(), self.truth)
        warned = any("rebuilding the damaged cache" in str(warning.message) for warning in caught)
        assert warned == (state == "old" and self.builds % 2 == 0), [str(warning.message) for warning in caught]
        assert same_data(MarketDataset.load(self.target, mmap=False), self.truth), "the rebuilt cache is not whole"
        assert list(self.cache.iterdir()) == [self.target], "the cache folder holds what killed builds left"
        return state


REPLACEMENTS = {
    "save": SavedMarket,
    "shards": Sharded,
    "preset": PresetCache,
    "streamed preset": lambda tmp_path: PresetCache(tmp_path, "ashare-1min"),  # built through preset_shards
}
@pytest.mark.parametrize("kind", list(REPLACEMENTS))
def test_writers_killed_at_random_points_leave_the_old_or_the_new_data(fork_server, tmp_path, kind):
    """A writer replacing a saved dataset (``MarketDataset.save``), a sharded market (``synthetic_shards``) or a
    preset's cache (``from_preset`` after the cache was deleted or lost a file; a small preset, and one streamed
    through shards) is SIGKILLed at a random moment, 20 times per kind: after each kill the directory loads,
    verified, as the old or the new version (a cache: whole, or rebuilt whole by the next ``from_preset``), never as
    an error or another market, and that load leaves no temporary or old directory behind.

    Each writer is forked, writes once, then idles. The kill moments are drawn (seeded) over the write, timed
    first: a third from the fork, a third from the moment the write's temporary directory (for a streamed preset, its
    build's scratch directory) appears, a third within a millisecond of the moment the old directory is moved aside
    (or, for a build, the new one comes in). The test asserts that both versions were seen, and that a fair share of
    the kills left a write half done."""
    replacement = REPLACEMENTS[kind](tmp_path)
    timed = []
    for _ in range(6):  # unkilled: the duration of a write (two in which the poll saw its temporary directory)
        reply = fork_server.run(replacement.job())
        assert replacement.outcome() == "new", reply
        timed += [reply] if reply["write"] else []
        if len(timed) == 2:
            break
    assert timed, "the write's temporary directory was never seen: the kills could not be placed in the write"
    total = max(reply["seconds"] for reply in timed)
    write = max(min(last - first for first, last in (reply["write"] for reply in timed)), 1e-3)
    rng = np.random.default_rng(list(REPLACEMENTS).index(kind))
    outcomes, inside, started = Counter(), 0, time.perf_counter()
    for k in range(KILLS):
        if k >= KILLS - 4 and "new" not in outcomes:  # steer the last kills to what the timing noise kept unseen
            after, delay = "fork", rng.uniform(1.5, 2.0) * total
        elif k >= KILLS - 4 and ("old" not in outcomes or inside < KILLS // 4):
            after, delay = "write", rng.uniform(0.0, 0.5 * write)
        else:
            after = ("fork", "write", "replace")[k % 3]
            scale = {"fork": 1.5 * total, "write": 1.5 * write, "replace": 1e-3}[after]
            delay = rng.uniform(0.0, scale)
        reply = fork_server.run(replacement.job(), after, delay)
        assert reply["killed"], reply
        left = replacement.leftovers()
        assert all(name.endswith(f"{reply['pid']}") for name in left), left
        inside += bool(left)
        outcomes[replacement.outcome()] += 1
        assert replacement.leftovers() == [], "stale directories after the next load"
    note = f"{KILLS} kills in {time.perf_counter() - started:.1f}s, {inside} mid-write, outcomes {dict(outcomes)}"
    print(kind, note)
    assert outcomes.keys() == {"old", "new"}, note  # kills fell before and after the writes' renames
    assert inside >= KILLS // 5, note  # and many inside the writes
