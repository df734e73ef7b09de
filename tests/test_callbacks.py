"""BestOnValidation: evaluates on the valid split during training and restores the best parameters."""

from __future__ import annotations

from order_exec_gym.evaluation import evaluate
from sb3_distill.callbacks import BestOnValidation
from sb3_distill.training import train_ppo


def test_best_checkpoint_on_validation_is_restored(small_market):
    env_kwargs = {"data": small_market, "split": "train"}
    selector = BestOnValidation(small_market, "valid", {"alpha": 0.01}, eval_freq=256)
    model = train_ppo(env_kwargs, total_timesteps=1024, n_envs=4, recurrent=False, callback=selector, n_steps=64, batch_size=64)
    steps = [s for s, _ in selector.history]
    assert steps == sorted(steps) and len(steps) >= 4 and steps[-1] == model.num_timesteps
    assert selector.best_score == max(summary["mean_reward"] for _, summary in selector.history)
    assert all({"pa_mean", "glr", "n_orders"} <= set(summary) for _, summary in selector.history)  # learning curves
    assert evaluate(model, small_market, "valid").summary["mean_reward"] == selector.best_score


def test_the_validation_settings_are_an_execution_config(small_market):
    """(data, split, config) as everywhere: the settings are a config's fields, not the env's data or split."""
    import pytest

    assert BestOnValidation(small_market, config={"step_minutes": 10}).config.step_minutes == 10
    with pytest.raises(ValueError, match="data"):
        BestOnValidation(small_market, config={"data": small_market})
