"""Training recipes for the OPD pipeline: a privileged PPO teacher, a distilled recurrent student, and the same
student without distillation, all on :class:`~sb3_distill.vec_env.OrderExecutionVecEnv`.

One implementation, :func:`train`, trains every kind of model of :data:`RECIPES`; ``train_teacher``,
``train_student``, ``train_ppo`` and ``train_dqn`` name its uses. Each takes the env's keyword arguments
(``OrderExec-v0``'s: data, split, step_minutes, alpha, action_type, ...), a step budget and a seed, and returns the
trained SB3 model. Rewards are ~1e-4 per step, so the training env divides them by a running estimate of the
return's standard deviation (``VecNormalize`` on rewards only: observations are untouched, so the models need no
wrapper at prediction time). Hyperparameters are the recipes' defaults (:data:`TEACHER_KWARGS`,
:data:`STUDENT_KWARGS`, :data:`DQN_KWARGS`), overridable with ``**algo_kwargs``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.vec_env import VecEnv, VecMonitor, VecNormalize
from tqdm.auto import tqdm

from order_exec_gym.config import split_env_kwargs
from sb3_distill.distill_ppo import DistillRecurrentPPO
from sb3_distill.policies import SequenceExtractor, StudentGruPolicy, StudentLstmPolicy, TeacherPolicy
from sb3_distill.teachers import Teacher, as_teacher
from sb3_distill.vec_env import OrderExecutionVecEnv

#: PPO settings of the teacher (a feed-forward policy over the whole window).
TEACHER_KWARGS: dict[str, Any] = dict(
    n_steps=256, batch_size=256, n_epochs=5, gamma=1.0, gae_lambda=0.95, learning_rate=3e-4, ent_coef=0.0,
)  # fmt: skip
#: Recurrent PPO settings shared by the student and its control without distillation (the same learner,
#: :class:`~sb3_distill.distill_ppo.DistillRecurrentPPO`, at ``distill_coef=0``).
STUDENT_KWARGS: dict[str, Any] = dict(
    n_steps=128, batch_size=512, n_epochs=5, gamma=1.0, gae_lambda=0.95, learning_rate=3e-4, ent_coef=0.0,
)  # fmt: skip
#: The control of the student: its learner and settings without distillation.
CONTROL_KWARGS: dict[str, Any] = {**STUDENT_KWARGS, "distill_coef": 0.0}
#: The recurrent networks of the student and its no-distillation control (the same for both): ``"lstm"``, the
#: flattened observation into an LSTM over the decisions; ``"gru"``, the paper's: a GRU over the public bars
#: (:class:`~sb3_distill.policies.SequenceExtractor`) with the private state, into a GRU over the decisions.
NETWORKS: dict[str, tuple[type[BasePolicy], dict[str, Any]]] = {
    "lstm": (StudentLstmPolicy, dict(lstm_hidden_size=64, net_arch=[64])),
    "gru": (
        StudentGruPolicy,
        dict(lstm_hidden_size=64, net_arch=[64], features_extractor_class=SequenceExtractor,
             features_extractor_kwargs=dict(hidden_size=32)),
    ),
}  # fmt: skip

#: The environment variable of the quick switch: set to anything but "" or "0", every :func:`train` (so every recipe,
#: ``order-exec train`` and examples/train_opd.py) trains for at most :data:`QUICK_STEPS` env steps: a smoke run, as
#: the README's test runs its code blocks. It cuts the budget, not the algorithm's settings: an on-policy learner
#: still collects one whole rollout.
QUICK_ENV_VAR = "ORDER_EXEC_GYM_QUICK"
QUICK_STEPS = 1_024


def quick_mode() -> bool:
    """Whether the quick switch ``$ORDER_EXEC_GYM_QUICK`` is on (set, and neither "" nor "0")."""
    return os.environ.get(QUICK_ENV_VAR, "") not in ("", "0")


def quick_budget(total_timesteps: int) -> int:
    """``total_timesteps``, cut to :data:`QUICK_STEPS` when the quick switch is on (:func:`quick_mode`)."""
    return min(total_timesteps, QUICK_STEPS) if quick_mode() else total_timesteps


#: DQN settings (the paper's value-based baseline).
DQN_KWARGS: dict[str, Any] = dict(
    learning_rate=1e-4, buffer_size=100_000, learning_starts=2_000, batch_size=256, gamma=1.0, train_freq=16,
    gradient_steps=4, target_update_interval=2_000, exploration_fraction=0.3, exploration_final_eps=0.02,
)  # fmt: skip


class ProgressBar(BaseCallback):
    """A tqdm bar (on stderr) over the env steps of ``learn``, up to the end of its last whole rollout, showing the
    mean episode reward of the last 100 orders in basis points (``reward_bps``: x 1e4, the env's ``reward_scale``
    undone). SB3's own ``learn(progress_bar=True)`` needs ``rich``, which is not one of our dependencies; this needs
    tqdm only.

    :param desc: the bar's label
    :param reward_scale: the training env's ``reward_scale``, which the shown reward is divided by
    """

    def __init__(self, desc: str, reward_scale: float = 1.0):
        super().__init__()
        self.desc = desc
        self.to_bps = 1e4 / reward_scale
        self.bar: tqdm | None = None

    def _on_training_start(self) -> None:
        if isinstance(self.model, OnPolicyAlgorithm):
            per_env = self.model.n_steps
        else:  # off-policy: train_freq env steps per rollout, when it counts steps
            freq = getattr(self.model, "train_freq", None)
            per_env = freq.frequency if getattr(getattr(freq, "unit", None), "value", None) == "step" else 1
        rollout = per_env * self.training_env.num_envs  # learn() ends with a whole rollout
        total = -(-(self.locals["total_timesteps"] - self.model.num_timesteps) // rollout) * rollout
        self.bar = tqdm(total=total, desc=self.desc, unit="step", mininterval=0.5, dynamic_ncols=True)

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_rollout_end(self) -> None:
        if self.model.ep_info_buffer:
            reward = self.to_bps * np.mean([info["r"] for info in self.model.ep_info_buffer])
            self.bar.set_postfix(reward_bps=f"{reward:.2f}")

    def _on_training_end(self) -> None:
        self.bar.close()


def make_training_env(env_kwargs: Mapping[str, Any] | None, n_envs: int, seed: int, privileged: bool) -> VecEnv:
    """``n_envs`` batched orders, monitored (episode rewards for the logs), rewards normalised, seeded.

    :param env_kwargs: ``OrderExec-v0`` keyword arguments (``data``, ``split`` and the settings); ``privileged``
        is set by the last argument
    """
    data, split, config = split_env_kwargs(env_kwargs)
    env = VecMonitor(OrderExecutionVecEnv(n_envs, data=data, split=split, **config.replace(privileged=privileged)))
    env.seed(seed)
    return VecNormalize(env, norm_obs=False, norm_reward=True, gamma=1.0)


@dataclass(frozen=True)
class Recipe:
    """How one kind of model is trained: the algorithm, its policy (None: the recurrent network of
    :data:`NETWORKS` chosen by ``train``'s ``network``), its default settings, and whether its env carries the
    privileged observation."""

    algorithm: type[BaseAlgorithm]
    policy: str | type[BasePolicy] | None
    defaults: dict[str, Any]
    privileged: bool


#: Every model the OPD pipeline trains, by name (the names of ``order-exec train`` and of the tensorboard runs).
RECIPES: dict[str, Recipe] = {
    "teacher": Recipe(PPO, TeacherPolicy, TEACHER_KWARGS, privileged=True),
    "student": Recipe(DistillRecurrentPPO, None, STUDENT_KWARGS, privileged=True),
    "recurrent_ppo": Recipe(DistillRecurrentPPO, None, CONTROL_KWARGS, privileged=False),
    "ppo": Recipe(PPO, "MultiInputPolicy", TEACHER_KWARGS, privileged=False),
    "dqn": Recipe(DQN, "MultiInputPolicy", DQN_KWARGS, privileged=False),
}


def train(
    kind: str,
    env_kwargs: Mapping[str, Any] | None = None,
    total_timesteps: int = 100_000,
    seed: int = 0,
    n_envs: int = 16,
    progress_bar: bool = False,
    tensorboard_log: str | None = None,
    verbose: int = 0,
    callback: BaseCallback | None = None,
    network: str = "lstm",
    **algo_kwargs: Any,
) -> BaseAlgorithm:
    """Train the model of :data:`RECIPES` ``kind`` (:func:`make_model`) and return it.

    :param kind: ``"teacher"``, ``"student"``, ``"recurrent_ppo"``, ``"ppo"`` or ``"dqn"``
    :param env_kwargs: ``OrderExec-v0`` keyword arguments (``data``, ``split`` and the settings; ``privileged`` is
        set by the recipe)
    :param total_timesteps: env steps (decisions) to train for; at most :data:`QUICK_STEPS` with the quick switch
        ``$ORDER_EXEC_GYM_QUICK`` on (:func:`quick_budget`)
    :param seed: seed of the model and the env
    :param n_envs: orders stepped in parallel
    :param progress_bar: show a progress bar on stderr, with the mean episode reward in bps (:class:`ProgressBar`,
        tqdm's; SB3's own needs ``rich``)
    :param tensorboard_log: tensorboard directory, or None
    :param verbose: SB3 verbosity
    :param callback: an extra SB3 callback, e.g. :class:`~sb3_distill.callbacks.BestOnValidation`
    :param network: the recurrent network of the student and of ``recurrent_ppo`` (:data:`NETWORKS`)
    :param algo_kwargs: arguments of the algorithm overriding the recipe's defaults
    """
    model = make_model(kind, env_kwargs, seed, n_envs, tensorboard_log, verbose, network, **algo_kwargs)
    bar = ProgressBar(kind, split_env_kwargs(env_kwargs)[2].reward_scale) if progress_bar else None
    callbacks = [c for c in (bar, callback) if c is not None]
    return model.learn(quick_budget(total_timesteps), callback=callbacks, tb_log_name=kind)


def make_model(
    kind: str,
    env_kwargs: Mapping[str, Any] | None = None,
    seed: int = 0,
    n_envs: int = 16,
    tensorboard_log: str | None = None,
    verbose: int = 0,
    network: str = "lstm",
    **algo_kwargs: Any,
) -> BaseAlgorithm:
    """The untrained model of :data:`RECIPES` ``kind`` on :func:`make_training_env`; arguments as in :func:`train`."""
    if kind not in RECIPES:
        raise ValueError(f"unknown kind {kind!r}; choose from {list(RECIPES)}")
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; choose from {list(NETWORKS)}")
    recipe = RECIPES[kind]
    th.set_num_threads(1)
    policy, kwargs = recipe.policy, {**recipe.defaults, **algo_kwargs}
    monitored = kind == "recurrent_ppo" and kwargs.get("monitor_teacher", False)  # the control, a teacher watching
    env = make_training_env(env_kwargs, n_envs, seed, recipe.privileged or monitored)
    if policy is None:
        policy, network_kwargs = NETWORKS[network]
        kwargs["policy_kwargs"] = {**network_kwargs, **kwargs.get("policy_kwargs", {})}
    if kind == "student" or (monitored and kwargs.get("teacher") is not None):
        kwargs["teacher"] = as_teacher(kwargs.get("teacher"), env)
    return recipe.algorithm(policy, env, seed=seed, tensorboard_log=tensorboard_log, verbose=verbose, **kwargs)


def train_teacher(env_kwargs: Mapping[str, Any] | None = None, **kwargs: Any) -> PPO:
    """Train the teacher: PPO with a :class:`~sb3_distill.policies.TeacherPolicy` on the privileged env
    (:data:`TEACHER_KWARGS`). Arguments as in :func:`train`."""
    return train("teacher", env_kwargs, **kwargs)


def train_student(
    teacher: Teacher | BaseAlgorithm | str, env_kwargs: Mapping[str, Any] | None = None, **kwargs: Any
) -> DistillRecurrentPPO:
    """Train the student: :class:`~sb3_distill.distill_ppo.DistillRecurrentPPO` with the recurrent network of
    ``network`` (:data:`NETWORKS`: ``"lstm"`` by default, or the paper's ``"gru"``) on the privileged env (its policy
    ignores the privileged key; the teacher reads it) (:data:`STUDENT_KWARGS`).

    :param teacher: a :class:`~sb3_distill.teachers.Teacher`, a trained SB3 model, or ``"oracle"`` (see
        :func:`~sb3_distill.teachers.as_teacher`)

    Other arguments as in :func:`train`, e.g. ``distill_coef`` (mu, a float or a schedule of the progress
    remaining; DistillRecurrentPPO's default otherwise).
    """
    return train("student", env_kwargs, teacher=teacher, **kwargs)


def train_ppo(
    env_kwargs: Mapping[str, Any] | None = None, recurrent: bool = True, **kwargs: Any
) -> DistillRecurrentPPO | PPO:
    """Train the baseline without distillation, on the public env (no privileged key) unless a teacher monitors it.

    :param recurrent: recurrent PPO with the student's learner, settings and network at ``distill_coef=0``
        (:data:`CONTROL_KWARGS`, ``network``): the student's control, which differs from it by the distillation
        term alone; False: plain PPO with ``MultiInputPolicy`` and the teacher's settings. The recurrent control
        takes ``teacher=...`` with ``monitor_teacher=True`` to log its distance to a teacher it never learns from
        (its env then carries the privileged observation, which its policy does not read)

    Other arguments as in :func:`train`.
    """
    return train("recurrent_ppo" if recurrent else "ppo", env_kwargs, **kwargs)


def train_dqn(env_kwargs: Mapping[str, Any] | None = None, **kwargs: Any) -> DQN:
    """Train DQN (``MultiInputPolicy``, public observation only; :data:`DQN_KWARGS`), the paper's value-based
    baseline; discrete actions. Arguments as in :func:`train`."""
    return train("dqn", env_kwargs, **kwargs)
