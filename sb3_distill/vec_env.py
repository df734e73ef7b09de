"""OrderExecutionVecEnv: the batched OrderExec vector env as a Stable-Baselines3 ``VecEnv``.

SB3 algorithms step a ``VecEnv`` and expect same-step autoreset with the last observation of a finished
sub-env in ``infos[i]["terminal_observation"]``. This adapter runs
:class:`~order_exec_gym.vector.OrderExecutionVectorEnv` in ``SAME_STEP`` mode and only reshapes its batched
output: no per-env stepping loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

from order_exec_gym.vector import OrderExecutionVectorEnv

EPISODE_INFO_KEYS = ("price_advantage", "episode_reward")


class OrderExecutionVecEnv(VecEnv):
    """SB3 ``VecEnv`` over ``num_envs`` orders.

    :param num_envs: number of parallel orders
    :param env_id: the registered task whose defaults apply: ``"OrderExec-v0"`` (the env's own defaults) or
        ``"OrderExec-v1"`` (the learnable default task: a public signal, rewards x100, order-sized levels): the
        registered keyword arguments (``gym.spec(env_id).kwargs``) of an id whose vector entry point is
        :class:`~order_exec_gym.vector.OrderExecutionVectorEnv`
    :param env_kwargs: keyword arguments of the env (data, split, side, step_minutes, ...), over ``env_id``'s
    """

    def __init__(self, num_envs: int = 8, *, env_id: str = "OrderExec-v0", **env_kwargs: Any):
        spec = gym.spec(env_id)  # an unknown id raises Gymnasium's error, which lists the versions there are
        creator = spec.vector_entry_point
        if isinstance(creator, str):
            creator = load_env_creator(creator)
        if not (isinstance(creator, type) and issubclass(creator, OrderExecutionVectorEnv)):
            raise ValueError(
                f"OrderExecutionVecEnv(env_id={env_id!r}): that id's vector entry point is {spec.vector_entry_point!r}, "
                "not an OrderExecutionVectorEnv (use OrderExec-v0 or OrderExec-v1)"
            )
        kwargs = {**spec.kwargs, **env_kwargs}
        self.venv = creator(num_envs, autoreset_mode=AutoresetMode.SAME_STEP, **kwargs)
        self.render_mode = None
        super().__init__(num_envs, self.venv.single_observation_space, self.venv.single_action_space)
        self._actions: np.ndarray | None = None

    @property
    def task(self):
        """The shared :class:`~order_exec_gym.task.ExecutionTask` (dataset, simulator, features)."""
        return self.venv.task

    def reset(self) -> VecEnvObs:
        seed = self._seeds[0]
        options = self._options[0] or None
        obs, _ = self.venv.reset(seed=seed, options=options)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, batch_info = self.venv.step(self._actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            final_obs = batch_info["final_obs"]
            for i in np.flatnonzero(dones):
                infos[i] = {
                    "terminal_observation": {key: value[i] for key, value in final_obs.items()},
                    "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                    **{key: float(batch_info[key][i]) for key in EPISODE_INFO_KEYS},
                }
        return obs, rewards.astype(np.float32), dones, infos

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        if seed is None:
            seed = int(np.random.randint(0, np.iinfo(np.uint32).max, dtype=np.uint32))
        self._seeds = [seed] + [None] * (self.num_envs - 1)
        return self._seeds

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute of the one vector env behind all sub-envs, once per index."""
        return [getattr(self.venv, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]
