"""Evaluation in batches and on Ray workers gives every order the result of one batch in one process."""

from __future__ import annotations

import numpy as np
import pytest

from order_exec_gym import PAPER_CONFIG
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
    whole = evaluate(agent, small_market, "all", env_kwargs=settings)
    assert_same(evaluate(agent, small_market, "all", env_kwargs=settings, batch_size=7), whole)


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
