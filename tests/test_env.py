"""OrderExec-v0: Gymnasium/SB3 conformance, the reward identities, no look-ahead, replayability, errors."""

from __future__ import annotations

import math
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.vector import AutoresetMode
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import order_exec_gym  # noqa: F401  (registers OrderExec-v0)
from order_exec_gym import (
    PAPER_LEVELS, ExecutionConfig, MarketDataset, Order, OrderExecutionEnv, OrderExecutionVectorEnv, Orders,
)  # fmt: skip
from order_exec_gym.task import ExecutionTask
from sb3_distill.vec_env import OrderExecutionVecEnv
from tests.conftest import random_market


def run_episode(env: gym.Env, actions, options=None, seed=None):
    """Step ``env`` through one episode with the actions given (cycled); return rewards, infos, observations."""
    obs, info = env.reset(seed=seed, options=options)
    rewards, infos, observations = [], [], [obs]
    for i in range(10_000):
        obs, reward, terminated, truncated, info = env.step(actions[i % len(actions)])
        rewards.append(reward)
        infos.append(info)
        observations.append(obs)
        if terminated or truncated:
            return np.array(rewards), infos, observations
    raise AssertionError("episode did not end")


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
@pytest.mark.parametrize("privileged", [False, True])
def test_gymnasium_and_sb3_checkers_pass(small_market, action_type, privileged):
    env = OrderExecutionEnv(data=small_market, action_type=action_type, privileged=privileged)
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env, warn=False)


def test_registered_ids_and_vector_entry_point(small_market):
    env = gym.make("OrderExec-v0", data=small_market)
    assert isinstance(env.unwrapped, OrderExecutionEnv)
    env = gym.make("order_exec_gym:OrderExec-v0", data=small_market)
    assert isinstance(env.unwrapped, OrderExecutionEnv)
    venv = gym.make_vec("OrderExec-v0", num_envs=3, vectorization_mode="vector_entry_point", data=small_market)
    assert isinstance(venv, OrderExecutionVectorEnv)
    assert venv.observation_space["public"].shape == (3, 30, 4)


def test_the_default_env():
    env = gym.make("OrderExec-v0").unwrapped
    task = env.task
    assert task.dataset.source.startswith("synthetic")
    assert env.config == ExecutionConfig() and task.config is env.config
    assert (task.layout.step_bars, task.config.alpha, task.config.side, task.config.action_type) == (30, 0.01, "sell", "discrete")
    assert (task.config.penalty_per, task.config.level_unit, task.config.history) == ("minute", "twap", "lookback")
    np.testing.assert_array_equal(task.levels, [0, 0.5, 1, 1.5, 2])
    obs, info = env.reset(seed=0)
    assert info["n_steps"] == 8 and info["length"] == 240


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_bars=st.integers(1, 70),
    step=st.integers(1, 12),
    side=st.sampled_from(["sell", "buy"]),
    action_type=st.sampled_from(["discrete", "continuous"]),
    alpha=st.sampled_from([0.0, 0.01, 0.5]),
    benchmark=st.sampled_from(["mean", "vwap"]),
    penalty_per=st.sampled_from(["minute", "step"]),
    level_unit=st.sampled_from(["twap", "order"]),
    bar_minutes=st.sampled_from([1, 5]),
)
def test_reward_identities_on_random_markets(
    seed, n_bars, step, side, action_type, alpha, benchmark, penalty_per, level_unit, bar_minutes
):
    rng = np.random.default_rng(seed)
    market = replace(random_market(rng, 3, n_bars), bar_minutes=bar_minutes)
    env = OrderExecutionEnv(
        data=market, side=side, step_minutes=step * bar_minutes, alpha=alpha, action_type=action_type,
        lookback=5 * bar_minutes, benchmark=benchmark, penalty_per=penalty_per, level_unit=level_unit,
        levels=(0, 0.25, 0.5, 1) if level_unit == "order" else (0, 0.5, 1, 1.5, 2),
    )  # fmt: skip
    start = int(rng.integers(0, n_bars))
    length = int(rng.integers(1, n_bars - start + 1))
    order = Order(episode=int(rng.integers(0, 3)), side=side, start=start, length=length)
    if action_type == "discrete":
        actions = list(rng.integers(0, env.action_space.n, 50))
    else:
        actions = [np.array([v], np.float32) for v in rng.uniform(-0.5, 1.5, 50)]
    rewards, infos, observations = run_episode(env, actions, options={"order": order})

    executed = np.array([i["executed"] for i in infos])
    assert (executed >= 0).all()
    assert all(o["private"][0] >= 0 for o in observations)
    assert executed.sum() == pytest.approx(1.0, abs=1e-9)
    assert len(rewards) <= math.ceil(length / step)

    # Independent, straightforward re-computation from the raw bars.
    price = market.bars["price"][order.episode].astype(np.float64)
    volume = market.bars["volume"][order.episode].astype(np.float64)
    window = slice(start, start + length)
    p_bench = price[window].mean()
    if benchmark == "vwap" and volume[window].sum() > 0:
        p_bench = (price[window] * volume[window]).sum() / volume[window].sum()
    s = 1.0 if side == "sell" else -1.0
    expected, penalties = [], []
    for t, a in enumerate(executed):
        bars = price[start + t * step : min(start + (t + 1) * step, start + length)]
        c = alpha / (len(bars) * bar_minutes) if penalty_per == "minute" else alpha  # per minute: alpha (a / m)^2 x m
        expected.append(s * a * (bars.mean() / p_bench - 1) - c * a**2)
        penalties.append(c * a**2)
    np.testing.assert_allclose(rewards, expected, rtol=1e-9, atol=1e-12)

    pa = infos[-1]["price_advantage"]
    avg_price = sum(a * i["exec_price"] for a, i in zip(executed, infos))
    assert pa == pytest.approx(1e4 * s * (avg_price / p_bench - 1), rel=1e-9, abs=1e-9)
    assert rewards.sum() == pytest.approx(pa / 1e4 - sum(penalties), abs=1e-12)
    assert infos[-1]["episode_reward"] == pytest.approx(rewards.sum(), abs=1e-12)


def test_twap_has_zero_price_advantage_with_one_minute_steps(small_market):
    venv = OrderExecutionVectorEnv(len(small_market), data=small_market, split="all", step_minutes=1)
    orders = Orders.from_orders([Order(e) for e in range(len(small_market))], small_market)
    venv.reset(options={"orders": orders})
    twap = np.full(len(small_market), 2)  # level 1.0 = the TWAP rate
    for _ in range(240):
        _, _, done, _, info = venv.step(twap)
    assert done.all()
    np.testing.assert_allclose(info["price_advantage"], 0.0, atol=1e-8)


@pytest.mark.parametrize("penalty_per", ["minute", "step"])
def test_twap_pays_alpha_over_the_session_minutes(small_market, penalty_per):
    """Per minute, TWAP over a 240-minute session pays alpha / 240 exactly; per step, alpha / T."""
    result_pa, result_reward = [], []
    venv = OrderExecutionVectorEnv(len(small_market), data=small_market, split="all", penalty_per=penalty_per)
    venv.reset(options={"orders": Orders.from_orders([Order(e) for e in range(len(small_market))], small_market)})
    for _ in range(8):
        _, _, done, _, info = venv.step(np.full(len(small_market), 2))
    assert done.all()
    result_pa, result_reward = info["price_advantage"], info["episode_reward"]
    np.testing.assert_allclose(result_pa, 0.0, atol=1e-8)  # equal 30-minute steps: TWAP's price is the mean price
    expected = 0.01 / 240 if penalty_per == "minute" else 0.01 / 8
    np.testing.assert_allclose(result_reward, result_pa / 1e4 - expected, rtol=0, atol=1e-15)


def test_paper_levels_trade_fractions_of_the_whole_order(small_market):
    env = gym.make("OrderExec-v0", data=small_market, levels=PAPER_LEVELS, level_unit="order")
    env.reset(seed=0)
    _, _, done, _, info = env.step(4)
    assert info["executed"] == 1.0 and done
    env.reset(seed=0)
    _, _, _, _, info = env.step(1)
    assert info["executed"] == 0.25
    twap_units = gym.make("OrderExec-v0", data=small_market, levels=PAPER_LEVELS)
    twap_units.reset(seed=0)
    assert twap_units.step(4)[4]["executed"] == 1.0 / 8  # the same levels in TWAP units: a rate of 1/T


def test_buy_mirrors_sell(small_market):
    rng = np.random.default_rng(3)
    actions = list(rng.integers(0, 5, 8))
    sell = OrderExecutionEnv(data=small_market, side="sell", alpha=0.0)
    buy = OrderExecutionEnv(data=small_market, side="buy", alpha=0.0)
    r_sell, i_sell, _ = run_episode(sell, actions, options={"order": Order(5, "sell")})
    r_buy, i_buy, _ = run_episode(buy, actions, options={"order": Order(5, "buy")})
    np.testing.assert_allclose(r_buy, -r_sell)
    assert i_buy[-1]["price_advantage"] == pytest.approx(-i_sell[-1]["price_advantage"])


@pytest.mark.parametrize("step, start", [(1, 17), (7, 17), (30, 17), (30, 0)])
@pytest.mark.parametrize(("history", "market_features"), [("lookback", False), ("lookback", True), ("session", True)])
def test_observation_has_no_look_ahead(small_market, step, start, history, market_features):
    """Changing every bar from the decision bar on, of this instrument and of every other one that day, and every bar
    of later days, changes neither ``public`` nor ``private`` (nor the info). The decision bar's open is the price at
    the decision time (the session's open is the reference of an order that starts with the session): it stays."""
    settings = dict(split="all", step_minutes=step, lookback=45, history=history, market_features=market_features)
    env = OrderExecutionEnv(data=small_market, **settings)
    order = Order(episode=int(np.flatnonzero(small_market.dates == small_market.dates[11])[1]), start=start, length=150)
    _, _, observations = run_episode(env, [1, 3, 0, 2], options={"order": order})
    rng = np.random.default_rng(0)
    day = small_market.dates[order.episode]
    for t, obs in enumerate(observations[:-1]):
        decision = order.start + t * step
        today = small_market.dates[:, None] == day
        bar = np.arange(small_market.max_bars)[None, :]
        future = (small_market.dates[:, None] > day) | (today & (bar >= decision))
        bars = {}
        for name, values in small_market.bars.items():
            changed = future & ~(today & (bar == decision)) if name == "open" else future
            bars[name] = np.where(changed, values * rng.uniform(0.5, 1.5, values.shape), values).astype(np.float32)
        bars["high"] = np.maximum.reduce([bars["open"], bars["high"], bars["low"], bars["close"], bars["price"]])
        bars["low"] = np.minimum.reduce([bars["open"], bars["high"], bars["low"], bars["close"], bars["price"]])
        changed = replace(small_market, bars=bars)
        env2 = OrderExecutionEnv(data=changed, **settings)
        _, _, observations2 = run_episode(env2, [1, 3, 0, 2], options={"order": order})
        np.testing.assert_array_equal(observations2[t]["public"], obs["public"])
        np.testing.assert_array_equal(observations2[t]["private"], obs["private"])
        if t == 1:  # the perturbation reaches the observation once the perturbed bars are in the past
            assert not np.array_equal(observations2[-2]["public"], observations[-2]["public"])


def test_info_reveals_the_benchmark_only_when_the_window_is_over(small_market):
    env = OrderExecutionEnv(data=small_market)
    _, reset_info = env.reset(seed=0)
    _, infos, _ = run_episode(env, [2], seed=0)
    assert "benchmark_price" not in reset_info
    assert all("benchmark_price" not in info for info in infos[:-1])
    assert infos[-1]["benchmark_price"] > 0
    venv = OrderExecutionVectorEnv(2, data=small_market)
    venv.reset(seed=0)
    info = venv.step(np.array([2, 4]))[4]
    assert "benchmark_price" not in info
    for _ in range(3):
        info = venv.step(np.array([2, 4]))[4]
    assert info["_benchmark_price"].tolist() == [False, True] and info["benchmark_price"][0] == 0


def test_reset_on_an_episode_keeps_the_env_side_and_window(small_market):
    env = OrderExecutionEnv(data=small_market, side="buy", window_minutes=60)
    obs, info = env.reset(seed=1, options={"episode": 3})
    assert (info["episode_index"], info["side"], info["length"], info["n_steps"]) == (3, "buy", 60, 2)
    assert obs["private"][2] == -1
    with pytest.raises(ValueError, match="out of range"):
        env.reset(options={"episode": 10_000})


def test_privileged_observation_sees_the_whole_window(small_market):
    env = OrderExecutionEnv(data=small_market, split="all", privileged=True)
    obs, _ = env.reset(options={"order": Order(episode=2, start=40, length=100)})
    window = obs["privileged"]
    assert window[:100, 4].all() and not window[100:].any()
    price = small_market.bars["price"][2].astype(np.float64)
    expected = 100 * np.log(price[40:140] / price[39])
    np.testing.assert_allclose(window[:100, 0], expected, atol=1e-4)


def test_single_vector_and_sb3_adapter_give_identical_rewards(small_market):
    n = 6
    rng = np.random.default_rng(1)
    orders = Orders.from_orders([Order(int(e), side) for e, side in zip(rng.integers(0, 56, n), ["sell", "buy"] * 3)], small_market.split("train"))
    actions = rng.integers(0, 5, (8, n))
    kwargs = dict(data=small_market, side="random")

    single = np.zeros((8, n))
    live = np.zeros((8, n), dtype=bool)  # steps inside each order's episode (autoreset starts new orders after)
    for i in range(n):
        env = OrderExecutionEnv(**kwargs)
        order = Order(int(orders.episode[i]), "sell" if orders.side[i] > 0 else "buy")
        rewards, _, _ = run_episode(env, list(actions[:, i]), options={"order": order})
        single[: len(rewards), i] = rewards
        live[: len(rewards), i] = True

    venv = OrderExecutionVectorEnv(n, **kwargs)
    venv.reset(options={"orders": orders})
    vector = np.array([venv.step(a)[1] for a in actions])

    sb3 = OrderExecutionVecEnv(n, **kwargs)
    sb3.set_options({"orders": orders})
    sb3.reset()
    adapter = []
    for a in actions:
        sb3.step_async(a)
        adapter.append(sb3.step_wait()[1])
    assert not live.all()  # some orders finish early, so autoreset is exercised too
    np.testing.assert_array_equal(vector[live], single[live])
    np.testing.assert_allclose(np.array(adapter)[live], single[live], rtol=1e-6)  # SB3 rewards are float32


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_env_autoreset(small_market, mode):
    venv = OrderExecutionVectorEnv(4, data=small_market, autoreset_mode=mode)
    obs, _ = venv.reset(seed=0)
    for _ in range(8):
        obs, rewards, done, _, info = venv.step(np.full(4, 2))
    assert done.all()
    if mode == AutoresetMode.SAME_STEP:
        assert info["_final_obs"].all() and (info["final_obs"]["private"][:, 0] == 0).all()
        assert (obs["private"][:, 0] == 1).all()  # already the next orders
    else:
        assert (obs["private"][:, 0] == 0).all()
        obs, rewards, done, _, info = venv.step(np.full(4, 2))
        assert (rewards == 0).all() and not done.any() and (obs["private"][:, 0] == 1).all()
        assert not info["executed"].any() and not info["exec_price"].any()


def test_sb3_adapter_reports_terminal_observation(small_market):
    venv = OrderExecutionVecEnv(3, data=small_market)
    venv.seed(0)
    venv.reset()
    for _ in range(8):
        venv.step_async(np.full(3, 4))
        obs, rewards, dones, infos = venv.step_wait()
        if dones.any():
            break
    assert dones.all()  # level 2 = twice the TWAP rate finishes after T/2 steps
    assert all(info["terminal_observation"]["private"][0] == 0 for info in infos)
    assert all("price_advantage" in info for info in infos)


def test_same_seed_gives_identical_episodes(small_market):
    def trajectory(seed):
        env = OrderExecutionEnv(data=small_market, side="random", window_minutes=90)
        rewards, infos, obs = run_episode(env, [0, 2, 4, 1], seed=seed)
        return rewards, [o["public"] for o in obs]

    a, b, c = trajectory(5), trajectory(5), trajectory(6)
    np.testing.assert_array_equal(a[0], b[0])
    for x, y in zip(a[1], b[1]):
        np.testing.assert_array_equal(x, y)
    assert not (len(a[0]) == len(c[0]) and np.array_equal(a[0], c[0]))


@pytest.mark.parametrize(
    "action_type, action, message",
    [
        ("discrete", 5, "integers in"),
        ("discrete", -1, "integers in"),
        ("discrete", 1.5, "integers in"),
        ("discrete", np.array([1, 2]), "shape"),
        ("continuous", np.array([np.nan], np.float32), "finite"),
        ("continuous", np.array([np.inf], np.float32), "finite"),
        ("continuous", np.array([0.1, 0.2], np.float32), "shape"),
        ("continuous", "0.5", "numbers"),  # not converted: a string is no action
        ("continuous", True, "numbers"),  # not the whole order
        ("continuous", np.array(["0.5"]), "numbers"),
        ("discrete", True, "integers in"),
        ("discrete", "2", "integers in"),
    ],
)
def test_invalid_actions_raise(small_market, action_type, action, message):
    env = OrderExecutionEnv(data=small_market, action_type=action_type)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)


def test_continuous_actions_are_clipped_and_never_oversell(small_market):
    env = OrderExecutionEnv(data=small_market, action_type="continuous")
    _, infos, _ = run_episode(env, [np.array([0.7], np.float32), np.array([5.0], np.float32)], seed=0)
    assert [i["executed"] for i in infos] == pytest.approx([0.7, 0.3])
    _, infos, _ = run_episode(env, [np.array([-3.0], np.float32)], seed=0)
    assert [i["executed"] for i in infos[:-1]] == [0.0] * 7
    assert infos[-1]["executed"] == 1.0 and infos[-1]["forced"]


@pytest.mark.parametrize("actions", [np.array(["0.5", "0.5"]), np.array([True, False])])
def test_the_vector_env_refuses_actions_that_are_not_numbers(small_market, actions):
    venv = OrderExecutionVectorEnv(2, data=small_market, action_type="continuous")
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="numbers"):
        venv.step(actions)


def test_a_vector_env_stepped_before_reset_says_so(small_market):
    """Not finished orders with a PA of -10000 bps: an error."""
    venv = OrderExecutionVectorEnv(2, data=small_market)
    with pytest.raises(RuntimeError, match="before reset"):
        venv.step(np.array([2, 2]))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"episode": 1.7}, "whole number"),
        ({"episode": "3"}, "whole number"),
        ({"episode": True}, "whole number"),
        ({"episod": 3}, r"unknown reset option\(s\) \['episod'\]"),
        ({"order": Order(1.7)}, "order episode must be a whole number"),
        ({"order": Order(1, start="0")}, "order start must be a whole number"),
        ({"order": Order(1, length=100.0)}, "order length must be a whole number"),
        ({"order": (1, "sell")}, "expected an Order"),
    ],
)
def test_reset_options_are_checked_not_converted(small_market, options, message):
    env = OrderExecutionEnv(data=small_market)
    with pytest.raises(ValueError, match=message):
        env.reset(options=options)
    assert env.reset(options={"episode": np.int64(3)})[1]["episode_index"] == 3  # numpy integers are whole numbers


def test_vector_reset_options_are_checked(small_market):
    venv = OrderExecutionVectorEnv(2, data=small_market)
    with pytest.raises(ValueError, match="unknown reset option"):
        venv.reset(options={"order": Order(0)})
    with pytest.raises(ValueError, match="Orders batch"):
        venv.reset(options={"orders": [Order(0), Order(1)]})


def test_orders_that_do_not_fit_are_rejected(small_market):
    venv = OrderExecutionVectorEnv(2, data=small_market)
    train = small_market.split("train")
    good = Orders.from_orders([Order(0), Order(1)], train)
    for bad, message in [
        (Orders(good.episode, good.side, good.start, good.length + 1), "does not fit"),
        (Orders(good.episode + 10_000, good.side, good.start, good.length), "out of range"),
        (Orders(good.episode, good.side * 2, good.start, good.length), "side"),
    ]:
        with pytest.raises(ValueError, match=message):
            venv.reset(options={"orders": bad})


def test_simulator_clips_ratios_to_what_remains(small_market):
    task = ExecutionTask(data=small_market, num_orders=3)
    task.reset(Orders.from_orders([Order(0), Order(1), Order(2)], task.dataset))
    result = task.sim.step(np.array([-0.5, 0.3, 7.0]))
    np.testing.assert_array_equal(result.executed, [0.0, 0.3, 1.0])
    np.testing.assert_array_equal(task.sim.remaining, [1.0, 0.7, 0.0])


def test_bad_arguments_raise(small_market):
    with pytest.raises(ValueError, match="side"):
        OrderExecutionEnv(data=small_market, side="short")
    with pytest.raises(ValueError, match="action_type"):
        OrderExecutionEnv(data=small_market, action_type="box")
    with pytest.raises(ValueError, match="benchmark"):
        OrderExecutionEnv(data=small_market, benchmark="twap")
    with pytest.raises(ValueError, match="step_minutes"):
        OrderExecutionEnv(data=small_market, step_minutes=0)
    with pytest.raises(ValueError, match="levels"):
        OrderExecutionEnv(data=small_market, levels=(1.0,))
    with pytest.raises(KeyError, match="split"):
        OrderExecutionEnv(data=small_market, split="holdout")
    env = OrderExecutionEnv(data=small_market)
    with pytest.raises(ValueError, match="does not fit"):
        env.reset(options={"order": Order(0, start=200, length=100)})
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_step_bars_follow_the_data_bar_length(small_market):
    five_minute = replace(small_market, bar_minutes=5)
    task = ExecutionTask(five_minute, config={"step_minutes": 30, "lookback": 60})
    assert (task.layout.step_bars, task.layout.lookback_bars) == (6, 12)
    assert task.observation_space["public"].shape == (12, 4)
    with pytest.raises(ValueError, match="step_minutes=7 must be a positive multiple"):
        ExecutionTask(five_minute, config={"step_minutes": 7})
    with pytest.raises(ValueError, match="window_minutes=12 must be a positive multiple"):
        ExecutionTask(five_minute, config={"window_minutes": 12})


def test_sb3_ppo_and_recurrent_ppo_train(small_market):
    from sb3_contrib import RecurrentPPO
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    venv = VecMonitor(OrderExecutionVecEnv(4, data=small_market, reward_scale=100.0))
    PPO("MultiInputPolicy", venv, n_steps=64, batch_size=64, n_epochs=2, seed=0).learn(2048)
    RecurrentPPO("MultiInputLstmPolicy", venv, n_steps=64, batch_size=64, n_epochs=2, seed=0).learn(1024)
    model = PPO("MultiInputPolicy", gym.make("OrderExec-v0", data=small_market, action_type="continuous"), n_steps=64, batch_size=32, seed=0)
    model.learn(256)
    action, _ = model.predict(gym.make("OrderExec-v0", data=small_market, action_type="continuous").reset(seed=0)[0])
    assert action.shape == (1,) and model.num_timesteps >= 256


def test_a_pickled_env_carries_its_market_not_its_feature_tables():
    """gym.make's env on the default market pickled to 404 MB (the features' sliding-window view copied in full);
    now the market, and the features are rebuilt (once per market) where it is unpickled: the same steps follow."""
    import pickle

    env = gym.make("OrderExec-v0", history="session", market_features=True, privileged=True)
    env.reset(seed=0)
    data = pickle.dumps(env)
    assert len(data) < 40e6
    clone = pickle.loads(data)
    for _ in range(4):
        (obs, reward, *_), (other, other_reward, *_) = env.step(1), clone.step(1)
        assert reward == other_reward and all(np.array_equal(obs[key], other[key]) for key in obs)


# ------------------------------------------------------------------------------------------ OrderExec-v0 and -v1

#: ``gym.make("OrderExec-v0")`` stepped from ``reset(seed=123)`` with :data:`V0_ACTIONS`, recorded before OrderExec-v1
#: was added (rewards, the public observation's sum and the private observation after each step, the final info).
V0_ACTIONS = [0, 4, 1, 3, 2, 4, 0, 1]
V0_REWARDS = [0.0, -0.003479028368969713, -0.00018329814576799864, -0.000270881183998171, -0.00043353880077148164,
              0.0012896395687120564, 0.0, 0.002937745101921969]  # fmt: skip
V0_PUBLIC_SUMS = [16.87351182475686, 35.49057500809431, 72.3003949642698, 76.00672318879515, 72.00081631634384,
                  103.78258643357549, 129.2071225786931, 158.35387747129425]  # fmt: skip
V0_REMAINING = [1.0, 0.75, 0.6875, 0.5, 0.375, 0.125, 0.125, 0.0]
#: ``gym.make_vec("OrderExec-v0", num_envs=3)`` from ``reset(seed=5)``: step t's actions (t % 5, (t + 2) % 5, 4).
V0_VECTOR_REWARDS = [
    [0.0, -0.001590559975829569, 0.005730864848943443],
    [-0.00015241642772222653, -0.001545571818370665, 0.0007077417176924705],
    [-0.0002176042741914372, -0.0017197691967906794, -0.000970522459126435],
    [0.0003000454026920872, 0.0, -0.00017382937142302],
    [-0.0017991271345316497, 0.0006986933152890745, 0.0],
    [0.0, 0.0010268453483791914, 0.0049954857468665044],
    [0.00027992244140756674, -0.00034281712538999183, 0.002019156440082962],
    [0.004705722652285261, 0.0002562976972779756, 0.0013726791629163047],
]  # fmt: skip


def test_v0_is_registered_and_steps_as_before_v1():
    spec = gym.spec("OrderExec-v0")
    assert (spec.entry_point, spec.vector_entry_point, spec.kwargs) == (
        "order_exec_gym.env:OrderExecutionEnv", "order_exec_gym.vector:OrderExecutionVectorEnv", {},
    )  # fmt: skip
    env = gym.make("OrderExec-v0")
    obs, info = env.reset(seed=123)
    assert (info["episode_index"], info["symbol"], info["date"]) == (32, "SYN002", "2023-01-03") and not obs["public"].any()
    rewards, sums, remaining = [], [], []
    for action in V0_ACTIONS:
        obs, reward, terminated, _, info = env.step(action)
        rewards.append(reward)
        sums.append(obs["public"].astype(np.float64).sum())
        remaining.append(obs["private"][0])
    assert terminated
    np.testing.assert_allclose(rewards, V0_REWARDS, rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(sums, V0_PUBLIC_SUMS, rtol=1e-9)
    assert remaining == V0_REMAINING
    assert info["price_advantage"] == pytest.approx(-0.7425766220670038, rel=1e-9)
    assert info["episode_reward"] == pytest.approx(-0.0001393618288733395, rel=1e-9)

    venv = gym.make_vec("OrderExec-v0", num_envs=3, vectorization_mode="vector_entry_point")
    venv.reset(seed=5)
    vector = [venv.step(np.array([t % 5, (t + 2) % 5, 4]))[1] for t in range(8)]
    np.testing.assert_allclose(vector, V0_VECTOR_REWARDS, rtol=1e-12, atol=1e-18)


def v1_column() -> dict[str, str]:
    """The docstring's Arguments table: ``{parameter: its cell in the "v1" column}``."""
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in OrderExecutionEnv.__doc__.splitlines()
            if line.strip().startswith("|") and "---" not in line]  # fmt: skip
    header = next(row for row in rows if row[0] == "parameter")
    column = next(i for i, name in enumerate(header) if name.startswith("v1"))
    return {row[0]: row[column] for row in rows[rows.index(header) + 1 :] if len(row) == len(header)}


def test_v1_defaults_are_the_documented_ones():
    import ast

    from order_exec_gym.env import V1_KWARGS

    documented = {name: ast.literal_eval(cell) for name, cell in v1_column().items() if cell}
    assert documented == V1_KWARGS
    assert set(v1_column()) == {"data", "split", *ExecutionConfig._names()}  # the table lists every argument
    spec, v0 = gym.spec("OrderExec-v1"), gym.spec("OrderExec-v0")
    assert spec.kwargs == V1_KWARGS
    assert (spec.entry_point, spec.vector_entry_point) == (v0.entry_point, v0.vector_entry_point)

    env = gym.make("OrderExec-v1").unwrapped
    settings = {name: value for name, value in V1_KWARGS.items() if name != "data"}
    assert env.config == ExecutionConfig(**settings)
    assert (env.config.level_unit, env.config.history, env.config.reward_scale) == ("order", "session", 100.0)
    assert env.task.market is MarketDataset.synthetic(signal=2.0) and env.task.market.model["signal"] == 2.0
    assert env.task.split == "train" and env.observation_space["public"].shape == (480, 5)


def test_v1_rewards_are_the_settings_rewards_x100_on_the_signal_market():
    market = MarketDataset.synthetic(signal=2.0)
    v1 = gym.make("OrderExec-v1")
    same = OrderExecutionEnv(data=market, levels=PAPER_LEVELS, level_unit="order", history="session")
    for env in (v1, same):
        env.reset(seed=3)
    for action in (1, 0, 2, 4):
        (obs, reward, done, _, info), (other, unscaled, other_done, _, other_info) = v1.step(action), same.step(action)
        assert reward == pytest.approx(100.0 * unscaled, rel=1e-12) and done == other_done
        assert all(np.array_equal(obs[key], other[key]) for key in obs)
        if done:
            break
    assert done and info["price_advantage"] == other_info["price_advantage"]
    assert info["episode_reward"] == other_info["episode_reward"]  # the info stays unscaled, as with any reward_scale


def test_v1_makes_single_vector_and_sb3_envs_and_takes_overrides():
    venv = gym.make_vec("OrderExec-v1", num_envs=4, vectorization_mode="vector_entry_point")
    single = gym.make("OrderExec-v1").unwrapped
    assert isinstance(venv, OrderExecutionVectorEnv) and venv.config == single.config
    assert venv.task.market is single.task.market and venv.observation_space["public"].shape == (4, 480, 5)
    venv.reset(seed=0)
    assert venv.step(np.full(4, 4))[2].all()  # level 4 = the whole order: every order done in one step

    sb3 = OrderExecutionVecEnv(4, env_id="OrderExec-v1")
    assert sb3.task.config == single.config and sb3.task.market is single.task.market
    assert OrderExecutionVecEnv(4).task.config == ExecutionConfig()  # the adapter's default stays OrderExec-v0
    overridden = OrderExecutionVecEnv(2, env_id="OrderExec-v1", data=None, reward_scale=1.0, split="test").task
    assert (overridden.config.reward_scale, overridden.config.history, overridden.split) == (1.0, "session", "test")
    assert "signal" not in overridden.market.source  # data=None: the signal-free synthetic market, as in v0
    assert gym.make("OrderExec-v1", levels=(0, 1), level_unit="twap").unwrapped.config.levels == (0.0, 1.0)
    with pytest.raises(ValueError, match="CartPole-v1.*not an OrderExecutionVectorEnv"):
        OrderExecutionVecEnv(2, env_id="CartPole-v1")
    with pytest.raises(gym.error.Error, match="OrderExec"):
        OrderExecutionVecEnv(2, env_id="OrderExec-v7")


def test_v1_passes_the_gymnasium_and_sb3_checkers():
    env = gym.make("OrderExec-v1")
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=False)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("synthetic:", "'' is not an option=value"),
        ("synthetic:signal", "'signal' is not an option=value"),
        ("synthetic:sigal=2", "'sigal=2' is not an option=value.*names from \\['n_symbols'"),
        ("synthetic:signal=1,signal=2", "repeats one"),
        ("synthetic:signal=strong", "option signal must be a number, got 'strong'"),
        ("synthetic:n_days=2.5", "option n_days must be an integer, got '2.5'"),
        ("synthetic:signal=-1", "signal must be finite and >= 0"),  # the market's own check
    ],
)
def test_a_bad_synthetic_spec_says_what_is_wrong(data, message):
    with pytest.raises(ValueError, match=message):
        gym.make("OrderExec-v1", data=data)


def test_a_synthetic_spec_names_the_market_with_those_options(small_market):
    from order_exec_gym.data.resolve import load_dataset, open_market

    market = load_dataset("synthetic: n_symbols=4, n_days=20, seed=7")
    assert market is small_market  # the same options: the same shared market
    signal = open_market("synthetic:n_symbols=4,n_days=20,seed=7,signal=0.5")
    assert signal.model["signal"] == 0.5 and signal.model["n_days"] == 20
    venv = gym.make_vec("OrderExec-v0", num_envs=2, vectorization_mode="vector_entry_point", data="synthetic:n_symbols=4,n_days=20,seed=7")
    assert venv.task.market is small_market
