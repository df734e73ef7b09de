"""Teachers for oracle policy distillation: anything that maps a batch of (privileged) observations to actions.

- :class:`PolicyTeacher`: a trained SB3 model whose policy reads the privileged observation (the paper's teacher,
  trained with PPO on ``privileged=True``).
- :class:`OracleTeacher`: the exact perfect-information optimum of the env's own reward
  (:mod:`order_exec_gym.oracle`), as the env's action: an upper bound, and a noise-free teacher for tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm

from order_exec_gym import oracle
from order_exec_gym.baselines import find_task
from order_exec_gym.task import DEFAULT_LEVELS

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

    :param env: an OrderExec env (single, vector, or SB3 ``VecEnv``, wrapped or not) to take the step length,
        ``alpha``, levels and action type from; or None, and give them below
    :param step_bars: bars per decision step (``step_minutes`` over the bar length)
    :param alpha: the env's temporary-impact penalty
    :param levels: the env's discrete levels
    :param action_type: ``"discrete"`` or ``"continuous"``
    """

    #: Reads the privileged observation (for :func:`~order_exec_gym.evaluation.evaluate`).
    needs_privileged = True

    def __init__(
        self,
        env: Any = None,
        step_bars: int | None = None,
        alpha: float = 0.01,
        levels: Sequence[float] = DEFAULT_LEVELS,
        action_type: str = "discrete",
    ):
        if env is not None:
            task = find_task(env)
            step_bars, alpha, levels, action_type = task.step_bars, task.sim.alpha, task.levels, task.action_type
        if step_bars is None:
            raise ValueError("OracleTeacher needs an env or step_bars")
        self.step_bars = int(step_bars)
        self.alpha = float(alpha)
        self.levels = np.asarray(levels, dtype=np.float64)
        self.action_type = action_type

    def __call__(self, observations: Observations) -> np.ndarray:
        observations = as_numpy(observations)
        returns, n_steps, t = oracle.step_returns_from_observation(observations, self.step_bars)
        remaining = observations["private"][:, 0].astype(np.float64)
        if self.action_type == "discrete":
            return oracle.best_discrete_action(returns, n_steps, t, remaining, self.alpha, self.levels)
        returns[np.arange(returns.shape[1]) < t[:, None]] = np.nan
        plan = oracle.water_fill(returns, remaining, self.alpha)
        return plan[np.arange(len(plan)), t].astype(np.float32)[:, None]

