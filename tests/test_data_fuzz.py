"""Fuzzing the data layer: a corrupted bar table fails loudly, or it makes a faithful dataset that trades soundly;
data damaged at rest is refused naming the damage, or rebuilt (see the section "Data at rest").

Each example builds a valid table of random bars (1-3 symbols x 2-4 days x 6-10 one-minute bars, prices from 1e-3
to 1e5, with or without a session calendar), applies one corruption of the class under test (the test is
parametrised over every class) and maybe one benign content change, and reads it directly as a ``BarTable`` or
through ``read_bars`` from CSV, gzipped CSV, two CSV files or Parquet. Corruptions change the CONTENT (bad values,
text, order, duplicates, drops, one-bar and untraded days, extremes inside the valid range) or only the
REPRESENTATION of the same bars (dtypes, text numbers, categories, interleaved symbols, time zones with or without
``time_zone``, a missing column). The outcome must be one of:

* a ``DataError``/``ValueError`` whose rule names a problem one of the corruptions made, and whose message names
  the rule and the source;
* a ``MarketDataset`` that holds the content exactly (every bar of every episode, in time order, float32-rounded;
  volumes add up), whose report accounts for every symbol-day (episode or counted drop) and every filled bar, and
  on which a random policy gets finite rewards and observations and executed ratios summing to 1.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import gymnasium as gym
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import order_exec_gym  # noqa: F401  (registers OrderExec-v0)
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.readers import UNTRADED, read_bars
from order_exec_gym.data.schema import PRICE_RANGE, VOLUME_RANGE, BarTable, bar_day, bar_times
from order_exec_gym.data.shards import ShardedMarket, synthetic_shards
from order_exec_gym.errors import DataError
from tests.conftest import same_data

SOURCE = "fuzz"
FIRST_DAY = date(2024, 3, 4)
PRICES = ("open", "high", "low", "close", "price")
NUMBERS = (*PRICES, "volume")
PATHS = ("table", "csv", "csv.gz", "two csv", "parquet")
DAY_RULES = ("empty day", "empty table", "empty dataset")  # what dropping or emptying bars may end in
FILLS = (
    "leading missing bars filled (previous session's close, zero volume)",
    "missing bars filled (previous close, zero volume)",
)


def valid_bars(draw: Callable, n_bars: int) -> pl.DataFrame:
    """A valid canonical table: random-walk closes, open = previous close, wicks, volume >= 1 on each first bar."""
    n_symbols, n_days = draw(st.integers(1, 3)), draw(st.integers(2, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    level = 10.0 ** draw(st.floats(-3, 5))
    shape = (n_symbols, n_days, n_bars)
    close = level * np.exp(np.cumsum(rng.normal(0, 0.01, shape), axis=-1))
    open_ = np.concatenate([close[..., :1] * np.exp(rng.normal(0, 0.01, shape[:2] + (1,))), close[..., :-1]], axis=-1)
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.005, shape))
    low = np.minimum(open_, close) / (1 + rng.uniform(0, 0.005, shape))
    volume = rng.integers(0, 1000, shape).astype(float)
    volume[..., 0] += 1
    start = [datetime.combine(FIRST_DAY + timedelta(days=d), time(9, 31)) for d in range(n_days)]
    timestamps = [[[s + timedelta(minutes=m) for m in range(n_bars)] for s in start]] * n_symbols
    symbols = np.broadcast_to(np.array([f"S{i}" for i in range(n_symbols)])[:, None, None], shape)
    return pl.DataFrame(
        {
            "symbol": symbols.ravel(),
            "timestamp": np.array(timestamps, dtype="datetime64[us]").ravel(),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "volume": volume.ravel(),
            "price": ((high + low) / 2).ravel(),
        }
    )


def set_cells(frame: pl.DataFrame, rows: list[int], column: str, value) -> pl.DataFrame:
    """``frame`` with ``column`` set to ``value`` on ``rows`` (the column becomes text when ``value`` is)."""
    hit = pl.int_range(pl.len()).is_in(rows)
    current = pl.col(column).cast(pl.String) if isinstance(value, str) else pl.col(column)
    return frame.with_columns(pl.when(hit).then(pl.lit(value)).otherwise(current).alias(column))


# ---------------------------------------------------------------------------------------------- content corruptions
# Each takes (draw, frame) and returns the corrupted frame and the rules that may report it.


def numbers(frame: pl.DataFrame) -> list[str]:
    """The number columns of ``frame`` (read_bars makes the price, so its files have none)."""
    return [c for c in NUMBERS if c in frame.columns]


def bad_values(*values: float | None) -> Callable:
    """A corruption setting 1-3 cells of a number column to one of ``values``."""

    def corrupt(draw, frame):
        column = draw(st.sampled_from(numbers(frame)))
        rows = draw(st.lists(st.integers(0, frame.height - 1), min_size=1, max_size=3))
        rules = ("volume", *DAY_RULES) if column == "volume" else (f"({column})", "high < low", "outside [low, high]")
        return set_cells(frame, rows, column, draw(st.sampled_from(values))), rules

    return corrupt


def outside_range(draw, frame):
    row, factor = draw(st.integers(0, frame.height - 1)), draw(st.sampled_from((1.5, 0.5)))
    column = draw(st.sampled_from([c for c in ("close", "price", "low") if c in frame.columns]))
    value = frame[column][row] * factor
    return set_cells(frame, [row], column, value), ("high < low", "outside [low, high]", "out of range")  # at a bound


def text(draw, frame):
    column, row = draw(st.sampled_from(numbers(frame))), draw(st.integers(0, frame.height - 1))
    value = draw(st.sampled_from(("abc", "1,5", " 1.5", "", "n/a", "1e999", "1.5e")))
    rules = {"": ("NaN or missing",), "1e999": ("out of range",)}.get(value, ())  # CSV reads "" as missing
    return set_cells(frame, [row], column, value), (f"not a number ({column})", *rules)


def shuffle(draw, frame):
    order = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).permutation(frame.height)
    return frame[order], ("unsorted timestamps", "duplicated timestamp")


def swap(draw, frame):
    row = draw(st.integers(0, frame.height - 2))
    order = list(range(frame.height))
    order[row], order[row + 1] = order[row + 1], order[row]
    return frame[order], ("unsorted timestamps",)


def duplicate(draw, frame):
    row = draw(st.integers(0, frame.height - 1))
    at = row + 1 if draw(st.booleans()) else draw(st.integers(0, frame.height))  # next to it, or anywhere
    # the copy's close moved by 0.01% or not, towards 1 so that a close at a bound of the valid range stays inside it
    step = draw(st.sampled_from((0.0, 1e-4)))
    copy = frame[row].with_columns(pl.col("close") * pl.when(pl.col("close") > 1).then(1 - step).otherwise(1 + step))
    rules = ("duplicated timestamp", "unsorted timestamps", "outside [low, high]")
    return pl.concat([frame[:at], copy, frame[at:]]), rules


def missing_bar(draw, frame):
    row = draw(st.integers(0, frame.height - 1))
    return frame.filter(pl.int_range(pl.len()) != row), DAY_RULES


def drop_rows(draw, frame):
    rows = draw(st.lists(st.integers(0, frame.height - 1), min_size=1, max_size=frame.height // 3, unique=True))
    return frame.filter(~pl.int_range(pl.len()).is_in(rows)), DAY_RULES


def untraded_day(draw, frame):
    symbol = draw(st.sampled_from(sorted(frame["symbol"].unique())))
    day = draw(st.sampled_from(sorted(frame["timestamp"].dt.date().unique())))
    hit = (pl.col("symbol") == symbol) & (pl.col("timestamp").dt.date() == day)
    return frame.with_columns(pl.when(hit).then(0.0).otherwise(pl.col("volume")).alias("volume")), DAY_RULES


def one_bar_day(draw, frame):
    symbols = draw(st.lists(st.sampled_from(sorted(frame["symbol"].unique())), min_size=1, unique=True))
    later = frame["timestamp"].max().date() + timedelta(days=1)
    first = frame.filter(pl.col("symbol").is_in(symbols), pl.col("timestamp") == pl.col("timestamp").min())
    rows = first.with_columns(pl.lit(datetime.combine(later, time(9, 31))).alias("timestamp"), pl.lit(5.0).alias("volume"))
    return pl.concat([frame, rows]), DAY_RULES


def off_session_bar(draw, frame):
    row = frame.sort("timestamp").tail(1).with_columns(pl.col("timestamp") + pl.duration(hours=draw(st.integers(1, 5))))
    return pl.concat([frame, row]).sort("symbol", "timestamp"), ("bar outside the session", *DAY_RULES)


def extremes(draw, frame):
    """Values at the far ends of the valid range: nothing may break."""
    low, high = PRICE_RANGE
    prices = [c for c in PRICES if c in frame.columns]
    kind = draw(st.sampled_from(("scale", "bound", "volume")))
    if kind == "volume":
        rows = draw(st.lists(st.integers(0, frame.height - 1), min_size=1, max_size=3))
        return set_cells(frame, rows, "volume", draw(st.sampled_from(VOLUME_RANGE))), ()
    symbol = draw(st.sampled_from(sorted(frame["symbol"].unique())))
    mine = pl.col("symbol") == symbol
    if kind == "bound":
        value = draw(st.sampled_from((low, high)))
        return frame.with_columns(pl.when(mine).then(value).otherwise(pl.col(c)).alias(c) for c in prices), ()
    top = frame.filter(mine)["high"].max()
    factor = draw(st.sampled_from((low / frame.filter(mine)["low"].min() * 10, high / top / 10)))
    return frame.with_columns(pl.when(mine).then(pl.col(c) * factor).otherwise(pl.col(c)).alias(c) for c in prices), ()


BREAKING = {  # content that breaks a rule: it must raise
    "NaN or missing value": bad_values(float("nan"), None),
    "infinite value": bad_values(float("inf"), -float("inf")),
    "negative or zero value": bad_values(-1.0, 0.0, -1e-300),
    "value too large for float32 or the range": bad_values(1e300, 1e40, 1e16),
    "value too small for float32 or the range": bad_values(1e-300, 1e-40, 1e-16),
    "OHLC inconsistent": outside_range,
    "text in a number column": text,
    "rows shuffled": shuffle,
    "rows swapped": swap,
    "duplicate row": duplicate,
}
# Content a dataset can hold: exactly, or with counted drops and fills (or an error naming the rule). Benign changes
# are applied first (they need valid bars), text last (the others need number columns).
BENIGN = {
    "a bar missing": missing_bar,
    "rows dropped": drop_rows,
    "untraded day": untraded_day,
    "one-bar day": one_bar_day,
    "bar outside the session": off_session_bar,
    "extremes in range": extremes,
}
CONTENT = BREAKING | BENIGN


# ---------------------------------------------------------------------------------------- representation changes
# Each takes (draw, frame, path) and returns the frame to write or wrap, read_bars options, and the rules that may
# report it (none: the same bars must come out).


def same(draw, frame, path):
    return frame, {}, ()


def interleaved(draw, frame, path):
    return frame.sort("timestamp", "symbol"), {}, ()


def text_numbers(draw, frame, path):
    column = draw(st.sampled_from(numbers(frame)))
    return frame.with_columns(pl.col(column).cast(pl.String)), {}, ()


def categories(draw, frame, path):
    return frame.with_columns(pl.col("symbol").cast(pl.Categorical)), {}, ()


def wrong_dtype(draw, frame, path):
    kinds = [("close", pl.Boolean), ("volume", pl.Boolean), ("open", pl.Date)]
    kinds += [("symbol", pl.Float64)] if path in ("table", "parquet") else []  # in CSV, 1.5 is just a symbol's name
    column, dtype = draw(st.sampled_from(kinds))
    value = {pl.Boolean: True, pl.Date: date(2024, 1, 1), pl.Float64: 1.5}[dtype]
    rules = (f"not a number ({column})", f"{column} is not text")
    return frame.with_columns(pl.lit(value, dtype).alias(column)), {}, rules


def timestamps_as(draw, frame, path):
    kind = draw(st.sampled_from(("epoch", "date", "text")))
    column = {"epoch": pl.col("timestamp").dt.epoch("s"), "date": pl.col("timestamp").dt.date()}.get(kind)
    if column is None:  # text the reader parses; a hand-made table must hold date-times
        column = pl.col("timestamp").dt.strftime("%Y-%m-%d %H:%M:%S")
    rules = () if kind == "text" and path != "table" else ("timestamp",)
    return frame.with_columns(column.alias("timestamp")), {}, rules


def zoned(draw, frame, path):
    zone = draw(st.sampled_from(("Asia/Shanghai", "UTC", "America/New_York")))
    frame = frame.with_columns(pl.col("timestamp").dt.replace_time_zone(zone))
    if path != "table" and draw(st.booleans()):
        return frame, {"time_zone": zone}, ()  # the exchange's zone given: its wall clock, exactly
    return frame, {}, ("timezone-aware timestamps",)


def missing_column(draw, frame, path):
    return frame.drop(draw(st.sampled_from(frame.columns))), {}, ("missing column",)


SAME_BARS = {  # the same bars, written differently: they must come out exactly
    "as it is": same,
    "symbols interleaved": interleaved,
    "numbers as text": text_numbers,
    "symbols as categories": categories,
}
OTHER_FORMS = {  # forms that must raise (or, for time zones with time_zone=, read as the exchange's wall clock)
    "column of the wrong dtype": wrong_dtype,
    "timestamps as numbers, dates or text": timestamps_as,
    "time zones": zoned,
    "missing column": missing_column,
}
REPRESENTATION = SAME_BARS | OTHER_FORMS


# ------------------------------------------------------------------------------------------------------ the checks


def build(frame: pl.DataFrame, path: str, options: dict, session, folder: Path) -> BarTable:
    """The bars read the way ``path`` says: a hand-made BarTable, or read_bars on files written to ``folder``."""
    if path == "table":
        return BarTable(frame, bar_minutes=1, source=SOURCE, session=session)
    if path == "parquet":
        files = [folder / "bars.parquet"]
        frame.write_parquet(files[0])
    elif path == "two csv":
        files = [folder / "first.csv", folder / "second.csv"]
        frame[: frame.height // 2].write_csv(files[0])
        frame[frame.height // 2 :].write_csv(files[1])
    elif path == "csv.gz":
        files = [folder / "bars.csv.gz"]
        files[0].write_bytes(gzip.compress(frame.write_csv().encode()))
    else:
        files = [folder / "bars.csv"]
        frame.write_csv(files[0])
    return read_bars(files, bar_minutes=1, session=session, source=SOURCE, **options)


def assert_faithful(truth: pl.DataFrame, table: BarTable, dataset: MarketDataset, min_coverage: float) -> None:
    """The table holds the bars exactly, less the counted untraded symbol-days; every symbol-day is an episode or a
    counted drop; every episode holds its bars exactly, in time order; every other bar of an episode is a counted
    fill."""
    truth = truth.with_columns(pl.col(c).cast(pl.Float64, strict=False) for c in NUMBERS)  # text: null, never equal
    traded = truth.group_by("symbol", bar_day(1).alias("date")).agg((pl.col("volume") != 0).any().alias("traded"))
    kept = truth.with_columns(bar_day(1).alias("date")).join(traded, on=["symbol", "date"]).filter("traded")
    assert table.report.get(UNTRADED, 0) == traded.height - traded["traded"].sum()
    expected = kept.select(table.frame.columns).sort("symbol", "timestamp")
    assert_frame_equal(table.frame.sort("symbol", "timestamp"), expected)
    days = truth.group_by("symbol", bar_day(1).alias("date")).agg(
        pl.col("close").sort_by("timestamp"), pl.col("price").sort_by("timestamp"), pl.col("volume").sum()
    )
    drops = sum(n for reason, n in dataset.report.items() if reason == UNTRADED or reason.startswith("episodes dropped"))
    assert days.height == len(dataset) + drops, (days.height, len(dataset), dataset.report)
    by_key = {(row["symbol"], row["date"]): row for row in days.iter_rows(named=True)}
    real = 0
    for i in range(len(dataset)):
        row = by_key[(str(dataset.symbols[i]), dataset.dates[i].astype(date))]
        n = int(dataset.lengths[i])
        assert len(row["close"]) >= min_coverage * dataset.max_bars, "an episode short of a full session"
        for name in ("close", "price"):
            assert_subsequence(np.array(row[name], dtype=np.float32), dataset.bars[name][i, :n])
        np.testing.assert_allclose(dataset.bars["volume"][i, :n].sum(dtype=np.float64), row["volume"], rtol=1e-5)
        real += len(row["close"])
    assert int(dataset.lengths.sum()) - real == sum(dataset.report.get(reason, 0) for reason in FILLS)


def assert_valid(dataset: MarketDataset) -> None:
    """The episode arrays hold only what validation lets through, and every episode trades."""
    low, high = PRICE_RANGE
    for name in PRICES:
        values = dataset.bars[name]
        assert ((values >= np.float32(low)) & (values <= np.float32(high))).all(), name
    assert ((dataset.bars["volume"] >= 0) & (dataset.bars["volume"] <= np.float32(VOLUME_RANGE[1]))).all()
    assert (dataset.bars["high"] >= dataset.bars["low"] * (1 - 1e-6)).all()
    assert (dataset.bars["volume"].sum(axis=1) > 0).all(), "an untraded symbol-day became an episode"


def assert_subsequence(values: np.ndarray, row: np.ndarray) -> None:
    """``values`` appear in ``row`` in this order (fills repeat earlier values in between)."""
    at = 0
    for value in values:
        found = np.flatnonzero(row[at:] == value)
        assert len(found), f"{value} missing or out of order in {row}"
        at += int(found[0]) + 1


def assert_trades_soundly(dataset: MarketDataset, seed: int) -> None:
    """A random policy on every episode: finite rewards and observations, executed ratios summing to 1."""
    env = gym.make("OrderExec-v0", data=dataset, split="all", step_minutes=2)
    env.action_space.seed(seed)
    for episode in range(len(dataset)):
        obs, info = env.reset(seed=seed, options={"episode": episode})
        executed, done = 0.0, False
        while not done:
            assert all(np.isfinite(part).all() for part in obs.values())
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert np.isfinite(reward)
            executed += float(np.sum(info["executed"]))
            done = terminated or truncated
        assert np.isfinite(info["price_advantage"]) and abs(executed - 1.0) < 1e-9


def one_example(data: st.DataObject, folder: Path, corruption: str, min_coverage: float) -> None:
    """``corruption`` (a content or representation class), on random bars, with or without a benign content change
    and a calendar, through a random path; then the outcome checks of the module docstring."""
    n_bars = data.draw(st.integers(6, 10), label="bars per session")
    truth = valid_bars(data.draw, n_bars)
    calendar = data.draw(st.booleans(), label="calendar")
    session = bar_times((time(9, 31), time(9, 30 + n_bars)), bar_minutes=1) if calendar else None
    path = data.draw(st.sampled_from(PATHS), label="path")
    if path != "table":
        truth = truth.drop("price")  # read_bars makes it: price = close
    content = [corruption] if corruption in CONTENT else []
    content += data.draw(st.lists(st.sampled_from(sorted(BENIGN)), max_size=1), label="benign content")
    content.sort(key=lambda name: (name in BREAKING, name == "text in a number column"))  # see the comment of BENIGN
    representation = corruption if corruption in REPRESENTATION else data.draw(st.sampled_from(sorted(SAME_BARS)))
    rules: list[str] = []
    for name in content:
        truth, may_report = CONTENT[name](data.draw, truth)
        rules += may_report
    frame, options, may_report = REPRESENTATION[representation](data.draw, truth, path)
    rules += may_report
    for name in (f"content: {' + '.join(content) or '-'}", f"representation: {representation}", f"path: {path}"):
        event(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # an overflow in a cast is a silent corruption
        try:
            table = build(frame, path, options, session, folder)
            dataset = MarketDataset.from_bars(table, min_coverage=min_coverage)
        except (DataError, ValueError) as error:
            event(f"outcome: error {getattr(error, 'rule', 'ValueError')}")
            assert any(fragment in str(getattr(error, "rule", error)) for fragment in rules), f"unexpected {error!r}"
            if isinstance(error, DataError):
                assert error.rule in str(error) and (SOURCE in str(error) or str(folder) in str(error))
            return
        event("outcome: dataset" + (", with counted drops or fills" if any(dataset.report.values()) else ""))
        if path != "table":
            truth = truth.with_columns(pl.col("close").alias("price"))
        assert_valid(dataset)
        assert_faithful(truth, table, dataset, min_coverage)
        assert_trades_soundly(dataset, seed=0)


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CLASSES = sorted(CONTENT) + sorted(REPRESENTATION)


@pytest.mark.parametrize("corruption", CLASSES)
@settings(FUZZ, max_examples=10)
@given(data=st.data(), min_coverage=st.sampled_from((0.9, 0.5)))
def test_corrupted_tables_fail_loudly_or_trade_soundly(corruption, data, min_coverage, tmp_path):
    one_example(data, tmp_path, corruption, min_coverage)


@pytest.mark.slow
@pytest.mark.parametrize("corruption", CLASSES)
@settings(FUZZ, max_examples=100)
@given(data=st.data(), min_coverage=st.sampled_from((0.9, 0.5)))
def test_corrupted_tables_fail_loudly_or_trade_soundly_at_length(corruption, data, min_coverage, tmp_path):
    one_example(data, tmp_path, corruption, min_coverage)


# --------------------------------------------------------------------------------------------------- blank lines
# Blank lines (or lines of empty fields, or of spaces) anywhere in CSV files: an error naming the first file that
# has one and the 1-based number of its first such line; nothing is skipped.

BLANKS = ("", ",,,,,,", " ", "\t", ",,", " , ")


def one_blank_lines_example(data: st.DataObject, folder: Path) -> None:
    frame = valid_bars(data.draw, data.draw(st.integers(6, 10), label="bars per session")).drop("price")
    path = data.draw(st.sampled_from(("csv", "csv.gz", "two csv")), label="path")
    newline = data.draw(st.sampled_from(("\n", "\r\n")), label="newline")
    parts = [frame] if path != "two csv" else [frame[: frame.height // 2], frame[frame.height // 2 :]]
    blank_in = data.draw(st.integers(0, len(parts) - 1), label="a file with a blank line")
    files, first = [], None
    for i, part in enumerate(parts):
        lines = part.write_csv().splitlines()
        insert = st.tuples(st.integers(0, len(lines)), st.sampled_from(BLANKS))
        inserts = data.draw(st.lists(insert, min_size=int(i == blank_in), max_size=3), label=f"blank lines of file {i}")
        for at, blank in sorted(inserts, key=lambda insert: -insert[0]):
            lines.insert(at, blank)
        name = folder / (f"part{i}.csv.gz" if path == "csv.gz" else f"part{i}.csv")
        text = "".join(line + newline for line in lines).encode()
        name.write_bytes(gzip.compress(text) if path == "csv.gz" else text)
        files.append(name)
        if inserts and first is None:
            first = (name, next(n for n, line in enumerate(lines, 1) if not line.strip(" \t,")))
    event(f"path: {path}")
    with pytest.raises(DataError) as error:
        read_bars(files, bar_minutes=1, source=SOURCE)
    assert error.value.rule == "blank line" and error.value.source == str(first[0]), str(error.value)
    assert f"line {first[1]} holds no value" in str(error.value)


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_blank_lines_anywhere_are_errors_naming_the_file_and_the_line(data, tmp_path):
    one_blank_lines_example(data, Path(tempfile.mkdtemp(dir=tmp_path)))


# -------------------------------------------------------------------------------------------------- data at rest
# A saved dataset, a preset's cache and a sharded market, damaged on disk at random by one class of damage: every
# load raises a DataError whose message names the damaged file or directory, or (a preset's cache only) rebuilds
# the cache from the preset's files, with a warning naming the damage, and gives exactly the original data. Whenever
# no error is raised, the data is exactly the original: zero silent corruptions.

FIXTURES = Path(__file__).parent / "data"
PRESET = "ashare-etf-5min"
SHARDED = {"n_symbols": 6, "n_days": 6, "symbols_per_shard": 2}
REBUILT = "rebuilding the damaged cache"


@dataclass(frozen=True)
class AtRest:
    """A directory as written (``original``), another version of it (same file names, other contents), what
    loading it gives (``truth``), and for a preset's cache the preset's folder."""

    kind: str
    original: Path
    other: Path
    truth: MarketDataset
    folder: Path | None = None


def load_at_rest(case: AtRest, directory: Path) -> MarketDataset:
    """Load ``directory`` as its kind is loaded: a saved dataset, a preset through its cache (``directory`` is the
    cache), a sharded market whole (its index, every shard and the market context)."""
    if case.kind == "dataset":
        return MarketDataset.load(directory, mmap=False)
    if case.kind == "preset cache":
        return MarketDataset.from_preset(PRESET, path=case.folder, cache=directory.parent, min_coverage=0.5)
    return ShardedMarket.open(directory).to_dataset()


def write_etf_preset(folder: Path, seed: int, n_days: int = 4) -> Path:
    """A small ``ashare-etf-5min`` folder: two funds' 5-minute bars over ``n_days`` sessions, in the vendor's
    columns (the loader reads the first 7)."""
    rng = np.random.default_rng(seed)
    session = bar_times((time(9, 35), time(11, 30)), (time(13, 5), time(15, 0)), bar_minutes=5)
    folder.mkdir(parents=True)
    for code in ("510300", "510500"):
        lines, close = ["datetime,open,close,high,low,vol,amount"], 4.0
        for day in range(n_days):
            for end in session:
                open_, close = close, round(close * (1 + rng.normal(0, 0.002)), 3)
                high, low = max(open_, close) + 0.002, min(open_, close) - 0.002
                volume = float(rng.integers(100, 10_000) * 100)
                stamp = datetime.combine(date(2022, 1, 4) + timedelta(days=day), end)
                amount = volume * (high + low) / 2
                lines.append(f"{stamp:%Y-%m-%d %H:%M:%S},{open_},{close},{high:.3f},{low:.3f},{volume},{amount:.1f}")
        (folder / f"{code}.min.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def at_rest(tmp_path_factory) -> dict[str, AtRest]:
    """The three kinds of directory, each in two versions, written once per module."""
    root = tmp_path_factory.mktemp("at_rest")
    cases = {}
    for version, seed in (("original", 0), ("other", 1)):
        MarketDataset.synthetic(n_symbols=3, n_days=6, seed=11 + seed).save(root / version / "dataset")
        synthetic_shards(root / version / "sharded", **SHARDED, seed=seed)
        folder = write_etf_preset(root / version / "preset", seed)
        MarketDataset.from_preset(PRESET, path=folder, cache=root / version / "cache", min_coverage=0.5)
    (original,), (other,) = (list((root / version / "cache").iterdir()) for version in ("original", "other"))
    other = other.rename(other.with_name(original.name))  # the other version's files, under the same names
    for case in (
        AtRest("dataset", root / "original" / "dataset", root / "other" / "dataset", None),
        AtRest("sharded market", root / "original" / "sharded", root / "other" / "sharded", None),
        AtRest("preset cache", original, other, None, root / "original" / "preset"),
    ):
        cases[case.kind] = replace(case, truth=load_at_rest(case, case.original))
    assert len(cases["preset cache"].truth) == 8 and not cases["preset cache"].truth.report.get(UNTRADED)
    return cases


def files(directory: Path, suffix: str = "") -> list[Path]:
    """Every file under ``directory`` (those ending with ``suffix``), sorted."""
    return sorted(path for path in directory.rglob(f"*{suffix}") if path.is_file())


def as_damaged(path: Path) -> list[Path]:
    """The paths an error may name for damage to ``path``: itself, and for a ``meta.json`` its directory too (a
    lost or foreign ``meta.json`` is a damaged directory)."""
    return [path, path.parent] if path.name == "meta.json" else [path]


def flip(path: Path, offsets: list[int], masks: list[int]) -> None:
    data = bytearray(path.read_bytes())
    for offset, mask in zip(offsets, masks):
        data[offset] ^= mask
    path.write_bytes(bytes(data))


# Each damage takes (draw, directory, other version) and returns the damaged paths.


def truncated(draw, directory, other):
    path = draw(st.sampled_from(files(directory)))
    with open(path, "r+b") as handle:
        handle.truncate(draw(st.integers(0, path.stat().st_size - 1)))
    return as_damaged(path)


def flipped_array_data(draw, directory, other):
    path = draw(st.sampled_from(files(directory, ".npy")))
    size, data = path.stat().st_size, np.load(path, mmap_mode="r").nbytes
    offsets = draw(st.lists(st.integers(size - data, size - 1), min_size=1, max_size=3, unique=True))
    flip(path, offsets, draw(st.lists(st.integers(1, 255), min_size=len(offsets), max_size=len(offsets))))
    return [path]


def flipped_anywhere(draw, directory, other):
    """Bytes of any file, array headers and ``meta.json`` included."""
    path = draw(st.sampled_from(files(directory)))
    offsets = draw(st.lists(st.integers(0, path.stat().st_size - 1), min_size=1, max_size=3, unique=True))
    flip(path, offsets, draw(st.lists(st.integers(1, 255), min_size=len(offsets), max_size=len(offsets))))
    return as_damaged(path)


def deleted(draw, directory, other):
    """A file, or (a sharded market) a whole shard."""
    path = draw(st.sampled_from(files(directory) + sorted(directory.glob("shards/*"))))
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    return as_damaged(path)


def swapped_arrays(draw, directory, other):
    """Two array files of the same shape (anywhere in the directory: two shards' arrays too) trade places."""
    shapes = {path: np.load(path, mmap_mode="r").shape for path in files(directory, ".npy")}
    pairs = [(a, b) for a, b in itertools.combinations(shapes, 2) if shapes[a] == shapes[b]]
    pairs = [(a, b) for a, b in pairs if a.read_bytes() != b.read_bytes()]
    a, b = draw(st.sampled_from(pairs))
    a.rename(a.with_name("swap")), b.rename(a), a.with_name("swap").rename(b)
    return [a, b]


def edited_meta(draw, directory, other):
    """A value of a ``meta.json`` edited: bar_minutes, a split's bound, an array's checksum, its own checksum (and
    of a sharded market's, the shards' names or checksums, max_bars)."""
    path = draw(st.sampled_from(files(directory, "meta.json")))
    meta = json.loads(path.read_text())
    key = draw(st.sampled_from([k for k in EDITS if k in meta]))
    meta[key] = EDITS[key](draw, meta[key])
    path.write_text(json.dumps(meta, indent=1))
    return as_damaged(path)


def other_hex(draw, digest: str) -> str:
    """``digest`` with one hex digit changed."""
    i = draw(st.integers(0, len(digest) - 1))
    return digest[:i] + draw(st.sampled_from([c for c in "0123456789abcdef" if c != digest[i]])) + digest[i + 1 :]


def other_split(draw, splits: dict) -> dict:
    name, end = draw(st.sampled_from(sorted(splits))), draw(st.integers(0, 1))
    bounds = list(splits[name])
    bounds[end] = str(date.fromisoformat(bounds[end]) + timedelta(days=draw(st.sampled_from((-2, -1, 1, 2)))))
    return splits | {name: bounds}


def other_file_checksum(draw, checksums: dict) -> dict:
    name = draw(st.sampled_from(sorted(checksums)))
    others = sorted(set(checksums.values()) - {checksums[name]})
    another = draw(st.sampled_from(others)) if others and draw(st.booleans()) else other_hex(draw, checksums[name])
    return checksums | {name: another}


EDITS = {
    "bar_minutes": lambda draw, value: value + draw(st.integers(1, 59)),
    "splits": other_split,
    "files": other_file_checksum,
    "checksum": other_hex,
    "max_bars": lambda draw, value: value + draw(st.sampled_from((-1, 1))),
    "shards": lambda draw, names: names[1:] + names[:1],
    "shard_checksums": lambda draw, checksums: checksums[1:] + checksums[:1],
}


def rotated_dates(draw, directory, other):
    """A dates array (an episodes', or a sharded market's index or context dates) rotated."""
    path = draw(st.sampled_from(files(directory, "dates.npy")))
    values = np.load(path)
    np.save(path, np.roll(values, draw(st.integers(1, len(values) - 1))))
    return [path]


def edited_lengths(draw, directory, other):
    path = draw(st.sampled_from(files(directory, "lengths.npy")))
    values = np.load(path)
    values[draw(st.integers(0, len(values) - 1))] += draw(st.sampled_from((-5, -1, 1, 5)))
    np.save(path, values)
    return [path]


def from_other_version(draw, directory, other):
    """A file replaced by the same file of another version (a backup restored in part, a sync copying one file)."""
    paths = [p for p in files(directory) if (other / p.relative_to(directory)).is_file()]
    changed = [p for p in paths if p.read_bytes() != (other / p.relative_to(directory)).read_bytes()]
    path = draw(st.sampled_from(changed))
    shutil.copyfile(other / path.relative_to(directory), path)
    return as_damaged(path)


def two_shards(directory: Path) -> st.SearchStrategy[list[Path]]:
    return st.lists(st.sampled_from(sorted(directory.glob("shards/*"))), min_size=2, max_size=2, unique=True)


def swapped_shards(draw, directory, other):
    a, b = draw(two_shards(directory))
    a.rename(a.with_name("swap")), b.rename(a), a.with_name("swap").rename(b)
    return [a, b]


def copied_shard(draw, directory, other):
    """A shard replaced by a copy of another."""
    source, copy = draw(two_shards(directory))
    shutil.rmtree(copy)
    shutil.copytree(source, copy)
    return [copy]


DAMAGE = {
    "truncated file": truncated,
    "flipped bytes in an array's data": flipped_array_data,
    "flipped bytes anywhere in a file": flipped_anywhere,
    "deleted file": deleted,
    "swapped array files of the same shape": swapped_arrays,
    "edited value in meta.json": edited_meta,
    "rotated dates": rotated_dates,
    "edited lengths": edited_lengths,
    "file from another version": from_other_version,
}
SHARD_DAMAGE = {"swapped shard directories": swapped_shards, "shard replaced by a copy of another": copied_shard}
AT_REST_CASES = [(kind, damage) for kind in ("dataset", "preset cache", "sharded market") for damage in DAMAGE]
AT_REST_CASES += [("sharded market", damage) for damage in SHARD_DAMAGE]


def names(message: str, path: Path) -> bool:
    """Whether ``message`` names ``path`` itself (not merely a file inside it, nor a longer name)."""
    return re.search(re.escape(str(path)) + r"(?![\w/.-])", message) is not None


def contents(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes() for path in files(directory)}


def one_damage(data: st.DataObject, case: AtRest, damage: str, folder: Path) -> None:
    """Copy the case's directory, damage it, load it, and check the outcome (see the section's comment)."""
    directory = Path(tempfile.mkdtemp(dir=folder)) / case.original.name
    shutil.copytree(case.original, directory)
    damaged = (DAMAGE | SHARD_DAMAGE)[damage](data.draw, directory, case.other)
    assume(contents(directory) != contents(case.original))  # a real damage (a rotation can give the same dates)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            loaded = load_at_rest(case, directory)
        except DataError as error:
            assert case.kind != "preset cache", f"a damaged cache raised instead of being rebuilt: {error}"
            assert any(names(str(error), path) for path in damaged), f"{error!s} names none of {damaged}"
            event(f"outcome: DataError {error.rule}")
            return
    assert same_data(loaded, case.truth), f"silent corruption: {damage} of {damaged} loads as other data"
    rebuilt = [str(warning.message) for warning in caught if REBUILT in str(warning.message)]
    if case.kind == "preset cache" and rebuilt:
        assert any(names(rebuilt[0], path) for path in damaged), f"{rebuilt[0]} names none of {damaged}"
        assert same_data(MarketDataset.load(directory, mmap=False), case.truth), "the rebuilt cache is not whole"
    event("outcome: rebuilt with a warning" if rebuilt else "outcome: loaded, the same data")


@pytest.mark.parametrize(("kind", "damage"), AT_REST_CASES)
@settings(FUZZ, max_examples=8)
@given(data=st.data())
def test_data_damaged_at_rest_is_refused_naming_the_damage_or_rebuilt(kind, damage, data, at_rest, tmp_path):
    one_damage(data, at_rest[kind], damage, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "damage"), AT_REST_CASES)
@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_data_damaged_at_rest_is_refused_naming_the_damage_or_rebuilt_at_length(kind, damage, data, at_rest, tmp_path):
    one_damage(data, at_rest[kind], damage, tmp_path)
