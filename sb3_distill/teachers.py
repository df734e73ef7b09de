"""Teachers for oracle policy distillation: anything that maps a batch of (privileged) observations to actions.

- :class:`PolicyTeacher`: a trained SB3 model whose policy reads the privileged observation (the paper's teacher,
  trained with PPO on ``privileged=True``).
- :class:`OracleTeacher`: the exact perfect-information optimum of the env's own reward
  (:mod:`order_exec_gym.oracle`), as the env's action: an upper bound, and a noise-free teacher for tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm

from order_exec_gym import oracle
from order_exec_gym.baselines import find_task
from order_exec_gym.config import ExecutionConfig
from order_exec_gym.simulator import step_cost

Observations = dict[str, np.ndarray | th.Tensor]


@runtime_checkable
class Teacher(Protocol):
    """Maps a batch of observations ``{key: (N, ...)}`` (numpy arrays or torch tensors, privileged key included) to
    the N actions it would take, in the env's encoding: ``(N,)`` integers for ``Discrete``, ``(N, dim)`` for ``Box``."""

    def __call__(self, observations: Observations) -> np.ndarray: ...


def as_numpy(observations: Observations) -> dict[str, np.ndarray]:
    """The same batch with every value a numpy array."""
    return {key: value.cpu().numpy() if th.is_tensor(value) else np.asarray(value) for key, value in observations.items()}


class PolicyTeacher:
    """A trained feed-forward SB3 model as a teacher: one batched ``predict`` per call.

    :param model: the model, e.g. ``PPO(TeacherPolicy, ...)`` trained on an env made with ``privileged=True``;
        keys of the observation that its observation space lacks are dropped before ``predict``
    :param deterministic: take the most likely action (True) or sample one
    """

    def __init__(self, model: BaseAlgorithm, deterministic: bool = True):
        self.model = model
        self.deterministic = deterministic

    @property
    def observation_space(self) -> spaces.Dict:
        """The model's observation space (so :func:`~order_exec_gym.evaluation.evaluate` gives it what it reads)."""
        return self.model.observation_space

    def __call__(self, observations: Observations) -> np.ndarray:
        keys = self.model.observation_space.spaces
        batch = {key: value for key, value in as_numpy(observations).items() if key in keys}
        actions, _ = self.model.predict(batch, deterministic=self.deterministic)
        return actions


class OracleTeacher:
    """The perfect-information optimum of the env's reward, read from the ``privileged`` observation.

    Discrete actions: an optimal level index (:func:`order_exec_gym.oracle.best_discrete_action`);
    continuous actions: this step's share of the water-filling plan over the steps left
    (:func:`order_exec_gym.oracle.water_fill`). Exact for ``benchmark="mean"``; with ``"vwap"`` the benchmark is
    approximated by the window's mean price.

    :param env: an OrderExec env (single, vector, or SB3 ``VecEnv``, wrapped or not) to take the settings and the
        bar length from; or None, and give them below
    :param config: the env's settings (an :class:`~order_exec_gym.config.ExecutionConfig` or a mapping of its
        fields: ``step_minutes``, ``alpha``, ``penalty_per``, ``action_type``, ``levels``, ``level_unit``)
    :param bar_minutes: the bar length of the env's data, in minutes
    """

    #: Reads the privileged observation (for :func:`~order_exec_gym.evaluation.evaluate`).
    needs_privileged = True

    def __init__(self, env: Any = None, *, config: ExecutionConfig | Mapping[str, Any] | None = None, bar_minutes: int | None = None):
        if env is not None:
            if config is not None or bar_minutes is not None:
                raise ValueError("OracleTeacher takes an env, or config and bar_minutes, not both")
            task = find_task(env)
            config, bar_minutes = task.config, task.dataset.bar_minutes
        elif bar_minutes is None:
            raise ValueError("OracleTeacher needs an env, or config and bar_minutes")
        self.config = ExecutionConfig.from_kwargs(config)
        self.bar_minutes = int(bar_minutes)
        self.step_bars = self.config.in_bars(bar_minutes).step_bars
        self.levels = np.asarray(self.config.levels, dtype=np.float64)

    def __call__(self, observations: Observations) -> np.ndarray:
        observations = as_numpy(observations)
        config = self.config
        returns, bars, n_steps, t = oracle.step_returns_from_observation(observations, self.step_bars)
        cost = step_cost(config.alpha, config.penalty_per, bars * self.bar_minutes)
        remaining = observations["private"][:, 0].astype(np.float64)
        if config.action_type == "discrete":
            return oracle.best_discrete_action(returns, cost, n_steps, t, remaining, self.levels, config.level_unit)
        returns[np.arange(returns.shape[1]) < t[:, None]] = np.nan
        plan = oracle.water_fill(returns, remaining, cost)
        return plan[np.arange(len(plan)), t].astype(np.float32)[:, None]


def as_teacher(teacher: Teacher | BaseAlgorithm | str, env: Any = None) -> Teacher:
    """A :class:`Teacher` from a teacher, a trained SB3 model (wrapped in a :class:`PolicyTeacher`), or ``"oracle"``
    (the :class:`OracleTeacher` of ``env``, which it then needs)."""
    if isinstance(teacher, BaseAlgorithm):
        return PolicyTeacher(teacher)
    if teacher == "oracle":
        if env is None:
            raise ValueError("teacher='oracle' needs the env it teaches on: pass env=... (made with privileged=True)")
        return OracleTeacher(env)
    if isinstance(teacher, str) or not callable(teacher):
        raise ValueError(f"teacher must be a Teacher, an SB3 model or 'oracle', got {teacher!r}")
    return teacher
