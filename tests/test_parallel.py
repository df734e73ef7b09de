"""Evaluation in batches and on Ray workers gives every order the result of one batch in one process."""

from __future__ import annotations

import numpy as np
import pytest

from order_exec_gym import PAPER_CONFIG
from order_exec_gym.data.shards import synthetic_shards
from order_exec_gym.evaluation import evaluate

AGENTS = ("TWAP", "VWAP", "AlmgrenChriss", "Oracle")


def assert_same(one, other) -> None:
    assert one.orders.equals(other.orders)
    assert one.summary.keys() == other.summary.keys()
    np.testing.assert_array_equal(list(one.summary.values()), list(other.summary.values()))  # nan == nan here
    np.testing.assert_array_equal(one.schedules, other.schedules)
    np.testing.assert_array_equal(one.step_prices, other.step_prices)


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize("settings", [{}, {**PAPER_CONFIG, "side": "random", "window_minutes": 90}])
def test_batches_give_the_same_orders_results(small_market, agent, settings):
    whole = evaluate(agent, small_market, "all", config=settings)
    assert_same(evaluate(agent, small_market, "all", config=settings, batch_size=7), whole)


def test_ray_workers_give_the_same_orders_results(small_market):
    ray = pytest.importorskip("ray", reason="Ray is installed by the test extra")
    from sb3_distill.vec_env import OrderExecutionVecEnv
    from stable_baselines3 import PPO

    model = PPO("MultiInputPolicy", OrderExecutionVecEnv(4, data=small_market), n_steps=32, batch_size=32, seed=0).learn(64)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for agent in (*AGENTS, model):
            local = evaluate(agent, small_market, "all")
            assert_same(evaluate(agent, small_market, "all", workers=2), local)
            assert_same(evaluate(agent, small_market, "all", workers=2, batch_size=11), local)
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """A synthetic market with a signal, in 3 shards, and the same market in memory."""
    import polars as pl

    from order_exec_gym.data.shards import write_shards
    from order_exec_gym.data.synthetic import synthetic_bars

    table = synthetic_bars(n_symbols=6, n_days=15, seed=4, signal=1.0)
    groups = [table.frame.filter(pl.col("symbol").is_in(group)) for group in (["SYN000", "SYN001"], ["SYN002", "SYN003"], ["SYN004", "SYN005"])]
    from dataclasses import replace

    market = write_shards((replace(table, frame=frame) for frame in groups), tmp_path_factory.mktemp("shards") / "market",
                          model={"signal": 1.0, "fade_minutes": 60.0})  # fmt: skip
    return market, market.to_dataset()


@pytest.mark.parametrize("agent", ["TWAP", "Oracle", "PublicBound"])
@pytest.mark.parametrize("settings", [{}, {**PAPER_CONFIG, "side": "random", "window_minutes": 120}])
def test_a_sharded_market_evaluates_like_the_market_in_memory(sharded, agent, settings):
    market, in_memory = sharded
    assert market.n_shards == 3
    for split in ("train", "test"):
        assert_same(evaluate(agent, market, split, config=settings), evaluate(agent, in_memory, split, config=settings))
    drawn = evaluate(agent, market.directory, "all", n_orders=40, seed=3, config=settings)  # by its directory
    assert_same(drawn, evaluate(agent, in_memory, "all", n_orders=40, seed=3, config=settings))


@pytest.mark.slow  # a second Ray cluster; test_ray_workers_give_the_same_orders_results is the default run's Ray test
def test_ray_workers_evaluate_the_shards_like_one_process(sharded):
    ray = pytest.importorskip("ray", reason="Ray is installed by the test extra")
    market, _ = sharded
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for agent in ("TWAP", "Oracle"):
            assert_same(evaluate(agent, market, "all", workers=2), evaluate(agent, market, "all"))
    finally:
        ray.shutdown()


def test_an_env_is_told_how_to_use_a_sharded_market(sharded):
    import gymnasium as gym

    market, _ = sharded
    with pytest.raises(ValueError, match="sharded on disk"):
        gym.make("OrderExec-v0", data=str(market.directory))
    env = gym.make("OrderExec-v0", data=market.shard(1), **PAPER_CONFIG)  # a shard is a MarketDataset
    assert env.reset(seed=0)[0]["public"].shape == (480, 8)


def test_a_market_travels_to_workers_without_what_it_derived(small_market, tmp_path):
    """Pickling a dataset (to send it to Ray) drops the features, sums, splits and own context built from it, which
    the worker rebuilds; a shard's context, the whole market's, is data and travels with it."""
    import pickle

    bars = sum(values.nbytes for values in small_market.bars.values())
    evaluate("TWAP", small_market, "all", config={"market_features": True})
    assert "market_context" in small_market._derived
    assert len(pickle.dumps(small_market)) < 1.5 * bars
    copy = pickle.loads(pickle.dumps(small_market))
    assert copy._derived == {}
    assert_same(evaluate("TWAP", copy, "all", config={"market_features": True}), evaluate("TWAP", small_market, "all", config={"market_features": True}))
    market = synthetic_shards(tmp_path / "market", n_symbols=6, n_days=10, symbols_per_shard=3, seed=1)
    shard = pickle.loads(pickle.dumps(market.shard(0).split("train")))
    assert np.array_equal(shard.market_context().values, market.market_context().values)


def test_workers_must_be_positive(small_market):
    with pytest.raises(ValueError, match="workers"):
        evaluate("TWAP", small_market, "all", workers=0)


def test_runs_are_compared_by_seed(small_market):
    from sb3_distill.experiment import compare_runs

    twap, oracle = evaluate("TWAP", small_market, "all"), evaluate("Oracle", small_market, "all")
    rows = {row["agent"]: row for row in compare_runs({"TWAP": [twap], "Oracle": [oracle, oracle, oracle]})}
    diff, low, high = rows["Oracle"]["vs_TWAP"]["seeds_days"]
    assert diff == pytest.approx(oracle.summary["pa_mean"]) and low <= diff <= high and rows["Oracle"]["n_seeds"] == 3
    # TWAP's shares given to the orders at random earn its PA; the Oracle chooses per order, and earns far more
    assert rows["TWAP"]["shuffled_pa"] == pytest.approx(rows["TWAP"]["pa_mean"], abs=1e-9)
    assert rows["Oracle"]["pa_mean"] > rows["Oracle"]["shuffled_pa"] + 10
    with pytest.raises(ValueError, match="pair them by seed"):
        compare_runs({"TWAP": [twap, twap], "Oracle": [oracle, oracle, oracle]})
