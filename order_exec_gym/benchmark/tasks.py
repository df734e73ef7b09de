"""Benchmark tasks: versioned ids that freeze everything a score depends on.

A task (``OrderExec/Signal2-v0``, in Gymnasium's ``namespace/name-vN`` form) fixes the market (a synthetic market's
options and seed, or a preset and, through the content hash, its exact files), the split, the
:class:`~order_exec_gym.config.ExecutionConfig`, the order set (every order of the split, drawn with a fixed seed)
and the evaluation seeds. Its ``content_hash`` covers the settings, every order and every bar of the market, and is
frozen in the registry: a task whose market or orders no longer hash to it (the generator, a loader or the data
changed) is refused, since its scores would not compare; such a change needs a new version. An id whose name has a
newer version is refused with the new id, as Gymnasium's ``DeprecatedEnv``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from order_exec_gym.config import DEFAULT_LEVELS, PAPER_CONFIG, ExecutionConfig
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.resolve import load_dataset
from order_exec_gym.data.synthetic import REGIMES
from order_exec_gym.data.store import array_digest
from order_exec_gym.evaluation import evaluation_orders
from order_exec_gym.orders import Orders

NAMESPACE = "OrderExec"
#: Significant bits of every bar value in a market's fingerprint (:func:`market_fingerprint`): about 6 digits.
FINGERPRINT_BITS = 20
#: How far (bps) a reference's mean PA may be from the task's frozen value (per-order PAs are kept to 1e-4 bps).
REFERENCE_TOLERANCE_BPS = 1e-3
_ID = re.compile(rf"^{NAMESPACE}/(?P<name>[A-Za-z0-9]+)-v(?P<version>\d+)$")


class TaskVersionError(ValueError):
    """An outdated task version (the message names the current id)."""


@dataclass(frozen=True)
class Task:
    """One benchmark task.

    :param id: ``OrderExec/<Name>-v<version>``
    :param description: what the task is, in a line
    :param market: ``{"synthetic": {options of MarketDataset.synthetic}}`` or ``{"preset": name}``
    :param split: the split whose episodes are the orders (each episode once)
    :param config: the env settings (observation, actions, reward)
    :param content_hash: the frozen hash of the settings, the orders and the market's bars (:func:`content_hash`)
    :param seeds: the evaluation seeds: the agent runs once per seed (its sampling and any randomness it draws)
    :param order_seed: the seed of the orders' random parts (sides, windows)
    :param public_bound: whether the market's model gives a ``PublicBound`` to score against as well
    :param references: the frozen mean PA (bps) of TWAP, the Oracle (and the PublicBound) on the task's orders: the
        score's 0 and 100, checked whenever they are computed (:meth:`check_references`), so that a change to the
        simulator or the baselines that would move every score cannot go unnoticed
    :param needs: what the task needs to run, in words
    """

    id: str
    description: str
    market: dict[str, Any]
    split: str
    config: ExecutionConfig
    content_hash: str
    seeds: tuple[int, ...] = (0, 1, 2)
    order_seed: int = 0
    public_bound: bool = False
    references: dict[str, float] = field(default_factory=dict)
    needs: str = field(default="nothing: a synthetic market, built in seconds")

    @property
    def name(self) -> str:
        return _parse(self.id)[0]

    @property
    def version(self) -> int:
        return _parse(self.id)[1]

    def load_market(self) -> MarketDataset:
        """The task's market (the synthetic one is built once per process; a preset reads the shared data)."""
        if "synthetic" in self.market:
            return MarketDataset.synthetic(**self.market["synthetic"])
        return load_dataset(self.market["preset"])

    def orders(self, market: MarketDataset) -> Orders:
        """The task's orders on ``market``'s split (episodes numbered in the split)."""
        lengths = market.lengths[market.split_rows(self.split)]
        return evaluation_orders(lengths, market.bar_minutes, self.config, None, self.order_seed)

    def env_kwargs(self, split: str = "train") -> dict[str, Any]:
        """``gym.make("OrderExec-v1", **task.env_kwargs())``: the task's market and every setting on ``split`` (train
        on ``"train"``, select on ``"valid"``; the task scores on its own split)."""
        return {"data": self.load_market(), "split": split, **self.config}

    def check_references(self, per_order: Mapping[str, Sequence[float]], source: str = "") -> None:
        """Raise ``ValueError`` naming the task (after ``source``) when the mean of a reference's per-order PAs
        (``{"TWAP": [...], ...}``) is not the frozen :attr:`references` value (to :data:`REFERENCE_TOLERANCE_BPS`)."""
        for name, frozen in self.references.items():
            found = float(np.mean(per_order[name])) if name in per_order else float("nan")
            if not abs(found - frozen) <= REFERENCE_TOLERANCE_BPS:
                raise ValueError(
                    f"{source}task {self.id}: {name}'s mean PA is {found:.4f} bps, the task froze {frozen:.4f}: the "
                    "simulator or the baselines changed what the score is measured against (a new task version), or "
                    "the results file was edited"
                )

    def verified_market(self) -> tuple[MarketDataset, str]:
        """The market and its fingerprint (:func:`market_fingerprint`), refused (``ValueError`` naming the task)
        when the settings, orders or bars no longer hash to :attr:`content_hash`."""
        market = self.load_market()
        fingerprint = market_fingerprint(market)
        found = content_hash(self, order_table(self, market), fingerprint)
        if found != self.content_hash:
            raise ValueError(
                f"task {self.id}: its market, orders or settings hash to {found}, not to the frozen {self.content_hash}: "
                "the data or the code that builds it differs from the task's, so scores would not compare (a change "
                "that moves scores needs a new task version)"
            )
        return market, fingerprint


def order_table(task: Task, market: MarketDataset) -> dict[str, list]:
    """Every order of ``task`` on ``market``: instrument, date (ISO), side (+1 sell, -1 buy), first bar, bars."""
    orders = task.orders(market)
    rows = market.split_rows(task.split)[orders.episode]
    return {
        "symbol": market.symbols[rows].astype(str).tolist(),
        "date": [str(day) for day in market.dates[rows]],
        "side": orders.side.astype(int).tolist(),
        "start": orders.start.astype(int).tolist(),
        "length": orders.length.astype(int).tolist(),
    }


def market_fingerprint(market: MarketDataset) -> str:
    """A hash of the market's episodes exactly (instruments, dates, bar counts) and of every bar value to
    :data:`FINGERPRINT_BITS` significant bits, in place: a changed generator, file or bar changes it. It is computed
    with exact operations only (binary exponent and mantissa, scaling by powers of 2, rounding), so it is the same on
    every machine for the same values; a decimal rounding through ``10 ** k`` was not (numpy's power differs by one
    unit in the last place between CPUs, which moved ties)."""
    digest = hashlib.blake2b(digest_size=16)
    for values in (market.symbols.astype(str), market.dates.astype("int64"), market.lengths.astype("int64")):
        digest.update(array_digest(np.ascontiguousarray(values)).encode())
    for name in sorted(market.bars):
        digest.update(name.encode())
        digest.update(array_digest(_significant(market.bars[name], FINGERPRINT_BITS)).encode())
    return digest.hexdigest()


def _significant(values: np.ndarray, bits: int) -> np.ndarray:
    """``values`` rounded to ``bits`` significant bits, as int64 mantissas beside their binary exponents: exact
    operations only (``frexp``, ``ldexp`` and ``rint``, round half to even), the same on every machine."""
    mantissa, exponent = np.frexp(np.asarray(values, dtype=np.float64))
    return np.stack([np.rint(np.ldexp(mantissa, bits)).astype(np.int64), exponent.astype(np.int64)], axis=-1)


def content_hash(task: Task, orders: dict[str, list], fingerprint: str) -> str:
    """BLAKE2b-128 over the task's settings and split, every order (:func:`order_table`) and the market's
    fingerprint (:func:`market_fingerprint`: previous sessions and the market context read the whole market)."""
    settings = {"split": task.split, "config": dict(task.config), "order_seed": task.order_seed, "seeds": list(task.seeds)}
    body = json.dumps({"settings": settings, "orders": orders, "market": fingerprint}, sort_keys=True, default=list)
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()


def _parse(task_id: str) -> tuple[str, int]:
    match = _ID.match(task_id)
    if match is None:
        raise ValueError(f"malformed task id {task_id!r}: expected {NAMESPACE}/<Name>-v<version>, e.g. {NAMESPACE}/Signal2-v0")
    return match["name"], int(match["version"])


class Registry:
    """The tasks by id, every version kept so that an old one is refused with the new id."""

    def __init__(self, tasks: tuple[Task, ...] = ()):
        self._tasks: dict[str, Task] = {}
        for task in tasks:
            self.register(task)

    def register(self, task: Task) -> None:
        _parse(task.id)
        if task.id in self._tasks:
            raise ValueError(f"task {task.id} is registered already")
        self._tasks[task.id] = task

    def current(self) -> list[Task]:
        """The newest version of every task, in registration order."""
        newest: dict[str, Task] = {}
        for task in self._tasks.values():
            if task.name not in newest or task.version > newest[task.name].version:
                newest[task.name] = task
        return list(newest.values())

    def get(self, task_id: str) -> Task:
        """The task ``task_id``; an outdated version raises :class:`TaskVersionError` naming the current one, an
        unknown id ``KeyError`` listing the tasks."""
        name, version = _parse(task_id)
        latest = max((task.version for task in self._tasks.values() if task.name == name), default=None)
        if latest is None:
            raise KeyError(f"unknown task {task_id!r}; the tasks are {[task.id for task in self.current()]}")
        if version < latest:
            raise TaskVersionError(
                f"task {task_id} is out of date: use {NAMESPACE}/{name}-v{latest} (scores of different versions do not compare)"
            )
        if task_id not in self._tasks:
            raise KeyError(f"unknown task version {task_id!r}; the newest is {NAMESPACE}/{name}-v{latest}")
        return self._tasks[task_id]


#: The tasks' settings: the paper's (30-minute steps, penalty per minute, the whole session and the previous one with
#: market context as public state), with the actions in TWAP units (0, .5, 1, 1.5, 2 times 1/T), so that TWAP, the
#: score's 0, is an action of every task.
BENCH_CONFIG = PAPER_CONFIG.replace(levels=DEFAULT_LEVELS, level_unit="twap")
#: The synthetic market of the signal tasks (DESIGN §7: 30 instruments x 100 days; test: the last 15 days).
SIGNAL_MARKET = dict(n_symbols=30, n_days=100, seed=0)
#: Each task's frozen content hash (:func:`content_hash`) and reference mean PAs (bps): a task whose market, orders or
#: references come out otherwise is refused; a task not here yet refuses to run until it is frozen
#: (``python benchmarks/bench_reference.py --freeze`` prints the values).
FROZEN: dict[str, tuple[str, dict[str, float]]] = {
    "Signal0": ("79d4d51e293b6cd56016d1436a9438f2", {"TWAP": 0.0, "Oracle": 66.021434}),
    "Signal1": ("395446c1d8072235f30b4ea2d5dfd987", {"TWAP": 0.0, "Oracle": 66.925928, "PublicBound": 8.31663}),
    "Signal2": ("5c735846e8449e1b0ea14a77a8749339", {"TWAP": 0.0, "Oracle": 69.274585, "PublicBound": 16.53999}),
    "Signal4": ("fc0d9872adcb5401882c47bc4393db3c", {"TWAP": 0.0, "Oracle": 77.437586, "PublicBound": 32.907439}),
    "WeakFade": ("c344017630c5c68d64b7c7cfb5094eee", {"TWAP": 0.0, "Oracle": 66.366656, "PublicBound": 5.146253}),
    "AfternoonReversal": ("d16b5180f32e9ae63296ca4a21cfaa67", {"TWAP": 0.0, "Oracle": 91.077964, "PublicBound": 30.423814}),
    "AShare1min": ("e91149642a39a1dd0f2d3ff5b48e5f0e", {"TWAP": 0.0, "Oracle": 58.952762}),
    "ETF5min": ("b0b84a19b80448aa094675d353a0bfde", {"TWAP": 0.0, "Oracle": 41.68639}),
}


def _frozen(name: str) -> dict[str, Any]:
    """The task's frozen ``content_hash`` and ``references`` (none yet: a hash no market has, so it refuses to run)."""
    content, references = FROZEN.get(name, ("", {}))
    return {"content_hash": content, "references": references}


def _signal_task(signal: float) -> Task:
    name = f"Signal{signal:g}"
    return Task(
        id=f"{NAMESPACE}/{name}-v0",
        description=f"synthetic market, opening-gap fade signal={signal:g}, test days",
        market={"synthetic": {**SIGNAL_MARKET, "signal": signal}},
        split="test",
        config=BENCH_CONFIG,
        **_frozen(name),
        public_bound=signal > 0,
    )


def _regime_task(name: str, regime: str) -> Task:
    options = ", ".join(f"{key}={value:g}" for key, value in REGIMES[regime].items())
    return Task(
        id=f"{NAMESPACE}/{name}-v0",
        description=f"synthetic market, the {regime} regime ({options}), test days",
        market={"synthetic": {**SIGNAL_MARKET, **REGIMES[regime]}},
        split="test",
        config=BENCH_CONFIG,
        **_frozen(name),
        public_bound=True,
    )


def _preset_task(preset: str, name: str, what: str) -> Task:
    return Task(
        id=f"{NAMESPACE}/{name}-v0",
        description=f"{what}, test days",
        market={"preset": preset},
        split="test",
        config=BENCH_CONFIG,
        **_frozen(name),
        needs=f"the real data of preset {preset!r} (../shared/data or $ORDER_EXEC_GYM_DATA)",
    )


TASKS = Registry(
    (
        *(_signal_task(signal) for signal in (0.0, 1.0, 2.0, 4.0)),
        _regime_task("WeakFade", "weak-fade"),
        _regime_task("AfternoonReversal", "afternoon-reversal"),
        _preset_task("ashare-1min", "AShare1min", "A-share main boards, 1-minute bars, 2024-03"),
        _preset_task("ashare-etf-5min", "ETF5min", "42 A-share ETFs, 5-minute bars, 2021-04..2022-12"),
    )
)
