"""ExecutionConfig: every setting of the order-execution problem, its default, its unit and its check, in one place.

The env (``gym.make("OrderExec-v0", **settings)``), the vector env, the SB3 adapter, the evaluation harness, the
baselines, the teachers and the command line all build or take one :class:`ExecutionConfig`; nothing else holds a
default or a check of these settings. The market itself (``data``) and the date ``split`` the orders come from are
chosen separately: one configuration is trained on one split and evaluated on another.

A config is a read-only mapping of its fields, so it unpacks like keyword arguments:
``gym.make("OrderExec-v0", **config)``, ``dict(config)``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SIDES = ("sell", "buy", "random")
ACTION_TYPES = ("discrete", "continuous")
BENCHMARKS = ("mean", "vwap")
PENALTIES = ("minute", "step")
LEVEL_UNITS = ("twap", "order")
HISTORIES = ("lookback", "session")
#: Discrete levels in multiples of the TWAP rate 1/T: action 2 is TWAP.
DEFAULT_LEVELS = (0.0, 0.5, 1.0, 1.5, 2.0)
#: The levels of the paper's code, in fractions of the whole order (``level_unit="order"``).
PAPER_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: What selects the market rather than configuring the problem: arguments of the env, not fields of the config.
MARKET_ARGUMENTS = ("data", "split")


def _setting(default: Any, help: str, **metadata: Any) -> Any:
    return field(default=default, metadata={"help": help, **metadata})


#: The longest setting in minutes (a year): longer ones are mistakes and overflow the step arithmetic.
MAX_MINUTES = 366 * 24 * 60


@dataclass(frozen=True)
class ExecutionConfig(Mapping):
    """The settings of an order-execution problem (see :class:`~order_exec_gym.env.OrderExecutionEnv`).

    Minutes are converted to bars of the data by :meth:`in_bars`, which also checks that they are whole bars.
    Invalid values raise ``ValueError`` naming the setting.
    """

    side: str = _setting("sell", "order side: 'sell', 'buy' or 'random' (a fair coin per order)", choices=SIDES)
    step_minutes: int = _setting(30, "minutes per decision step k (a multiple of the bar length)", unit="minutes")
    alpha: float = _setting(0.01, "temporary-impact penalty alpha on the executed share squared (>= 0)")
    penalty_per: str = _setting(
        "minute", "the penalty is charged per 'minute' (alpha a^2 / m for a step of m minutes) or per 'step'",
        choices=PENALTIES,
    )
    action_type: str = _setting("discrete", "action encoding: 'discrete' levels or a 'continuous' ratio", choices=ACTION_TYPES)
    levels: tuple[float, ...] = _setting(DEFAULT_LEVELS, "discrete levels, in units of level_unit (>= 0)")
    level_unit: str = _setting(
        "twap", "a discrete level is a multiple of the 'twap' rate 1/T or a fraction of the whole 'order'",
        choices=LEVEL_UNITS,
    )
    lookback: int = _setting(30, "minutes of history in the public observation (history='lookback')", unit="minutes")
    history: str = _setting(
        "lookback", "public history: the last 'lookback' minutes, or the 'session' so far and the previous session",
        choices=HISTORIES,
    )
    market_features: bool = _setting(False, "add cross-sectional market context (all instruments, up to now) to public")
    privileged: bool = _setting(False, "add the 'privileged' observation: the whole window, future included")
    reward_scale: float = _setting(1.0, "factor on the reward the agent receives (metrics stay unscaled; > 0)")
    benchmark: str = _setting("mean", "benchmark price: the window's 'mean' bar price or its 'vwap'", choices=BENCHMARKS)
    window_minutes: int | None = _setting(None, "order window length; None: the whole session", unit="minutes")

    def __post_init__(self) -> None:
        _check_choice("side", self.side, SIDES)
        _check_choice("action_type", self.action_type, ACTION_TYPES)
        _check_choice("benchmark", self.benchmark, BENCHMARKS)
        _check_choice("penalty_per", self.penalty_per, PENALTIES)
        _check_choice("level_unit", self.level_unit, LEVEL_UNITS)
        _check_choice("history", self.history, HISTORIES)
        for name in ("step_minutes", "lookback", "window_minutes"):
            value = getattr(self, name)
            if value is None and name == "window_minutes":
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= MAX_MINUTES:
                raise ValueError(f"{name} must be a whole number of minutes in [1, {MAX_MINUTES}] (a year), got {value!r}")
            object.__setattr__(self, name, int(value))
        object.__setattr__(self, "alpha", _finite("alpha", self.alpha, low=0.0))
        object.__setattr__(self, "reward_scale", _finite("reward_scale", self.reward_scale, low=0.0, strict=True))
        for name in ("privileged", "market_features"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {value!r}")
            object.__setattr__(self, name, bool(value))
        object.__setattr__(self, "levels", _levels(self.levels))

    # ------------------------------------------------------------------------------------- a read-only mapping

    def __getitem__(self, name: str) -> Any:
        if name not in self._names():
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    # ----------------------------------------------------------------------------------------------- building

    def replace(self, **changes: Any) -> ExecutionConfig:
        """A copy with ``changes`` applied (and checked)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_kwargs(cls, settings: Mapping[str, Any] | None = None, **changes: Any) -> ExecutionConfig:
        """The config of ``settings`` (an :class:`ExecutionConfig` or a mapping of its fields) with ``changes``.

        Unknown names raise ``ValueError`` listing the known ones.
        """
        merged = {**(settings or {}), **changes}
        unknown = sorted(set(merged) - set(cls._names()))
        if unknown:
            market = [name for name in unknown if name in MARKET_ARGUMENTS]
            hint = f" ({', '.join(market)} select the market: pass them separately)" if market else ""
            raise ValueError(f"unknown OrderExec-v0 settings {unknown}{hint}; the settings are {list(cls._names())}")
        if isinstance(settings, cls) and not changes:
            return settings
        return cls(**merged)

    def in_bars(self, bar_minutes: int) -> BarLayout:
        """The minute settings in bars of ``bar_minutes`` minutes; each must be a positive multiple of it
        (``lookback`` only where it is used, with ``history="lookback"``)."""
        def bars(name: str) -> int | None:
            minutes = getattr(self, name)
            if minutes is None:
                return None
            if minutes < bar_minutes or minutes % bar_minutes:
                raise ValueError(f"{name}={minutes} must be a positive multiple of the data's {bar_minutes}-minute bars")
            return minutes // bar_minutes

        lookback = bars("lookback") if self.history == "lookback" else None
        return BarLayout(bars("step_minutes"), lookback, bars("window_minutes"))


@dataclass(frozen=True)
class BarLayout:
    """An :class:`ExecutionConfig`'s minutes in bars of the data."""

    step_bars: int
    lookback_bars: int | None  # None with history="session"
    window_bars: int | None


def split_env_kwargs(env_kwargs: Mapping[str, Any] | None) -> tuple[Any, str, ExecutionConfig]:
    """``(data, split, config)`` from ``OrderExec-v0`` keyword arguments (``data`` and ``split`` optional)."""
    settings = dict(env_kwargs or {})
    data = settings.pop("data", None)
    split = settings.pop("split", "train")
    return data, split, ExecutionConfig.from_kwargs(settings)


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def _finite(name: str, value: Any, low: float, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        value = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got a number too large for a float: {value!r}") from None
    if not math.isfinite(value) or value < low or (strict and value == low):
        raise ValueError(f"{name} must be finite and {'>' if strict else '>='} {low:g}, got {value!r}")
    return value


def _levels(levels: Any) -> tuple[float, ...]:
    try:
        values = np.asarray(levels, dtype=np.float64)
    except OverflowError:
        raise ValueError(f"levels must be finite, got a number too large for a float in {levels!r}") from None
    except (TypeError, ValueError):
        raise ValueError(f"levels must be a sequence of numbers, got {levels!r}") from None
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"levels must be a sequence of at least two numbers, got {levels!r}")
    if not np.all(np.isfinite(values)) or (values < 0).any():
        raise ValueError(f"levels must be finite and >= 0, got {levels!r}")
    return tuple(float(v) for v in values)


#: The paper code's settings (Fang et al., AAAI 2021, and qlib's ``rl/order_execution``): 30-minute steps, the
#: penalty alpha = 0.01 charged per minute of execution, the levels (0, .25, .5, .75, 1) of the whole order, and the
#: whole session so far plus the previous session as public state, with market context.
PAPER_CONFIG = ExecutionConfig(
    step_minutes=30, alpha=0.01, penalty_per="minute", levels=PAPER_LEVELS, level_unit="order", history="session",
    market_features=True,
)
