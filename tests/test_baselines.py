"""Baselines: the Oracle is the exact optimum (brute force, scipy, and >= every other baseline), TWAP, AC's closed
form and its TWAP limit, VWAP's profile, and SB3-style predict on every env flavour."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

import order_exec_gym  # noqa: F401  (registers OrderExec-v0)
from order_exec_gym import Order, Orders
from order_exec_gym.baselines import (
    BASELINES,
    TWAP,
    VWAP,
    AlmgrenChriss,
    Oracle,
    Random,
    make_baseline,
)
from order_exec_gym.config import PAPER_LEVELS
from order_exec_gym.evaluation import evaluate
from order_exec_gym.oracle import discrete_action, discrete_plan, level_grid, order_units
from order_exec_gym.task import ExecutionTask
from order_exec_gym.vector import OrderExecutionVectorEnv
from sb3_distill.vec_env import OrderExecutionVecEnv
from tests.conftest import random_market


def step_returns(market, order: Order, step: int, side: float) -> np.ndarray:
    """``r_j = s (p_exec_j / p_bench - 1)`` straight from the bars (mean benchmark)."""
    price = market.bars["price"][order.episode, order.start : order.start + order.length].astype(np.float64)
    steps = [price[j : j + step].mean() for j in range(0, len(price), step)]
    return side * (np.array(steps) / price.mean() - 1.0)


def episode_reward(returns: np.ndarray, ratios: np.ndarray, cost: float | np.ndarray) -> float:
    return float((returns * ratios - cost * ratios**2).sum())


# --------------------------------------------------------------------------------------------------- Oracle


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_bars=st.integers(2, 40),
    step=st.integers(1, 9),
    side=st.sampled_from(["sell", "buy", "random"]),
    alpha=st.sampled_from([0.0, 1e-3, 0.01, 0.3]),
    action_type=st.sampled_from(["discrete", "continuous"]),
    window=st.sampled_from([None, 5]),
)
def test_oracle_beats_every_baseline_on_every_order(seed, n_bars, step, side, alpha, action_type, window):
    market = random_market(np.random.default_rng(seed), 6, n_bars)
    kwargs = dict(side=side, step_minutes=step, alpha=alpha, action_type=action_type, lookback=5, window_minutes=window)
    rewards = {name: evaluate(name, market, "train", n_orders=12, seed=seed, config=kwargs).orders["reward"].to_numpy()
               for name, baseline in BASELINES.items() if baseline.applies_to(market)}  # fmt: skip
    for name, reward in rewards.items():
        assert (rewards["Oracle"] >= reward - 1e-12).all(), name


@pytest.mark.parametrize(
    ("levels", "n_steps"),
    [((0, 0.5, 1, 1.5, 2), 1), ((0, 0.5, 1, 1.5, 2), 4), (PAPER_LEVELS, 5), ((0, 0.5, 2), 5), ((0.5, 1, 3), 4)],
)
@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.2])
def test_discrete_oracle_matches_brute_force(levels, n_steps, alpha):
    """Every level sequence of one order, stepped side by side in one simulator: the Oracle finds the best."""
    rng = np.random.default_rng(n_steps * 100 + int(alpha * 100))
    market = random_market(rng, 3, 3 * n_steps)
    order = Order(int(rng.integers(3)), "buy", 0, 3 * n_steps)
    sequences = np.array(list(itertools.product(range(len(levels)), repeat=n_steps)))
    config = dict(side="buy", step_minutes=3, alpha=alpha, levels=levels, lookback=5)
    task = ExecutionTask(market, "train", config, num_orders=len(sequences))
    task.reset(Orders.from_orders([order] * len(sequences), market))
    active = np.ones(len(sequences), dtype=bool)
    for j in range(n_steps):
        active &= ~task.sim.step(task.ratios(sequences[:, j]), active).done
    best = task.sim.total_reward.max()

    env = gym.make("OrderExec-v0", data=market, **config)
    oracle = Oracle(env)
    obs, _ = env.reset(options={"order": order})
    state, done = oracle.plan(env), False
    while not done:
        action, state = oracle.predict(obs, state)
        obs, _, done, _, info = env.step(action)
    assert info["episode_reward"] == pytest.approx(best, abs=1e-13)


@pytest.mark.parametrize("levels", [(0, 0.5, 1, 1.5, 2), PAPER_LEVELS, (0, 1, 2, 3)])
@pytest.mark.parametrize("level_unit", ["twap", "order"])
def test_greedy_discrete_plan_matches_the_dynamic_programme(levels, level_unit):
    """With per-step penalty coefficients (per minute: steps of different lengths cost differently)."""
    rng = np.random.default_rng(1)
    n, width = 40, 12
    units, denominator = level_grid(np.array(levels, dtype=float))
    n_steps = rng.integers(1, width + 1, n)
    returns = np.where(np.arange(width) < n_steps[:, None], rng.normal(0, 0.01, (n, width)), np.nan)
    minutes = rng.integers(1, 31, (n, width)).astype(float)
    t = (rng.random(n) * n_steps).astype(np.int64)
    total = order_units(n_steps, denominator, level_unit)
    left = (rng.random(n) * total).astype(np.int64) + 1
    left = np.minimum(left, total)
    for alpha in (0.0, 0.002, 0.05):
        for cost in (np.full((n, width), alpha), alpha / minutes):
            plan = discrete_plan(returns, cost, n_steps, t, left, total, int(units.max()))
            assert (plan.sum(axis=1) == left).all()
            shares = plan / total[:, None]
            value = np.nansum(np.nan_to_num(returns) * shares - cost * shares**2, axis=1)
            _, best = discrete_action(returns, cost, n_steps, t, left / total, np.array(levels, dtype=float), level_unit)
            np.testing.assert_allclose(value, best, atol=1e-13)


def test_level_grid_keeps_levels_with_a_common_factor_exact(small_market):
    units, denominator = level_grid(np.array([0.0, 2.0, 4.0]))
    assert units.tolist() == [0, 2, 4] and denominator == 1  # no unit coarser than the order's own grid
    result = evaluate("Oracle", small_market, "test", n_orders=4, config={"levels": (0, 2, 4)})
    assert result.summary["n_orders"] == 4


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("alpha", [0.001, 0.05])
@pytest.mark.parametrize("penalty_per", ["minute", "step"])
def test_continuous_oracle_matches_scipy(seed, alpha, penalty_per):
    rng = np.random.default_rng(seed)
    market = random_market(rng, 2, 40)
    order, step = Order(1, "sell", 3, 37), 5  # 8 steps, the last one of 2 minutes
    returns = step_returns(market, order, step, 1.0)
    n = len(returns)
    cost = alpha / np.array([5.0] * 7 + [2.0]) if penalty_per == "minute" else np.full(n, alpha)
    solution = minimize(
        lambda a: -episode_reward(returns, a, cost),
        np.full(n, 1.0 / n),
        jac=lambda a: -(returns - 2 * cost * a),
        bounds=[(0.0, 1.0)] * n,
        constraints=[{"type": "eq", "fun": lambda a: a.sum() - 1.0, "jac": lambda a: np.ones(n)}],
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 500},
    )
    assert solution.success
    env = gym.make("OrderExec-v0", data=market, step_minutes=step, alpha=alpha, action_type="continuous", lookback=5,
                   penalty_per=penalty_per)  # fmt: skip
    oracle = Oracle(env)
    obs, _ = env.reset(options={"order": order})
    state, done = oracle.plan(env), False
    while not done:
        action, state = oracle.predict(obs, state)
        obs, _, done, _, info = env.step(action)
    assert info["episode_reward"] >= -solution.fun - 1e-12
    assert info["episode_reward"] == pytest.approx(-solution.fun, abs=1e-9)


def test_oracle_replans_when_the_state_leaves_its_plan(small_market):
    """Driven off its plan by other actions, the Oracle re-plans: it still finds the best completion."""
    env = gym.make("OrderExec-v0", data=small_market, split="test", action_type="continuous", alpha=0.01)
    oracle = Oracle(env)
    obs, _ = env.reset(options={"order": Order(2, "sell")})
    _, state = oracle.predict(obs, oracle.plan(env))
    obs, *_ = env.step(np.array([0.4]))  # not the Oracle's choice
    sim = env.unwrapped.task.sim
    returns, cost = sim.step_return[0, : sim.n_steps[0]], sim.step_cost[0, 1 : sim.n_steps[0]]
    done = False
    executed = [0.4]
    while not done:
        action, state = oracle.predict(obs, state)
        obs, _, done, _, info = env.step(action)
        executed.append(info["executed"])
    rest = np.zeros(len(returns) - 1)
    rest[: len(executed) - 1] = executed[1:]  # the order may complete before its last step
    assert rest.sum() == pytest.approx(0.6)
    others = 0.6 * np.random.default_rng(0).dirichlet(np.ones(len(rest)), size=2000)
    others = np.vstack([others, np.full(len(rest), 0.6 / len(rest))])
    values = (returns[1:] * others - cost * others**2).sum(axis=1)
    assert episode_reward(returns[1:], rest, cost) >= values.max()


# ----------------------------------------------------------------------------------------------- TWAP and AC


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
def test_twap_has_zero_price_advantage_at_one_minute_steps(small_market, action_type):
    result = evaluate("TWAP", small_market, "all", config=dict(step_minutes=1, action_type=action_type, side="random"))
    assert result.orders.height == len(small_market)
    np.testing.assert_allclose(result.orders["price_advantage"], 0.0, atol=1e-6)
    np.testing.assert_allclose(result.schedules[:, :240], 1 / 240, rtol=1e-6)


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
@pytest.mark.parametrize("risk_aversion", [0.0, 1e-14])
def test_almgren_chriss_tends_to_twap(small_market, action_type, risk_aversion):
    kwargs = dict(action_type=action_type, step_minutes=20)
    task = ExecutionTask(small_market, config=kwargs)
    ac = evaluate(AlmgrenChriss(task, risk_aversion=risk_aversion), small_market, config=kwargs)
    twap = evaluate("TWAP", small_market, config=kwargs)
    if risk_aversion == 0.0:
        np.testing.assert_array_equal(ac.schedules, twap.schedules)
    np.testing.assert_allclose(ac.schedules, twap.schedules, atol=1e-12)


@pytest.mark.parametrize(("step", "risk_aversion", "alpha"), [(30, 10.0, 0.01), (7, 1.0, 0.05), (1, 100.0, 0.01), (30, 1e6, 0.01)])
@pytest.mark.parametrize("penalty_per", ["minute", "step"])
def test_almgren_chriss_follows_the_closed_form(small_market, step, risk_aversion, alpha, penalty_per):
    kwargs = dict(action_type="continuous", step_minutes=step, alpha=alpha, penalty_per=penalty_per)
    task = ExecutionTask(small_market, config=kwargs)
    ac = AlmgrenChriss(task, risk_aversion=risk_aversion)

    train = small_market.split("train")
    returns = np.diff(np.log(train.bars["price"].astype(np.float64)), axis=1)
    assert ac.sigma == pytest.approx(np.sqrt(np.mean(returns**2)), rel=1e-12)  # all episodes are full sessions

    tau = step
    eta_tilde = alpha * tau if penalty_per == "step" else alpha  # the env's c a^2 = eta a^2 / tau, c = alpha / tau
    kappa = np.arccosh(risk_aversion * ac.sigma**2 / eta_tilde * tau**2 / 2 + 1) / tau
    n_steps = -(-240 // step)
    t_j = np.arange(n_steps + 1) * tau
    with np.errstate(over="ignore", invalid="ignore"):
        holdings = np.sinh(kappa * (n_steps * tau - t_j)) / np.sinh(kappa * n_steps * tau)
    if not np.isfinite(holdings).all():  # sinh overflows: the limit is everything in the first step
        holdings = np.r_[1.0, np.zeros(n_steps)]
    result = evaluate(ac, small_market, config=kwargs)
    np.testing.assert_allclose(result.schedules[:, :n_steps], -np.diff(holdings)[None, :].repeat(result.orders.height, 0), atol=1e-6)
    np.testing.assert_allclose(ac.holdings(np.array([n_steps]), np.arange(n_steps + 1)[None, :])[0], holdings, rtol=1e-10, atol=1e-300)


def test_almgren_chriss_without_impact_trades_at_once(small_market):
    task = ExecutionTask(small_market, config=dict(action_type="continuous", alpha=0.0))
    result = evaluate(AlmgrenChriss(task, risk_aversion=1.0), small_market, config=dict(action_type="continuous", alpha=0.0))
    np.testing.assert_allclose(result.schedules[:, 0], 1.0)
    with pytest.raises(ValueError, match="eta - gamma"):
        AlmgrenChriss(task, risk_aversion=0.0)


# ------------------------------------------------------------------------------------------------------ VWAP


def test_vwap_follows_its_volume_profile(small_market):
    kwargs = dict(action_type="continuous", step_minutes=30, window_minutes=120)
    env = gym.make("OrderExec-v0", data=small_market, split="train", lookback=5, **kwargs)
    vwap = VWAP(env, min_days=5)
    train = small_market.split("train")
    # 4 instruments x 14 training days: each has its own profile, the mean of its days' volume shares.
    assert len(vwap.symbols) == 4
    volume = train.bars["volume"].astype(np.float64)
    symbol = vwap.symbols[2]
    days = volume[train.symbols == symbol]
    np.testing.assert_allclose(vwap.profiles[2], (days / days.sum(axis=1, keepdims=True)).mean(axis=0), rtol=1e-12)

    test = small_market.split("test")
    episode = int(np.flatnonzero(test.symbols == symbol)[0])
    result = evaluate(vwap, small_market, config=kwargs, n_orders=None, seed=3)
    row = result.orders.filter(result.orders["episode"] == episode).row(0, named=True)
    weights = vwap.profiles[2][row["start"] : row["start"] + 120].reshape(4, 30).sum(axis=1)
    np.testing.assert_allclose(result.schedules[episode, :4], weights / weights.sum(), rtol=1e-6)

    pooled = VWAP(env, min_days=100)
    assert len(pooled.symbols) == 0 and len(pooled.profiles) == 1
    pooled_profile = (volume / volume.sum(axis=1, keepdims=True)).mean(axis=0)
    np.testing.assert_allclose(pooled.profiles[0], pooled_profile, rtol=1e-12)


def test_vwap_calibrates_on_the_training_split_of_the_whole_market(small_market):
    env = gym.make("OrderExec-v0", data=small_market, split="test")
    assert len(VWAP(env).symbols) == 4  # the env runs on test days, the profile comes from the market's train days
    no_training_days = small_market.split("test")
    with pytest.raises(ValueError, match="training split"):
        VWAP(env, data=no_training_days)
    with pytest.raises(ValueError, match="training split"):
        AlmgrenChriss(env, data=no_training_days)
    assert len(VWAP(env, data=small_market).symbols) == 4
    assert AlmgrenChriss(env, sigma=0.001).sigma == 0.001


# -------------------------------------------------------------------------------------------- predict, envs


def make_envs(market, **kwargs):
    return {
        "single": gym.make("OrderExec-v0", data=market, **kwargs),
        "vector": gym.make_vec("OrderExec-v0", num_envs=3, vectorization_mode="vector_entry_point", data=market, **kwargs),
        "sb3": OrderExecutionVecEnv(3, data=market, **kwargs),
        "task": ExecutionTask(market, config=kwargs, num_orders=3),
    }


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
@pytest.mark.parametrize("name", list(BASELINES))
def test_predict_on_single_and_batched_observations(small_market, action_type, name):
    envs = make_envs(small_market, action_type=action_type)
    single = make_baseline(name, envs["single"], data=small_market)
    obs, _ = envs["single"].reset(seed=0)
    state = single.plan(envs["single"])
    action, state = single.predict(obs, state=state, episode_start=np.ones(1, bool))
    assert envs["single"].action_space.contains(np.asarray(action, dtype=envs["single"].action_space.dtype))
    envs["single"].step(action)

    for key in ("vector", "sb3", "task"):
        env = envs[key]
        baseline = make_baseline(name, env, data=small_market)
        if key == "vector":
            batch, _ = env.reset(seed=1)
        elif key == "sb3":
            batch = env.reset()
        else:
            env.reset(env.sample(3, np.random.default_rng(0)))
            batch = env.observe()
        actions, _ = baseline.predict(batch, state=baseline.plan(env))
        assert actions.shape == ((3,) if action_type == "discrete" else (3, 1))
        if key != "task":
            env.step(actions)
    with pytest.raises(TypeError, match="ExecutionTask"):
        TWAP(object())


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
@pytest.mark.parametrize("name", ["VWAP", "Oracle"])
def test_a_baseline_acts_on_its_arguments_only_whichever_env_it_was_built_from(small_market, action_type, name):
    """Built from a single env on the train split or from a vector env on the test split, stepped or not, the
    same baseline gives the same actions for the same observation and plan."""
    kwargs = dict(action_type=action_type, step_minutes=20)
    single = gym.make("OrderExec-v0", data=small_market, split="train", **kwargs)
    vector = OrderExecutionVectorEnv(5, data=small_market, split="test", **kwargs)
    target = OrderExecutionVectorEnv(4, data=small_market, split="valid", **kwargs)
    built = [make_baseline(name, single, data=small_market), make_baseline(name, vector, data=small_market)]
    single.reset(seed=0)
    vector.reset(seed=0)
    obs, _ = target.reset(seed=2)
    for _ in range(3):  # walk into the episodes, with actions nobody planned
        obs, *_ = target.step(target.action_space.sample() if action_type == "discrete" else np.full((4, 1), 0.1))
    plan = built[0].plan(target)
    actions = [baseline.predict(obs, state=baseline.plan(target))[0] for baseline in built]
    for env in (single, vector):  # the envs the baselines came from move on: nothing changes
        env.step(env.action_space.sample())
    actions += [baseline.predict(obs, state=built[0].plan(target))[0] for baseline in built]
    actions.append(built[1].predict(obs, state=plan)[0])
    for other in actions[1:]:
        np.testing.assert_array_equal(actions[0], other)


def test_plans_are_checked_against_the_observations_and_the_config(small_market):
    venv = OrderExecutionVectorEnv(3, data=small_market)
    obs, _ = venv.reset(seed=0)
    oracle = Oracle(venv)
    with pytest.raises(ValueError, match="pass state=oracle.plan"):
        oracle.predict(obs)
    with pytest.raises(ValueError, match="covers 3 orders, the observation 2"):
        oracle.predict({key: value[:2] for key, value in obs.items()}, state=oracle.plan(venv))
    continuous = OrderExecutionVectorEnv(3, data=small_market, action_type="continuous")
    with pytest.raises(ValueError, match="was built for action_type='discrete'"):
        oracle.plan(continuous)
    with pytest.raises(ValueError, match="alpha"):
        AlmgrenChriss(venv).plan(OrderExecutionVectorEnv(3, data=small_market, alpha=0.02))
    assert TWAP(venv).plan(OrderExecutionVectorEnv(3, data=small_market, alpha=0.02, side="buy")) is None


def test_random_agent_is_seeded_and_stays_in_the_action_space(small_market):
    kwargs = dict(action_type="continuous")
    task = ExecutionTask(small_market, config=kwargs)
    first = evaluate(Random(task, seed=4), small_market, config=kwargs)
    again = evaluate(Random(task, seed=4), small_market, config=kwargs)
    other = evaluate(Random(task, seed=5), small_market, config=kwargs)
    np.testing.assert_array_equal(first.schedules, again.schedules)
    assert not np.array_equal(first.schedules, other.schedules)
    np.testing.assert_allclose(first.schedules.sum(axis=1), 1.0)
    assert (first.schedules[:, :-1] <= 2 / 8 + 1e-12).all()


@pytest.mark.parametrize("name", ["VWAP", "Oracle"])
def test_a_plan_is_refused_after_an_autoreset(small_market, name):
    """The plan covers the orders it was made for: when the vector env brings new orders, predict says so."""
    venv = OrderExecutionVectorEnv(3, data=small_market)
    obs, _ = venv.reset(seed=0)
    baseline = make_baseline(name, venv, data=small_market)
    state, start = baseline.plan(venv), np.ones(3, dtype=bool)
    for _ in range(8):  # one whole order: done at the eighth step
        action, state = baseline.predict(obs, state, episode_start=start)
        obs, _, done, _, _ = venv.step(action)
        start = np.zeros(3, dtype=bool)
    obs, *_ = venv.step(np.full(3, 2))  # NEXT_STEP autoreset: new orders
    with pytest.raises(ValueError, match="new episode started"):
        baseline.predict(obs, state, episode_start=done)
    assert baseline.predict(obs, baseline.plan(venv), episode_start=done)[0].shape == (3,)
