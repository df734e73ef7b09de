"""ExecutionConfig: one owner for every env setting, its default and its check."""

from __future__ import annotations

import dataclasses
import inspect
import math

import gymnasium as gym
import numpy as np
import pytest

import order_exec_gym  # noqa: F401  (registers OrderExec-v0)
from order_exec_gym import ExecutionConfig, OrderExecutionEnv
from order_exec_gym.config import split_env_kwargs
from order_exec_gym.evaluation import evaluate
from order_exec_gym.vector import OrderExecutionVectorEnv
from sb3_distill.vec_env import OrderExecutionVecEnv


def test_env_signature_is_the_config_and_its_defaults():
    parameters = inspect.signature(OrderExecutionEnv.__init__).parameters
    settings = {name: p.default for name, p in parameters.items() if name not in ("self", "data", "split", "render_mode")}
    assert settings == {f.name: f.default for f in dataclasses.fields(ExecutionConfig)}


def test_env_docstring_lists_every_setting_with_its_default():
    table = {line.split("|")[1].strip(): line.split("|")[3].strip() for line in OrderExecutionEnv.__doc__.splitlines()
             if line.strip().startswith("|") and "---" not in line}  # fmt: skip
    for f in dataclasses.fields(ExecutionConfig):
        assert f.name in table, f"the env's Arguments table misses {f.name}"
        default = f.default
        shown = table[f.name].replace('"', "").replace(" ", "")
        expected = "(0,0.5,1,1.5,2)" if isinstance(default, tuple) else str(default)
        assert shown == expected, f"{f.name}: the docstring says {table[f.name]}, the config {default!r}"


def test_every_setting_reaches_the_env_unchanged(small_market):
    config = ExecutionConfig(side="buy", step_minutes=15, alpha=0.02, action_type="continuous", levels=(0, 1, 2),
                             lookback=10, privileged=True, reward_scale=3.0, benchmark="vwap", window_minutes=120)  # fmt: skip
    assert gym.make("OrderExec-v0", data=small_market, **config).unwrapped.config == config
    vector = gym.make_vec("OrderExec-v0", num_envs=2, vectorization_mode="vector_entry_point", data=small_market, **config)
    assert vector.config == config
    assert OrderExecutionVecEnv(2, data=small_market, **config).task.config == config
    assert dict(config)["levels"] == (0.0, 1.0, 2.0) and len(config) == len(dataclasses.fields(config))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("alpha", math.nan), ("alpha", math.inf), ("alpha", -0.01), ("alpha", "0.01"),
        ("reward_scale", math.nan), ("reward_scale", -math.inf), ("reward_scale", 0.0), ("reward_scale", -1.0),
        ("levels", (0.0, math.nan)), ("levels", (0.0, math.inf)), ("levels", (0.0, -1.0)), ("levels", (1.0,)),
        ("levels", "0,1"), ("levels", ((0, 1), (2, 3))),
        ("step_minutes", "30"), ("step_minutes", 0), ("step_minutes", 30.0), ("step_minutes", True),
        ("lookback", -5), ("window_minutes", 0), ("window_minutes", 2.5),
        ("step_minutes", 10**20), ("window_minutes", 10**30), ("levels", (0, 10**400)), ("alpha", 10**400),  # no OverflowError
        ("side", "short"), ("action_type", "box"), ("benchmark", "twap"), ("privileged", "yes"),
    ],
)  # fmt: skip
def test_invalid_settings_raise_naming_the_argument(small_market, name, value):
    with pytest.raises(ValueError, match=name):
        ExecutionConfig(**{name: value})
    with pytest.raises(ValueError, match=name):
        gym.make("OrderExec-v0", data=small_market, **{name: value})
    with pytest.raises(ValueError, match=name):
        OrderExecutionVectorEnv(2, data=small_market, **{name: value})


def test_config_is_frozen_hashable_and_replaceable():
    config = ExecutionConfig(levels=[0, 1, 2])
    assert config.levels == (0.0, 1.0, 2.0) and hash(config) == hash(ExecutionConfig(levels=(0.0, 1.0, 2.0)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.alpha = 1.0  # type: ignore[misc]
    assert config.replace(alpha=0.5).alpha == 0.5 and config.alpha == 0.01
    with pytest.raises(ValueError, match="alpha"):
        config.replace(alpha=-1)
    assert np.int64(30) == ExecutionConfig(step_minutes=np.int64(30)).step_minutes


def test_unknown_and_market_arguments_are_named(small_market):
    with pytest.raises(ValueError, match=r"unknown OrderExec-v0 settings \['stepminutes'\]"):
        ExecutionConfig.from_kwargs({"stepminutes": 5})
    with pytest.raises(ValueError, match="select the market"):
        evaluate("TWAP", small_market, config={"split": "train"})
    data, split, config = split_env_kwargs({"data": small_market, "split": "valid", "alpha": 0.0})
    assert data is small_market and split == "valid" and config == ExecutionConfig(alpha=0.0)


def test_minutes_must_be_whole_bars(small_market):
    layout = ExecutionConfig(step_minutes=30, lookback=60, window_minutes=120).in_bars(5)
    assert (layout.step_bars, layout.lookback_bars, layout.window_bars) == (6, 12, 24)
    with pytest.raises(ValueError, match="lookback=7 must be a positive multiple of the data's 5-minute bars"):
        ExecutionConfig(lookback=7).in_bars(5)
    assert ExecutionConfig(lookback=7, history="session").in_bars(5).lookback_bars is None  # unused: not checked


def test_paper_config_is_the_paper_codes_settings(small_market):
    from order_exec_gym import PAPER_CONFIG, PAPER_LEVELS

    assert (PAPER_CONFIG.step_minutes, PAPER_CONFIG.alpha, PAPER_CONFIG.penalty_per) == (30, 0.01, "minute")
    assert (PAPER_CONFIG.levels, PAPER_CONFIG.level_unit) == (PAPER_LEVELS, "order")
    assert (PAPER_CONFIG.history, PAPER_CONFIG.market_features) == ("session", True)
    env = gym.make("OrderExec-v0", data=small_market, **PAPER_CONFIG)
    obs, _ = env.reset(seed=0)
    assert obs["public"].shape == (480, 8) and env.observation_space.contains(obs)
    _, reward, done, _, info = env.step(4)
    assert done and info["executed"] == 1.0
    assert reward == pytest.approx(info["price_advantage"] / 1e4 - 0.01 * 1.0**2 / 30, abs=1e-12)
