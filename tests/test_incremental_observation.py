"""The session observation kept up to date step by step equals a from-scratch computation, bit for bit, and
observations handed out are never changed afterwards."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from order_exec_gym import Order, OrderExecutionEnv, OrderExecutionVectorEnv
from order_exec_gym.config import split_env_kwargs
from order_exec_gym.features import FeatureBuilder
from order_exec_gym.task import ExecutionTask
from tests.conftest import random_market

# (step minutes, window minutes, side, market features, bar minutes): the no-look-ahead tests' step sizes and
# more, windows shorter than the session and steps that do not divide them, 5-minute bars.
CONFIGS = [
    (1, None, "sell", True, 1),
    (7, 150, "random", True, 1),
    (30, 150, "buy", False, 1),
    (30, None, "random", True, 1),
    (10, 95, "random", True, 5),
]


def session_from_scratch(builder: FeatureBuilder, episode, decision_bar, reference) -> np.ndarray:
    """The session observation as the env defined it before it was kept incrementally (one gather per half, the
    mask column, the reference, then every feature multiplied by its mask)."""
    n, m, f = len(episode), builder.max_bars, builder.n_features
    previous = builder.previous[episode]
    out = np.empty((n, 2 * m, f + 1), np.float32)
    out[:, :m, :-1] = builder.features[np.maximum(previous, 0), :, :f]
    out[:, m:, :-1] = builder.features[episode, :, :f]
    out[:, :m, -1] = (previous[:, None] >= 0) & (np.arange(m) < builder.lengths[np.maximum(previous, 0)][:, None])
    out[:, m:, -1] = np.arange(m) < decision_bar[:, None]
    out[..., 0] -= reference[:, None]
    out[..., :-1] *= out[..., -1:]
    return out


def assert_bits_equal(got: np.ndarray, want: np.ndarray) -> None:
    """Equal bit for bit (signed zeros included)."""
    assert got.shape == want.shape and got.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def from_scratch(task: ExecutionTask) -> dict[str, np.ndarray]:
    """``public`` and ``privileged`` of the task's current state, computed from scratch."""
    sim = task.sim
    rows = task.market_rows[sim.episode]
    return {
        "public": session_from_scratch(task.features, rows, sim.decision_bar, task.reference),
        "privileged": task.features.privileged(rows, sim.start, sim.length, task.reference),
    }


def assert_from_scratch(task: ExecutionTask, obs: dict[str, np.ndarray], single: bool = False) -> None:
    """``obs`` (of the single env's one slot if ``single``) is what the task's state gives from scratch."""
    for key, want in from_scratch(task).items():
        assert_bits_equal(obs[key], want[0] if single else want)


def make_settings(step, window, side, market_features, bar_minutes, market):
    data = replace(market, bar_minutes=bar_minutes) if bar_minutes > 1 else market
    return dict(
        data=data, split="all", step_minutes=step * bar_minutes, window_minutes=window and window * bar_minutes,
        side=side, history="session", market_features=market_features, privileged=True,
    )  # fmt: skip


def test_builder_session_equals_the_reference_definition(small_market):
    builder = FeatureBuilder(small_market, None, history="session", market_features=True)
    rng = np.random.default_rng(0)
    episode = rng.integers(0, len(small_market), 500)
    start = rng.integers(0, 240, 500)
    decision = rng.integers(start, 241)
    reference = builder.reference(episode, start)
    want = session_from_scratch(builder, episode, decision, reference)
    assert np.signbit(want[want == 0]).any()  # hidden rows hold signed zeros: compared too
    assert_bits_equal(builder.public(episode, decision, reference), want)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("config", CONFIGS)
def test_vector_env_observations_equal_a_from_scratch_computation(small_market, mode, config):
    settings = make_settings(*config, small_market)
    venv = OrderExecutionVectorEnv(24, autoreset_mode=mode, **settings)
    task = venv.task
    rng = np.random.default_rng(1)
    obs, _ = venv.reset(seed=2)
    assert_from_scratch(task, obs)
    for step in range(60):
        obs, _, done, _, info = venv.step(rng.integers(0, 5, 24))
        if mode == AutoresetMode.SAME_STEP and done.any():
            assert info["final_obs"]["public"] is not obs["public"]
            assert (info["final_obs"]["private"][done, 0] == 0).all() and (obs["private"][done, 0] == 1).all()
        assert_from_scratch(task, obs)
        if step % 7 == 3:  # some slots restart mid-episode
            slots = rng.choice(24, 5, replace=False)
            task.reset(task.sample(5, rng), slots)
            assert_from_scratch(task, task.observe())


def test_evaluation_style_stepping_with_inactive_slots(small_market):
    """``sim.step(ratios, active)`` with finished slots left inactive, as the evaluation harness steps."""
    data, split, config = split_env_kwargs(make_settings(7, 100, "random", True, 1, small_market))
    task = ExecutionTask(data, split, config, num_orders=16)
    rng = np.random.default_rng(3)
    task.reset(task.sample(16, rng))
    active = np.ones(16, dtype=bool)
    while active.any():
        obs = task.observe()
        assert_from_scratch(task, obs)
        result = task.sim.step(task.ratios(rng.integers(0, 5, 16)), active)
        active &= ~result.done
    assert_from_scratch(task, task.observe())


def test_several_steps_between_observations_and_short_sessions():
    """The simulator may step more than once between observations; sessions may be shorter than ``max_bars``."""
    rng = np.random.default_rng(4)
    market = random_market(rng, 12, 60, lengths=rng.integers(20, 61, 12))
    market = replace(market, symbols=np.array(["A", "B"] * 6), dates=np.repeat(market.dates[:6], 2))
    task = ExecutionTask(market, "all", dict(step_minutes=4, history="session", privileged=True), num_orders=8)
    for _ in range(20):
        task.reset(task.sample(8, rng))
        for _ in range(rng.integers(0, 5)):
            task.sim.step(task.ratios(rng.integers(0, 5, 8)))
        assert_from_scratch(task, task.observe())


@pytest.mark.parametrize("config", CONFIGS)
def test_single_env_observations_equal_a_from_scratch_computation(small_market, config):
    env = OrderExecutionEnv(**make_settings(*config, small_market))
    rng = np.random.default_rng(5)
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        done = False
        while True:
            assert_from_scratch(env.task, obs, single=True)
            if done:
                break
            obs, _, done, _, _ = env.step(int(rng.integers(0, 5)))


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_observations_kept_are_never_changed(small_market, mode):
    venv = OrderExecutionVectorEnv(6, autoreset_mode=mode, **make_settings(30, 90, "random", True, 1, small_market))
    kept = []
    obs, _ = venv.reset(seed=0)
    for _ in range(12):
        kept.append((obs, {key: value.copy() for key, value in obs.items()}))
        obs, _, done, _, info = venv.step(np.full(6, 1))
        if "final_obs" in info:
            kept.append((info["final_obs"], {key: value.copy() for key, value in info["final_obs"].items()}))
        venv.task.reset(venv.task.sample(2, np.random.default_rng(0)), np.array([0, 3]))
    for observation, copy in kept:
        for key, value in copy.items():
            assert_bits_equal(observation[key], value)
    env = OrderExecutionEnv(**make_settings(30, None, "sell", True, 1, small_market))
    first, _ = env.reset(options={"order": Order(2)})
    copy = {key: value.copy() for key, value in first.items()}
    env.step(1)
    env.reset(options={"order": Order(3)})
    for key, value in copy.items():
        assert_bits_equal(first[key], value)


def test_orders_started_behind_the_tasks_back_are_an_error_not_a_stale_observation(small_market):
    """The kept observation follows task.reset; an order started with the simulator's own reset would show the
    previous order's bars (look-ahead for the new one): an error instead."""
    from order_exec_gym import PAPER_CONFIG
    from order_exec_gym.orders import Order, Orders
    from order_exec_gym.task import ExecutionTask

    task = ExecutionTask(small_market, config=PAPER_CONFIG, num_orders=2)
    task.reset(Orders.from_orders([Order(0), Order(1)], task.dataset))
    task.sim.step(np.full(2, 0.25))
    task.observe()
    task.sim.reset(Orders.from_orders([Order(2), Order(3)], task.dataset))
    with pytest.raises(RuntimeError, match="outside ExecutionTask.reset"):
        task.observe()
