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


def test_cleanrl_style_envs_of_the_default_task():
    """What CleanRL's ppo.py makes of OrderExec-v1 through FlattenObservation: sync sub-envs with episode statistics,
    flat observations (private, then the session history), and episode returns that are 100x the unscaled rewards."""
    envs = gym.make_vec(
        "OrderExec-v1", num_envs=2, vectorization_mode="sync", wrappers=[FlattenObservation, RecordEpisodeStatistics]
    )
    assert envs.single_observation_space.shape == (4 + 480 * 5,) and envs.single_action_space.n == 5
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, 2404) and (obs[:, 0] == 1).all()  # remaining: the whole order
    returns, unscaled = [], []
    for _ in range(40):
        _, _, terminated, _, infos = envs.step(envs.action_space.sample())
        if "episode" in infos:
            returns += infos["episode"]["r"][infos["_episode"]].tolist()
            unscaled += infos["episode_reward"][infos["_episode"]].tolist()
    envs.close()
    assert len(returns) >= 4
    np.testing.assert_allclose(returns, 100 * np.array(unscaled), rtol=1e-5)


def load_learning_benchmark():
    """benchmarks/default_task_learning.py as a module (benchmarks/ is not a package), loaded once."""
    import importlib.util
    import sys
    from pathlib import Path

    if "default_task_learning" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "benchmarks" / "default_task_learning.py"
        spec = importlib.util.spec_from_file_location("default_task_learning", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["default_task_learning"]


def test_the_learning_benchmark_counts_steps_and_orders_as_each_learner_does(small_market):
    bench = load_learning_benchmark()
    for count_resets in (False, True):
        log = bench.EpisodeLog()
        env = bench.LogPriceAdvantage(gym.make("OrderExec-v1", data=small_market), log, count_resets)
        env.reset(seed=0)
        steps, pas = 0, []
        for _ in range(3):  # three orders: 4 (a quarter each step) then 1 (the whole order)
            for action in (1, 1, 1, 1) if len(pas) != 1 else (4,):
                *_, done, _, info = env.step(action)
                steps += 1
            assert done
            pas.append(info["price_advantage"])
            env.reset()
            steps += count_resets  # CleanRL's next-step autoreset spends a step of its own on the reset
        assert log.steps == steps and [pa for _, pa in log.episodes] == pas
        ends = [step for step, _ in log.episodes]
        assert ends == ([4, 5, 9] if not count_resets else [4, 6, 11])

    log = bench.EpisodeLog(steps=100, episodes=[(5, 1.0), (10, 2.0), (11, 4.0), (90, 8.0), (91, 16.0), (100, 32.0), (101, 64.0)])
    first, last = log.tenths(100)
    assert first.tolist() == [1.0, 2.0] and last.tolist() == [16.0, 32.0]  # (0, 10] and (90, 100]


def test_the_learning_benchmark_flattens_as_flatten_observation_does():
    bench = load_learning_benchmark()
    venv = gym.make_vec("OrderExec-v1", num_envs=3, vectorization_mode="vector_entry_point")
    obs, _ = venv.reset(seed=0)
    obs, *_ = venv.step(np.array([1, 2, 0]))
    flat = FlattenObservation(gym.make("OrderExec-v1"))
    expected = np.stack([gym.spaces.flatten(flat.env.observation_space, {k: v[i] for k, v in obs.items()}) for i in range(3)])
    np.testing.assert_array_equal(bench.flatten_batch(obs, venv.single_observation_space), expected)


def test_the_learning_benchmark_runs_a_cleanrl_style_script_as_it_is(tmp_path, small_market):
    """run_cleanrl's plumbing with a stand-in for CleanRL's ppo.py (a script that reads --env-id, --total-timesteps
    and --seed, makes a 2-env sync vector env of the id with RecordEpisodeStatistics, steps it at random and leaves an
    ``agent`` with an ``actor``): the log counts its steps and orders, and the policy it returns acts on batches."""
    bench = load_learning_benchmark()
    script = tmp_path / "ppo.py"
    script.write_text(
        "import argparse, os, gymnasium as gym, torch\n"
        "parser = argparse.ArgumentParser()\n"
        "for name in ('--env-id', '--total-timesteps', '--seed'): parser.add_argument(name)\n"
        "args = parser.parse_args()\n"
        "open('written-here', 'w').close()\n"
        "envs = gym.vector.SyncVectorEnv([lambda: gym.wrappers.RecordEpisodeStatistics(gym.make(args.env_id))] * 2)\n"
        "envs.reset(seed=int(args.seed))\n"
        "for _ in range(int(args.total_timesteps) // 2): envs.step(envs.action_space.sample())\n"
        "agent = torch.nn.Module()\n"
        "agent.actor = torch.nn.Linear(envs.single_observation_space.shape[0], envs.single_action_space.n)\n"
    )  # fmt: skip
    log, policy, seconds = bench.run_cleanrl(script, {"data": small_market}, steps=200, seed=1)
    assert log.steps == 200 and len(log.episodes) >= 10 and seconds > 0
    assert not (tmp_path / "written-here").exists()  # the script ran in a temporary directory
    obs, _ = gym.make_vec("OrderExec-v1", num_envs=4, vectorization_mode="vector_entry_point", data=small_market).reset(seed=0)
    actions = policy(obs)
    assert actions.shape == (4,) and ((0 <= actions) & (actions < 5)).all()
