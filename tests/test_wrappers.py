"""Standard Gymnasium wrappers and vector stacks work on OrderExec-v0, as CleanRL-style scripts use them."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import FlattenObservation, RecordEpisodeStatistics
from gymnasium.wrappers.vector import RecordEpisodeStatistics as VectorRecordEpisodeStatistics

import order_exec_gym  # noqa: F401  (registers OrderExec-v0)
from order_exec_gym.vector import OrderExecutionVectorEnv
from sb3_distill.vec_env import OrderExecutionVecEnv

#: Info keys that Gymnasium's and Stable-Baselines3's wrappers and vector envs write themselves.
RESERVED = ("episode", "_episode", "final_obs", "_final_obs", "final_info", "_final_info", "terminal_observation",
            "TimeLimit.truncated")  # fmt: skip


def test_no_info_key_is_one_the_wrappers_write(small_market):
    env = gym.make("OrderExec-v0", data=small_market)
    _, info = env.reset(seed=0)
    keys = set(info)
    done = False
    while not done:
        _, _, done, _, info = env.step(env.action_space.sample())
        keys |= set(info)
    assert not keys & set(RESERVED), keys & set(RESERVED)
    venv = OrderExecutionVectorEnv(4, data=small_market, autoreset_mode=AutoresetMode.SAME_STEP)
    venv.reset(seed=0)
    vector_keys = set()
    for _ in range(10):
        vector_keys |= set(venv.step(venv.action_space.sample())[4])
    # the vector env writes Gymnasium's own same-step autoreset keys, as Gymnasium defines them, and no other reserved one
    assert vector_keys & set(RESERVED) == {"final_obs", "_final_obs", "final_info", "_final_info"}


def run_vector(envs: gym.vector.VectorEnv, episodes: int) -> list[float]:
    """Step with random actions until ``episodes`` episodes ended; the episode returns RecordEpisodeStatistics saw (in
    the step's infos, or with same-step autoreset of single envs in their ``final_info``)."""
    envs.reset(seed=0)
    envs.action_space.seed(0)
    returns: list[float] = []
    for _ in range(10 * episodes):
        _, _, terminated, truncated, infos = envs.step(envs.action_space.sample())
        for source in (infos, infos.get("final_info", {})):
            if "episode" in source:
                returns += source["episode"]["r"][source["_episode"]].tolist()
        if len(returns) >= episodes:
            break
    envs.close()
    return returns


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("autoreset", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_sync_and_async_vector_envs_record_episode_statistics(small_market, mode, autoreset):
    envs = gym.make_vec(
        "OrderExec-v0", num_envs=4, vectorization_mode=mode, wrappers=[RecordEpisodeStatistics], data=small_market,
        vector_kwargs={"autoreset_mode": autoreset},
    )  # fmt: skip
    returns = run_vector(envs, 300)
    assert len(returns) >= 300 and np.isfinite(returns).all()


@pytest.mark.parametrize("autoreset", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_the_batched_vector_env_takes_the_vector_wrapper(small_market, autoreset):
    envs = VectorRecordEpisodeStatistics(OrderExecutionVectorEnv(8, data=small_market, autoreset_mode=autoreset))
    returns = run_vector(envs, 400)
    assert len(returns) >= 400 and np.isfinite(returns).all()


def test_a_cleanrl_style_training_loop(small_market):
    """The shape of CleanRL's ppo.py: flattened observations, RecordEpisodeStatistics, infos["episode"] read at the
    end of episodes, a policy and a value network trained by PPO's clipped loss for a few thousand steps."""
    th.manual_seed(0)

    def make_env():
        return RecordEpisodeStatistics(FlattenObservation(gym.make("OrderExec-v0", data=small_market, reward_scale=100.0)))

    envs = gym.vector.SyncVectorEnv([make_env for _ in range(4)])
    size, n_actions = envs.single_observation_space.shape[0], envs.single_action_space.n
    actor = th.nn.Sequential(th.nn.Linear(size, 32), th.nn.Tanh(), th.nn.Linear(32, n_actions))
    critic = th.nn.Sequential(th.nn.Linear(size, 32), th.nn.Tanh(), th.nn.Linear(32, 1))
    optimizer = th.optim.Adam([*actor.parameters(), *critic.parameters()], lr=3e-4)
    obs, _ = envs.reset(seed=1)
    episodic_returns = []
    for _ in range(25):  # 25 rollouts of 32 steps x 4 envs = 3,200 steps
        batch = []
        for _ in range(32):
            with th.no_grad():
                observation = th.as_tensor(obs, dtype=th.float32)
                distribution = th.distributions.Categorical(logits=actor(observation))
                action = distribution.sample()
            obs, reward, terminated, truncated, infos = envs.step(action.numpy())
            batch.append((observation, action, distribution.log_prob(action), th.as_tensor(reward, dtype=th.float32)))
            if "episode" in infos:
                episodic_returns += infos["episode"]["r"][infos["_episode"]].tolist()
        observations, actions, old_log_probs, rewards = (th.cat(parts) for parts in zip(*batch, strict=True))
        advantages = rewards - critic(observations).squeeze(-1).detach()
        log_probs = th.distributions.Categorical(logits=actor(observations)).log_prob(actions)
        ratio = th.exp(log_probs - old_log_probs)
        policy_loss = -th.min(ratio * advantages, th.clamp(ratio, 0.8, 1.2) * advantages).mean()
        value_loss = ((critic(observations).squeeze(-1) - rewards) ** 2).mean()
        optimizer.zero_grad()
        (policy_loss + 0.5 * value_loss).backward()
        optimizer.step()
    envs.close()
    assert len(episodic_returns) >= 300 and np.isfinite(episodic_returns).all()


def test_sb3_adapter_needs_at_least_one_order(small_market):
    with pytest.raises(ValueError, match="num_envs"):
        OrderExecutionVecEnv(0, data=small_market)
    with pytest.raises(ValueError, match="num_envs"):
        OrderExecutionVectorEnv(-1, data=small_market)
