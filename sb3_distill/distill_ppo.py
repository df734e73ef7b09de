"""DistillRecurrentPPO: RecurrentPPO plus oracle policy distillation (Fang et al., AAAI 2021).

The update is sb3-contrib's: ``DistillRecurrentPPO._recurrent_ppo_train`` is ``RecurrentPPO.train`` of sb3-contrib
2.9.2 (unchanged since 2.8.0; pyproject.toml pins sb3-contrib and stable-baselines3 to ``>=2.8,<2.10``) copied line
for line, plus one hook that adds the distillation term; a test compares the copy with the installed source. What
makes it fast lives elsewhere and leaves the update's arithmetic alone: the rollout buffer serves whole sequences
as dense tensors (:mod:`sb3_distill.buffers`), and the student policies evaluate a minibatch of sequences with one
recurrent call per layer and encode each sequence's bars once (:mod:`sb3_distill.policies`).
"""

from __future__ import annotations

import io
import pathlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import CombinedExtractor
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import FloatSchedule, explained_variance
from stable_baselines3.common.vec_env import VecEnv

from sb3_distill.buffers import DistillRolloutBuffer, DistillRolloutBufferSamples
from sb3_distill.policies import PRIVILEGED_KEY, StudentGruPolicy, StudentLstmPolicy
from sb3_distill.teachers import Teacher, as_teacher

SelfDistillRecurrentPPO = TypeVar("SelfDistillRecurrentPPO", bound="DistillRecurrentPPO")


@dataclass
class DistillationTerm:
    """The distillation term of one update: its coefficient (0: none), whether the rollout has the teacher's labels
    and, per minibatch, ``L_d`` and the teacher fit (``train/teacher_agreement`` or ``train/teacher_distance``),
    measured whenever it has them."""

    coef: float
    labelled: bool = False
    losses: list[float] = field(default_factory=list)
    fits: list[float] = field(default_factory=list)


class DistillRecurrentPPO(RecurrentPPO):
    """
    Recurrent PPO with oracle policy distillation (OPD): "Universal Trading for Order Execution with Oracle Policy
    Distillation", Fang et al., AAAI 2021.

    The student is sb3-contrib's ``RecurrentPPO`` on an env whose observation also holds a privileged key (the
    future of the order's window) that the student's policy never reads. A teacher that does read it (a PPO policy
    trained on the privileged observation, or the exact oracle) labels every step with its action ``a~_t`` while the
    rollout is collected, and the loss becomes RecurrentPPO's plus ``distill_coef * L_d`` with
    ``L_d = -mean log pi_student(a~_t | s_t)`` over the valid (unpadded) rows of each sequence minibatch. The rollout
    buffer (:class:`~sb3_distill.buffers.DistillRolloutBuffer`) keeps the labels, not the privileged key, and serves
    minibatches of whole sequences; with the student policies, compact ones that they evaluate several times faster
    than sb3-contrib's (same loss and gradients on the same sequences, tested). With ``distill_coef == 0`` the
    update is RecurrentPPO's loss on these minibatches: the student's control without distillation is this class at
    ``distill_coef=0``, and its teacher is never called (none is needed) unless it monitors one
    (``monitor_teacher=True``: the teacher labels every rollout and ``L_d`` and the teacher fit are logged, while the
    loss and gradients stay the control's; its record of how close it comes to the teacher by itself). ``learn``
    refuses a ``distill_coef > 0`` or ``monitor_teacher`` without a teacher (e.g. a model loaded without one).
    Besides RecurrentPPO's, ``train()`` logs ``train/distill_coef``, ``train/distill_loss`` and, for ``Discrete``
    actions, ``train/teacher_agreement`` (share of rows where the student's most likely action is the teacher's) or,
    for ``Box`` actions, ``train/teacher_distance`` (mean ``|a - a~|`` between the student's mean action, clipped to
    the bounds, and the teacher's).

    :param policy: The policy model to use ("StudentLstmPolicy", "StudentGruPolicy", "MultiInputLstmPolicy", ...);
        its actor must not read ``privileged_key``
    :param env: The environment to learn from (if registered in Gym, can be str); its observation space is a
        ``Dict`` that holds ``privileged_key`` when a teacher is used
    :param teacher: Maps a batch of observations to the teacher's actions (see
        :class:`~sb3_distill.teachers.Teacher`); called while a rollout whose update distils (``distill_coef > 0``)
        is collected, on batches of its observations as the policy sees them (normalised, if a ``VecNormalize``
        normalises them; see :class:`DistillRolloutBuffer`). Not saved with the model: pass it again to ``load``.
        None: no distillation
    :param distill_coef: Distillation coefficient mu, it can be a function of the current progress remaining (from
        1 to 0)
    :param monitor_teacher: Label every rollout with the teacher and log ``L_d`` and the teacher fit also when
        ``distill_coef`` is 0, without adding them to the loss (needs a teacher)
    :param privileged_key: Observation key only the teacher may read
    :param learning_rate: The learning rate, it can be a function
        of the current progress remaining (from 1 to 0)
    :param n_steps: The number of steps to run for each environment per update
        (i.e. batch size is n_steps * n_env where n_env is number of environment copies running in parallel)
    :param batch_size: Minibatch size
    :param n_epochs: Number of epoch when optimizing the surrogate loss
    :param gamma: Discount factor
    :param gae_lambda: Factor for trade-off of bias vs variance for Generalized Advantage Estimator
    :param clip_range: Clipping parameter, it can be a function of the current progress
        remaining (from 1 to 0).
    :param clip_range_vf: Clipping parameter for the value function,
        it can be a function of the current progress remaining (from 1 to 0).
        If None (default), no clipping will be done on the value function.
    :param normalize_advantage: Whether to normalize or not the advantage
    :param ent_coef: Entropy coefficient for the loss calculation
    :param vf_coef: Value function coefficient for the loss calculation
    :param max_grad_norm: The maximum value for the gradient clipping
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE)
        instead of action noise exploration (default: False)
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE
        Default: -1 (only sample at the beginning of the rollout)
    :param target_kl: Limit the KL divergence between updates (no limit by default)
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
        the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
    :param verbose: the verbosity level: 0 no output, 1 info, 2 debug
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
        Setting it to auto, the code will be run on the GPU if possible.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        **RecurrentPPO.policy_aliases,
        "StudentLstmPolicy": StudentLstmPolicy,
        "StudentGruPolicy": StudentGruPolicy,
    }
    rollout_buffer: DistillRolloutBuffer

    def __init__(
        self,
        policy: str | type[RecurrentActorCriticPolicy],
        env: GymEnv | str,
        teacher: Teacher | None = None,
        distill_coef: float | Schedule = 0.01,
        monitor_teacher: bool = False,
        privileged_key: str = PRIVILEGED_KEY,
        learning_rate: float | Schedule = 3e-4,
        n_steps: int = 128,
        batch_size: int | None = 128,
        n_epochs: int = 10,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float | Schedule = 0.2,
        clip_range_vf: float | Schedule | None = None,
        normalize_advantage: bool = True,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        target_kl: float | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            batch_size=batch_size,
            n_epochs=n_epochs,
            gamma=gamma,
            gae_lambda=gae_lambda,
            clip_range=clip_range,
            clip_range_vf=clip_range_vf,
            normalize_advantage=normalize_advantage,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            target_kl=target_kl,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
        )
        self.teacher = teacher
        self.distill_coef = distill_coef
        self.monitor_teacher = monitor_teacher
        self.privileged_key = privileged_key

        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        if not isinstance(self.observation_space, spaces.Dict):
            raise ValueError(f"DistillRecurrentPPO needs a Dict observation space, got {self.observation_space}")
        if self.teacher is not None and self.privileged_key not in self.observation_space.spaces:
            raise ValueError(
                f"the teacher needs the {self.privileged_key!r} observation, which the env lacks: "
                "make it with privileged=True"
            )
        super()._setup_model()
        extractor = self.policy.pi_features_extractor
        if isinstance(extractor, CombinedExtractor) and self.privileged_key in extractor.extractors:
            raise ValueError(
                f"the student's policy reads the privileged observation {self.privileged_key!r}: "
                "use 'StudentLstmPolicy' (or a features extractor that drops it)"
            )
        # RecurrentPPO's buffer without the privileged key, plus room for the teacher's actions
        buffer = self.rollout_buffer
        kept = {key: space for key, space in self.observation_space.spaces.items() if key != self.privileged_key}
        self.rollout_buffer = DistillRolloutBuffer(
            self.n_steps,
            spaces.Dict(kept),
            self.action_space,
            buffer.hidden_state_shape,
            self.device,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
            n_envs=self.n_envs,
        )
        if isinstance(self.policy, StudentLstmPolicy):  # it reads compact samples
            self.rollout_buffer.compact = True
            self.rollout_buffer.cumulative_key = self.policy.cumulative_key
        self.distill_coef = FloatSchedule(self.distill_coef)

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: DistillRolloutBuffer,  # type: ignore[override]
        n_rollout_steps: int,
    ) -> bool:
        """RecurrentPPO's, with the teacher labelling every stored step when the update that follows distils
        (``distill_coef`` is positive at the progress remaining after this rollout, as ``learn`` computes it) or
        when it monitors the teacher (``monitor_teacher``)."""
        num_timesteps = self.num_timesteps + n_rollout_steps * env.num_envs
        progress_remaining = 1.0 - float(num_timesteps) / float(self._total_timesteps)
        label = self.teacher is not None and (self.monitor_teacher or self.distill_coef(progress_remaining) > 0)
        rollout_buffer.teacher = self.teacher if label else None
        return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)

    def train(self) -> None:
        """RecurrentPPO's update (:meth:`_recurrent_ppo_train`, its copy) plus ``distill_coef * L_d`` when this
        rollout was labelled and ``distill_coef`` is positive, and the distillation logs (``L_d`` and the teacher
        fit of every labelled rollout)."""
        distill_coef = self.distill_coef(self._current_progress_remaining)
        labelled = self.rollout_buffer.teacher is not None
        self._distillation = DistillationTerm(distill_coef if labelled else 0.0, labelled)
        self._recurrent_ppo_train()
        self.logger.record("train/distill_coef", distill_coef)
        if self._distillation.losses:
            self.logger.record("train/distill_loss", np.mean(self._distillation.losses))
            fit = "train/teacher_distance" if isinstance(self.action_space, spaces.Box) else "train/teacher_agreement"
            self.logger.record(fit, np.mean(self._distillation.fits))

    def _add_distillation_loss(self, loss: th.Tensor, rollout_data: DistillRolloutBufferSamples, mask: th.Tensor) -> th.Tensor:
        """The hook in :meth:`_recurrent_ppo_train`: ``loss + mu * L_d`` on this minibatch (``loss`` itself when the
        update does not distil), ``L_d`` the negative log-likelihood of the teacher's actions under the student's
        distribution, which ``evaluate_actions`` left in ``policy.action_dist``; ``L_d`` and the fit are recorded
        whenever the rollout is labelled."""
        term = self._distillation
        if not term.labelled:
            return loss
        distribution = self.policy.action_dist
        teacher_actions = rollout_data.teacher_actions
        if isinstance(self.action_space, spaces.Discrete):
            teacher_actions = teacher_actions.long().flatten()
        distill_loss = -th.mean(distribution.log_prob(teacher_actions)[mask])
        term.losses.append(distill_loss.item())
        term.fits.append(self._teacher_fit(distribution.mode(), teacher_actions, mask))
        return loss + term.coef * distill_loss if term.coef > 0 else loss

    def _recurrent_ppo_train(self) -> None:
        """COPIED from sb3-contrib 2.9.2: ``RecurrentPPO.train``'s body, line for line, with one line added (marked
        ``# OPD hook``); ``tests/test_fast_learner.py`` fails when the installed sb3-contrib's differs."""
        # Switch to train mode (this affects batch norm / dropout)
        self.policy.set_training_mode(True)
        # Update optimizer learning rate
        self._update_learning_rate(self.policy.optimizer)
        # Compute current clip range
        clip_range = self.clip_range(self._current_progress_remaining)
        # Optional: clip range for the value function
        if self.clip_range_vf is not None:
            clip_range_vf = self.clip_range_vf(self._current_progress_remaining)

        entropy_losses = []
        pg_losses, value_losses = [], []
        clip_fractions = []

        continue_training = True

        # train for n_epochs epochs
        for epoch in range(self.n_epochs):
            approx_kl_divs = []
            # Do a complete pass on the rollout buffer
            for rollout_data in self.rollout_buffer.get(self.batch_size):
                actions = rollout_data.actions
                if isinstance(self.action_space, spaces.Discrete):
                    # Convert discrete action from float to long
                    actions = rollout_data.actions.long().flatten()

                # Convert mask from float to bool
                mask = rollout_data.mask > 1e-8

                values, log_prob, entropy = self.policy.evaluate_actions(
                    rollout_data.observations,
                    actions,
                    rollout_data.lstm_states,
                    rollout_data.episode_starts,
                )

                values = values.flatten()
                # Normalize advantage
                advantages = rollout_data.advantages
                if self.normalize_advantage:
                    advantages = (advantages - advantages[mask].mean()) / (advantages[mask].std() + 1e-8)

                # ratio between old and new policy, should be one at the first iteration
                ratio = th.exp(log_prob - rollout_data.old_log_prob)

                # clipped surrogate loss
                policy_loss_1 = advantages * ratio
                policy_loss_2 = advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)
                policy_loss = -th.mean(th.min(policy_loss_1, policy_loss_2)[mask])

                # Logging
                pg_losses.append(policy_loss.item())
                clip_fraction = th.mean((th.abs(ratio - 1) > clip_range).float()[mask]).item()
                clip_fractions.append(clip_fraction)

                if self.clip_range_vf is None:
                    # No clipping
                    values_pred = values
                else:
                    # Clip the different between old and new value
                    # NOTE: this depends on the reward scaling
                    values_pred = rollout_data.old_values + th.clamp(
                        values - rollout_data.old_values, -clip_range_vf, clip_range_vf
                    )
                # Value loss using the TD(gae_lambda) target
                # Mask padded sequences
                value_loss = th.mean(((rollout_data.returns - values_pred) ** 2)[mask])

                value_losses.append(value_loss.item())

                # Entropy loss favor exploration
                if entropy is None:
                    # Approximate entropy when no analytical form
                    entropy_loss = -th.mean(-log_prob[mask])
                else:
                    entropy_loss = -th.mean(entropy[mask])

                entropy_losses.append(entropy_loss.item())

                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                loss = self._add_distillation_loss(loss, rollout_data, mask)  # OPD hook

                # Calculate approximate form of reverse KL Divergence for early stopping
                # see issue #417: https://github.com/DLR-RM/stable-baselines3/issues/417
                # and discussion in PR #419: https://github.com/DLR-RM/stable-baselines3/pull/419
                # and Schulman blog: http://joschu.net/blog/kl-approx.html
                with th.no_grad():
                    log_ratio = log_prob - rollout_data.old_log_prob
                    approx_kl_div = th.mean(((th.exp(log_ratio) - 1) - log_ratio)[mask]).cpu().numpy()
                    approx_kl_divs.append(approx_kl_div)

                if self.target_kl is not None and approx_kl_div > 1.5 * self.target_kl:
                    continue_training = False
                    if self.verbose >= 1:
                        print(f"Early stopping at step {epoch} due to reaching max kl: {approx_kl_div:.2f}")
                    break

                # Optimization step
                self.policy.optimizer.zero_grad()
                loss.backward()
                # Clip grad norm
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()

            self._n_updates += 1
            if not continue_training:
                break

        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())

        # Logs
        self.logger.record("train/entropy_loss", np.mean(entropy_losses))
        self.logger.record("train/policy_gradient_loss", np.mean(pg_losses))
        self.logger.record("train/value_loss", np.mean(value_losses))
        self.logger.record("train/approx_kl", np.mean(approx_kl_divs))
        self.logger.record("train/clip_fraction", np.mean(clip_fractions))
        self.logger.record("train/loss", loss.item())
        self.logger.record("train/explained_variance", explained_var)
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
        if self.clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)

    def _teacher_fit(self, student_actions: th.Tensor, teacher_actions: th.Tensor, mask: th.Tensor) -> float:
        """How close the student's most likely actions are to the teacher's over the valid rows: for Box actions
        (``train/teacher_distance``), the mean absolute difference between the student's mean action clipped to the
        bounds and the teacher's; otherwise (``train/teacher_agreement``), the share of rows where they are equal."""
        with th.no_grad():
            if isinstance(self.action_space, spaces.Box):
                low = th.as_tensor(self.action_space.low, device=student_actions.device)
                high = th.as_tensor(self.action_space.high, device=student_actions.device)
                distance = th.abs(th.clamp(student_actions, low, high) - teacher_actions).reshape(len(mask), -1)
                return distance.mean(dim=1)[mask].mean().item()
            same = (student_actions == teacher_actions).reshape(len(mask), -1).all(dim=1)
            return same.float()[mask].mean().item()

    def learn(
        self: SelfDistillRecurrentPPO,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "DistillRecurrentPPO",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfDistillRecurrentPPO:
        if self.teacher is None and self.monitor_teacher:
            raise ValueError(
                "monitor_teacher=True needs a teacher to monitor: pass teacher=... (DistillRecurrentPPO.load(path, "
                "env=..., teacher=...) takes one), or set monitor_teacher=False"
            )
        if self.teacher is None and any(self.distill_coef(progress) > 0 for progress in np.linspace(1.0, 0.0, 21)):
            raise ValueError(
                f"{type(self).__name__} has distill_coef > 0 but no teacher, so it would train without distillation: "
                "pass teacher=... (DistillRecurrentPPO.load(path, env=..., teacher=...) takes a model, a Teacher or "
                "'oracle'), or set distill_coef=0 for the control"
            )
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    @classmethod
    def load(  # type: ignore[override]
        cls: type[SelfDistillRecurrentPPO],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        teacher: Teacher | BaseAlgorithm | str | None = None,
        **kwargs: Any,
    ) -> SelfDistillRecurrentPPO:
        """Load a model saved with ``save``. The teacher is not saved with it: to train further with distillation,
        pass ``env`` (made with ``privileged=True``) and ``teacher``, anything ``train_student`` takes (a
        :class:`~sb3_distill.teachers.Teacher`, a trained SB3 model, or ``"oracle"``; see
        :func:`~sb3_distill.teachers.as_teacher`). Prediction needs neither. Other arguments are
        ``BaseAlgorithm.load``'s."""
        if teacher is not None and env is None:
            raise ValueError(
                "a teacher is for training further, which needs the env: load(path, env=..., teacher=...) with an "
                "env made with privileged=True (prediction needs neither)"
            )
        if teacher is not None:
            teacher = as_teacher(teacher, env)
        return super().load(path, env=env, teacher=teacher, **kwargs)

    def _excluded_save_params(self) -> list[str]:
        return super()._excluded_save_params() + ["teacher", "_distillation"]  # noqa: RUF005
