"""Teachers: the OracleTeacher is the exact optimum (the Oracle baseline's, from the observation alone)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th

import order_exec_gym  # noqa: F401  (registers OrderExec-v0)
from order_exec_gym import ExecutionConfig
from order_exec_gym.evaluation import evaluate
from sb3_distill import OracleTeacher, OrderExecutionVecEnv, Teacher


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
@pytest.mark.parametrize("step_minutes", [30, 7])
def test_oracle_teacher_is_the_oracle(small_market, action_type, step_minutes):
    kwargs = dict(action_type=action_type, step_minutes=step_minutes)
    env = gym.make("OrderExec-v0", data=small_market, privileged=True, **kwargs)
    teacher = OracleTeacher(env)
    assert isinstance(teacher, Teacher)
    mine = evaluate(teacher, small_market, split="all", config=kwargs)
    oracle = evaluate("Oracle", small_market, split="all", config=kwargs)
    # the teacher reads float32 features: exact levels, continuous plans to float32 precision
    np.testing.assert_allclose(mine.orders["reward"], oracle.orders["reward"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(mine.schedules, oracle.schedules, rtol=0, atol=1e-4)


def test_oracle_teacher_from_arguments_or_any_env(small_market):
    venv = OrderExecutionVecEnv(5, data=small_market, privileged=True, step_minutes=15, alpha=0.02)
    obs = venv.reset()
    from_env = OracleTeacher(venv)
    from_args = OracleTeacher(config={"step_minutes": 15, "alpha": 0.02}, bar_minutes=1)
    assert (from_env.step_bars, from_env.config) == (15, ExecutionConfig(step_minutes=15, alpha=0.02, privileged=True))
    np.testing.assert_array_equal(from_env(obs), from_args(obs))
    np.testing.assert_array_equal(from_env({key: th.as_tensor(value) for key, value in obs.items()}), from_args(obs))
    vector = gym.make_vec("OrderExec-v0", 2, vectorization_mode="vector_entry_point", data=small_market, step_minutes=5)
    assert OracleTeacher(vector).step_bars == 5
    assert OracleTeacher(config={"step_minutes": 30}, bar_minutes=5).step_bars == 6  # minutes, like everything else
    with pytest.raises(ValueError, match="bar_minutes"):
        OracleTeacher()
    with pytest.raises(ValueError, match="step_minutes=7 must be a positive multiple"):
        OracleTeacher(config={"step_minutes": 7}, bar_minutes=5)


def test_greedy_and_dynamic_programme_oracle_actions_earn_the_same(small_market):
    """best_discrete_action's greedy path picks an action whose optimal continuation is worth the DP's optimum."""
    from order_exec_gym.oracle import best_discrete_action, discrete_action

    rng = np.random.default_rng(0)
    levels = np.array([0, 0.5, 1, 1.5, 2])
    for _ in range(30):
        n_steps = rng.integers(1, 9, 5)
        returns = np.where(np.arange(8) < n_steps[:, None], rng.normal(0, 0.01, (5, 8)), np.nan)
        t = (rng.random(5) * n_steps).astype(np.int64)
        remaining = np.rint(rng.random(5) * n_steps * 2) / (n_steps * 2)
        remaining[remaining == 0] = 0.5 / n_steps[remaining == 0]
        cost = np.full((5, 8), 0.01)
        greedy = best_discrete_action(returns, cost, n_steps, t, remaining, levels, "twap")
        _, best = discrete_action(returns, cost, n_steps, t, remaining, levels, "twap")
        share = np.minimum(levels[greedy] / n_steps, remaining)
        share = np.where(t == n_steps - 1, remaining, share)
        gain = np.nan_to_num(returns[np.arange(5), t]) * share - 0.01 * share**2
        rest = remaining - share
        _, continuation = discrete_action(returns, cost, n_steps, np.minimum(t + 1, n_steps - 1), rest, levels, "twap")
        continuation = np.where((t == n_steps - 1) | (rest <= 1e-12), 0.0, continuation)
        np.testing.assert_allclose(gain + continuation, best, atol=1e-12)
