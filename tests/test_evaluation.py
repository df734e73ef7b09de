"""evaluate / compare: the batched harness gives what the single env and the vector env give order by order,
replayable orders, SB3 models (feed-forward and recurrent), callables, privileged observations."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import polars as pl
import pytest

import order_exec_gym  # noqa: F401  (registers OrderExec-v0)
from order_exec_gym import Order, Orders, OrderExecutionVectorEnv
from order_exec_gym.baselines import TWAP, Oracle, make_baseline
from order_exec_gym.evaluation import (
    EvaluationResult,
    compare,
    comparison_table,
    evaluate,
    evaluate_agents,
    needs_privileged,
    step_pa,
)
from order_exec_gym.task import ExecutionTask

DETERMINISTIC = ("TWAP", "VWAP", "AlmgrenChriss", "Oracle")
SETTINGS = [
    dict(),
    dict(action_type="continuous", side="random", step_minutes=20),
    dict(step_minutes=7, window_minutes=60, side="buy", alpha=0.05),
    dict(step_minutes=1, action_type="continuous", benchmark="vwap"),
]


@pytest.mark.parametrize("kwargs", SETTINGS)
@pytest.mark.parametrize("name", DETERMINISTIC)
def test_single_env_order_by_order_matches_evaluate(small_market, name, kwargs):
    result = evaluate(name, small_market, "test", seed=2, config=kwargs)
    env = gym.make("OrderExec-v0", data=small_market, split="test", **kwargs)
    agent = make_baseline(name, env, data=small_market)
    for row in result.orders.iter_rows(named=True):
        obs, _ = env.reset(options={"order": Order(row["episode"], row["side"], row["start"], row["length"])})
        done, executed, state = False, [], agent.plan(env)
        while not done:
            action, state = agent.predict(obs, state, deterministic=True)
            obs, _, done, _, info = env.step(action)
            executed.append(info["executed"])
        assert info["episode_reward"] == row["reward"]
        assert info["price_advantage"] == row["price_advantage"]
        np.testing.assert_array_equal(executed, result.schedules[row["episode"], : len(executed)])


@pytest.mark.parametrize("kwargs", SETTINGS[:3])
@pytest.mark.parametrize("name", DETERMINISTIC)
def test_vector_env_matches_evaluate(small_market, name, kwargs):
    result = evaluate(name, small_market, "test", n_orders=16, seed=5, config=kwargs)
    n = result.orders.height
    venv = OrderExecutionVectorEnv(n, data=small_market, split="test", **kwargs)
    agent = make_baseline(name, venv, data=small_market)
    frame = result.orders
    orders = Orders(
        frame["episode"].to_numpy(), np.where(frame["side"] == "sell", 1.0, -1.0), frame["start"].to_numpy(), frame["length"].to_numpy()
    )
    obs, _ = venv.reset(options={"orders": orders})
    reward, pa, finished = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    state = agent.plan(venv, orders)
    while not finished.all():  # rows that finished restart on new orders: their actions no longer count
        action, state = agent.predict(obs, state)
        obs, _, done, _, info = venv.step(action)
        first = done & ~finished
        if first.any():
            reward[first], pa[first] = info["episode_reward"][first], info["price_advantage"][first]
        finished |= done
    np.testing.assert_array_equal(reward, frame["reward"].to_numpy())
    np.testing.assert_array_equal(pa, frame["price_advantage"].to_numpy())


def test_result_table_and_reward_identity(small_market):
    kwargs = dict(side="random", alpha=0.02)
    result = evaluate("VWAP", small_market, "test", config=kwargs)
    test = small_market.split("test")
    frame = result.orders
    assert isinstance(result, EvaluationResult) and frame.height == len(test) == result.summary["n_orders"]
    assert frame.columns == [
        "episode", "symbol", "date", "side", "start", "length", "n_steps", "benchmark_price", "exec_price",
        "price_advantage", "reward", "forced",
    ]  # fmt: skip
    np.testing.assert_array_equal(frame["episode"], np.arange(len(test)))  # every episode once, whole session
    assert (frame["start"] == 0).all() and (frame["length"] == 240).all() and (frame["n_steps"] == 8).all()
    assert set(frame["side"]) == {"sell", "buy"}
    assert frame["symbol"].to_list() == test.symbols.tolist()
    assert frame["date"].dtype == pl.Date
    np.testing.assert_allclose(result.schedules.sum(axis=1), 1.0)
    # Sum of rewards = PA / 1e4 - alpha * sum(a^2 / m), per order (the penalty per minute; 30-minute steps).
    identity = frame["price_advantage"].to_numpy() / 1e4 - 0.02 * (result.schedules**2 / 30).sum(axis=1)
    np.testing.assert_allclose(frame["reward"].to_numpy(), identity, atol=1e-12)
    assert result.summary["pa_mean"] == pytest.approx(frame["price_advantage"].mean())
    assert result.step_minutes == 30 and result.bar_minutes == 1
    assert np.isnan(result.step_prices[:, 8:]).all() and np.isfinite(result.step_prices[:, :8]).all()


def test_orders_are_replayable(small_market):
    kwargs = dict(side="random", window_minutes=90)
    first = evaluate("TWAP", small_market, "valid", seed=3, config=kwargs).orders
    again = evaluate("Oracle", small_market, "valid", seed=3, config=kwargs).orders
    other = evaluate("TWAP", small_market, "valid", seed=4, config=kwargs).orders
    keys = ["episode", "side", "start", "length"]
    assert first.select(keys).equals(again.select(keys))
    assert not first.select(keys).equals(other.select(keys))
    drawn = evaluate("TWAP", small_market, "valid", n_orders=50, seed=3, config=kwargs).orders
    assert drawn.height == 50 and drawn.select(keys).equals(evaluate("AlmgrenChriss", small_market, "valid", n_orders=50, seed=3, config=kwargs).orders.select(keys))
    assert (drawn["length"] == 90).all()


def test_callables_and_privileged_agents(small_market):
    def twap_level(obs):
        assert "privileged" not in obs
        return np.full(len(obs["private"]), 2)

    class Peeker:
        needs_privileged = True

        def __call__(self, obs):
            assert obs["privileged"].shape[1:] == (240, 5)
            return np.full(len(obs["private"]), 2)

    plain = evaluate(twap_level, small_market)
    peeked = evaluate(Peeker(), small_market)
    reference = evaluate("TWAP", small_market)
    np.testing.assert_array_equal(plain.orders["reward"], reference.orders["reward"])
    np.testing.assert_array_equal(peeked.orders["reward"], reference.orders["reward"])
    with pytest.raises(ValueError, match="shape"):
        evaluate(lambda obs: np.zeros(3, dtype=np.int64), small_market)
    with pytest.raises(ValueError, match="discrete actions"):
        evaluate(lambda obs: np.full(len(obs["private"]), 9), small_market)
    with pytest.raises(TypeError, match="cannot evaluate"):
        evaluate(42, small_market)
    with pytest.raises(ValueError, match="split select the market"):
        evaluate("TWAP", small_market, config={"split": "train"})


def test_one_baseline_evaluates_any_orders_of_its_configuration(small_market):
    oracle = Oracle(ExecutionTask(data=small_market))
    seven, twelve = evaluate(oracle, small_market, n_orders=7), evaluate(oracle, small_market, n_orders=12, seed=1)
    assert (seven.summary["n_orders"], twelve.summary["n_orders"]) == (7, 12)
    assert twelve.orders["reward"].equals(evaluate("Oracle", small_market, n_orders=12, seed=1).orders["reward"])
    with pytest.raises(ValueError, match="was built for action_type='discrete'"):
        evaluate(oracle, small_market, config={"action_type": "continuous"})


def test_predict_gets_the_recurrent_state_and_episode_starts(small_market):
    class Recorder:
        def __init__(self):
            self.calls = []

        def predict(self, observation, state=None, episode_start=None, deterministic=True):
            self.calls.append((state, episode_start.copy(), deterministic))
            return np.full(len(observation["private"]), 2), (0 if state is None else state + 1)

    agent = Recorder()
    evaluate(agent, small_market, n_orders=3, deterministic=False)
    assert [call[0] for call in agent.calls] == [None, 0, 1, 2, 3, 4, 5, 6]
    assert agent.calls[0][1].all() and not any(call[1].any() for call in agent.calls[1:])
    assert not any(call[2] for call in agent.calls)


@pytest.mark.parametrize("recurrent", [False, True])
def test_sb3_models(small_market, recurrent):
    from sb3_contrib import RecurrentPPO
    from stable_baselines3 import PPO

    from sb3_distill.vec_env import OrderExecutionVecEnv

    venv = OrderExecutionVecEnv(2, data=small_market, privileged=recurrent)
    if recurrent:
        model = RecurrentPPO("MultiInputLstmPolicy", venv, n_steps=8, batch_size=16, seed=0, policy_kwargs=dict(lstm_hidden_size=8, net_arch=[8]))
    else:
        model = PPO("MultiInputPolicy", venv, n_steps=8, batch_size=16, seed=0, policy_kwargs=dict(net_arch=[8]))
    assert needs_privileged(model) == recurrent
    result = evaluate(model, small_market, n_orders=20)
    again = evaluate(model, small_market, n_orders=20)
    assert result.orders.equals(again.orders)
    np.testing.assert_allclose(result.schedules.sum(axis=1), 1.0)
    sampled = evaluate(model, small_market, n_orders=20, deterministic=False)
    assert sampled.orders.height == 20


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"lookback": 60}, r"observation 'public' of shape \(30, 4\), the env's is \(60, 4\)"),
        ({"history": "session"}, r"observation 'public' of shape \(30, 4\), the env's is \(480, 5\)"),
        ({"action_type": "continuous"}, "the agent's actions are Discrete"),
        ({"levels": (0, 1, 2)}, "action_type and levels"),
    ],
)
def test_a_model_evaluated_on_other_settings_says_which(small_market, settings, message):
    """Not 'Sizes of tensors must match' from deep in torch, nor actions read against other levels."""
    from stable_baselines3 import PPO

    from sb3_distill.vec_env import OrderExecutionVecEnv

    model = PPO("MultiInputPolicy", OrderExecutionVecEnv(2, data=small_market), n_steps=8, batch_size=16, policy_kwargs=dict(net_arch=[8]))
    assert evaluate(model, small_market, n_orders=4).orders.height == 4
    with pytest.raises(ValueError, match=message):
        evaluate(model, small_market, n_orders=4, config=settings)


def test_compare(small_market):
    table = compare({"AlmgrenChriss": "AlmgrenChriss", "Oracle": "Oracle", "twap again": TWAP(ExecutionTask(data=small_market))}, small_market, n_orders=40, seed=1)
    assert table["agent"].to_list() == ["TWAP", "AlmgrenChriss", "Oracle", "twap again"]
    assert table.columns == ["agent", "mean_reward", "pa_mean", "pa_std", "glr", "n_orders", "pa_diff", "ci_low", "ci_high"]
    twap = table.row(0, named=True)
    assert twap["pa_diff"] == twap["ci_low"] == twap["ci_high"] == 0.0
    oracle = table.row(2, named=True)
    assert oracle["ci_low"] < oracle["pa_diff"] < oracle["ci_high"] and oracle["ci_low"] > 0
    assert oracle["pa_diff"] == pytest.approx(oracle["pa_mean"] - twap["pa_mean"])
    assert (table["n_orders"] == 40).all()
    assert table.row(3, named=True)["pa_diff"] == 0.0

    assert compare({"AlmgrenChriss": "AlmgrenChriss"}, small_market, n_orders=10, reference=None)["pa_diff"].is_null().all()
    with pytest.raises(KeyError, match="reference"):
        compare({"AlmgrenChriss": "AlmgrenChriss"}, small_market, reference="nobody")
    results = evaluate_agents({"TWAP": "TWAP"}, small_market, n_orders=5, seed=0)
    results["other"] = evaluate("TWAP", small_market, n_orders=5, seed=1)
    with pytest.raises(ValueError, match="different orders"):
        comparison_table(results)


def test_step_pa_prices_every_step_and_rebuilds_each_agents_pa(small_market):
    """Each order's PA at each step, from the runs' step prices: any agent's PA, sell or buy, is its schedule times
    them."""
    import dataclasses

    settings = {"side": "random"}
    twap, oracle = evaluate("TWAP", small_market, "all", config=settings), evaluate("Oracle", small_market, "all", config=settings)
    assert set(twap.orders["side"].to_list()) == {"sell", "buy"}
    every = step_pa([twap, oracle])
    assert every.shape == twap.schedules.shape
    for result in (twap, oracle):
        rebuilt = np.sum(result.schedules * every, axis=1)
        np.testing.assert_allclose(rebuilt, result.orders["price_advantage"].to_numpy(), atol=1e-9)
    steps = twap.step_prices.shape[1]
    shorter = dataclasses.replace(twap, step_prices=np.where(np.arange(steps) >= steps - 2, np.nan, twap.step_prices))
    assert step_pa([shorter]) is None  # orders with fewer steps than others: no price after their last step
    moved = dataclasses.replace(twap, step_prices=twap.step_prices * 1.001)
    with pytest.raises(ValueError, match="other step or benchmark prices"):
        step_pa([twap, moved])
    rebased = dataclasses.replace(twap, orders=twap.orders.with_columns(pl.col("benchmark_price") * 1.001))
    with pytest.raises(ValueError, match="other step or benchmark prices"):
        step_pa([twap, rebased])
    with pytest.raises(ValueError, match="different orders"):
        step_pa([twap, evaluate("TWAP", small_market, "all", n_orders=80, seed=1, config=settings)])
