"""Fuzzing the data layer: a corrupted bar table fails loudly, or it makes a faithful dataset that trades soundly.

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
import warnings
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

import gymnasium as gym
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import order_exec_gym  # noqa: F401  (registers OrderExec-v0)
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.readers import UNTRADED, read_bars
from order_exec_gym.data.schema import PRICE_RANGE, VOLUME_RANGE, BarTable, bar_day, bar_times
from order_exec_gym.errors import DataError

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
