"""OrderExecutionVectorEnv: N orders stepped in one numpy call, the fast path behind ``gym.make_vec``."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from order_exec_gym.config import ExecutionConfig
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.orders import Orders
from order_exec_gym.task import ExecutionTask, check_options


class OrderExecutionVectorEnv(VectorEnv):
    """``num_envs`` orders on one :class:`~order_exec_gym.simulator.ExecutionSimulator`, with autoreset.

    Takes :class:`~order_exec_gym.env.OrderExecutionEnv`'s keyword arguments (``data``, ``split`` and the
    :class:`~order_exec_gym.config.ExecutionConfig` settings, whose defaults are OrderExec-v0's; ``gym.make_vec``
    passes a registered id's, e.g. OrderExec-v1's :data:`~order_exec_gym.env.V1_KWARGS`) plus ``num_envs`` and
    ``autoreset_mode``:
    ``AutoresetMode.NEXT_STEP`` (Gymnasium's default: the step after an episode ends resets that sub-env and
    returns its first observation with reward 0) or ``AutoresetMode.SAME_STEP`` (a finished sub-env is reset
    within the same step; its last observation is in ``infos["final_obs"]`` and its last info in
    ``infos["final_info"]``, as arrays masked by ``infos["_final_obs"]``).

    ``reset(options={"orders": Orders})`` starts the given orders (one per sub-env); later autoresets draw
    new orders with the env's RNG.

    ``infos`` holds arrays over the sub-envs: ``executed``, ``exec_price``, ``remaining``, ``forced``, and,
    masked by ``_price_advantage`` (and alike), the ``benchmark_price``, ``price_advantage`` and
    ``episode_reward`` of sub-envs whose episode ended in this step.

    Observations are never written to once returned, so they may be kept, but not written into: ``privileged``
    is one array shared by successive observations until a sub-env starts a new order (see
    :meth:`~order_exec_gym.task.ExecutionTask.observe`).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 1,
        data: MarketDataset | str | None = None,
        split: str = "train",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **settings: Any,
    ):
        if render_mode is not None:
            raise ValueError(f"OrderExec has no render modes, got render_mode={render_mode!r}")
        self.task = ExecutionTask(data, split, ExecutionConfig.from_kwargs(settings), num_envs)
        self.config = self.task.config
        self.num_envs = num_envs
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        if self.autoreset_mode == AutoresetMode.DISABLED:
            raise ValueError("OrderExecutionVectorEnv supports NEXT_STEP and SAME_STEP autoreset")
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.single_observation_space = self.task.observation_space
        self.single_action_space = self.task.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._sim = self.task.sim
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._started = False
        self._np_random, self._np_random_seed = seeding.np_random()

    @property
    def dataset(self):
        """The split of the market the env samples orders from."""
        return self.task.dataset

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._np_random, self._np_random_seed = seeding.np_random(seed)
            self.single_observation_space.seed(seed)
            self.single_action_space.seed(seed)
        options = check_options(options, ("orders",))
        orders = options.get("orders")
        if orders is None:
            orders = self.task.sample(self.num_envs, self.np_random)
        elif not isinstance(orders, Orders):
            raise ValueError(f"reset option 'orders' must be an Orders batch (e.g. Orders.from_orders), got {orders!r}")
        elif len(orders) != self.num_envs:
            raise ValueError(f"reset got {len(orders)} orders for {self.num_envs} sub-envs")
        self.task.reset(orders)
        self._needs_reset[:] = False
        self._started = True
        return self.task.observe(), {}

    def step(self, actions):
        if not self._started:
            raise RuntimeError("step() called before reset(): call reset() first")
        task, sim = self.task, self._sim
        ratios = task.ratios(actions)
        restart = self._needs_reset
        if restart.any():
            active = ~restart
            result = sim.step(ratios, active)
            slots = np.flatnonzero(restart)
            task.reset(task.sample(len(slots), self.np_random), slots)
        else:
            result = sim.step(ratios)
        done = result.done
        infos: dict[str, Any] = {
            "executed": result.executed,
            "exec_price": result.exec_price,
            "remaining": sim.remaining.copy(),
            "forced": result.forced,
        }
        if done.any():
            for key, values in (
                ("benchmark_price", sim.benchmark_price),  # the window's average: known once it is over
                ("price_advantage", sim.price_advantage()),
                ("episode_reward", sim.total_reward),
            ):
                infos[key] = np.where(done, values, 0.0)
                infos[f"_{key}"] = done
        rewards = result.reward * self.config.reward_scale
        truncations = np.zeros(self.num_envs, dtype=bool)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self._needs_reset = done
            return task.observe(), rewards, done, truncations, infos
        obs = task.observe()
        if done.any():  # the observation just made is the final one: observations are never written to later
            slots = np.flatnonzero(done)
            infos["final_obs"] = obs
            infos["final_info"] = {key: value.copy() for key, value in infos.items()}
            infos["_final_obs"] = infos["_final_info"] = done
            task.reset(task.sample(len(slots), self.np_random), slots)
            obs = task.observe()
        return obs, rewards, done, truncations, infos
