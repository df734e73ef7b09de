"""Model selection on a validation split: keep the parameters that score best on held-out days."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from order_exec_gym.config import ExecutionConfig
from order_exec_gym.data.market import Market
from order_exec_gym.evaluation import evaluate


class BestOnValidation(BaseCallback):
    """Evaluate the model on a validation split every ``eval_freq`` env steps and at the end of training, and
    restore the policy parameters that scored best when training ends.

    Selection uses only the validation split, never the test split.

    :param data: the market (a dataset, sharded market, preset name or saved directory)
    :param split: the validation split
    :param config: the env settings the model trains with (an :class:`~order_exec_gym.config.ExecutionConfig` or a
        mapping of its fields; ``privileged`` is given to models that read it)
    :param eval_freq: env steps between evaluations
    :param n_orders: orders per evaluation (None: every episode of the split once)
    :param metric: the key of :func:`~order_exec_gym.evaluation.evaluate`'s summary to maximise
    :param seed: seed of the evaluation orders
    """

    def __init__(
        self,
        data: Market | str | None,
        split: str = "valid",
        config: ExecutionConfig | Mapping[str, Any] | None = None,
        eval_freq: int = 50_000,
        n_orders: int | None = None,
        metric: str = "mean_reward",
        seed: int = 0,
    ):
        super().__init__()
        self.data = data
        self.config = ExecutionConfig.from_kwargs(config).replace(privileged=False)  # evaluate adds it if the model reads it
        self.split = split
        self.eval_freq = eval_freq
        self.n_orders = n_orders
        self.metric = metric
        self.seed = seed
        #: ``(timesteps, summary)`` of every evaluation, the summary of :func:`~order_exec_gym.evaluation.evaluate`
        #: (mean reward, PA mean and std, GLR): learning curves on held-out days.
        self.history: list[tuple[int, dict[str, float]]] = []
        self.best_score = float("-inf")
        self.best_timesteps = 0
        self._best_parameters: dict | None = None
        self._last_eval = 0

    def _on_step(self) -> bool:
        if self.num_timesteps - self._last_eval >= self.eval_freq:
            self._evaluate()
        return True

    def _on_training_end(self) -> None:
        if self._last_eval != self.num_timesteps:
            self._evaluate()
        if self._best_parameters is not None:
            self.model.policy.load_state_dict(self._best_parameters)

    def _evaluate(self) -> None:
        self._last_eval = self.num_timesteps
        result = evaluate(self.model, self.data, self.split, self.n_orders, self.seed, config=self.config)
        score = float(result.summary[self.metric])
        self.history.append((self.num_timesteps, dict(result.summary)))
        self.logger.record(f"valid/{self.metric}", score)
        if score > self.best_score:
            self.best_score, self.best_timesteps = score, self.num_timesteps
            self._best_parameters = copy.deepcopy(self.model.policy.state_dict())


#: The update's values :class:`TrainingLog` keeps by default: the policy's entropy (SB3 logs its negative mean, the
#: entropy loss), the distillation loss ``L_d`` and the teacher fit (where the update has them), the KL of the update.
TRAINING_KEYS = (
    "train/entropy_loss", "train/distill_loss", "train/teacher_agreement", "train/teacher_distance", "train/approx_kl",
)  # fmt: skip


class TrainingLog(BaseCallback):
    """Keep values an on-policy learner logs at every update: after each update, ``(timesteps, {key: value})`` of
    the ``keys`` it recorded, in :attr:`history` (the learning curves of the training itself).

    It reads the logger between the update and the next rollout's start (or the end of training), where SB3 keeps
    the update's values until its next dump, so it needs no output format and works with ``verbose=0``. It needs
    ``learn(log_interval=1)``, the on-policy default: with fewer dumps, a value an update did not log would be carried
    over from an earlier one. An update that logged none of the keys (e.g. DQN's) adds no row.

    :param keys: the logger's keys to keep (:data:`TRAINING_KEYS` by default); an update that did not record a key
        has none in its row
    """

    def __init__(self, keys: tuple[str, ...] = TRAINING_KEYS):
        super().__init__()
        self.keys = keys
        #: ``(timesteps, {key: value})`` after every update
        self.history: list[tuple[int, dict[str, float]]] = []
        self._updates = 0

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        self._record()

    def _on_training_end(self) -> None:
        self._record()

    def _record(self) -> None:
        updates = getattr(self.model, "_n_updates", 0)
        if updates == self._updates:  # no update since the last row (the first rollout, or training ended on one)
            return
        self._updates = updates
        values = {key: float(self.logger.name_to_value[key]) for key in self.keys if key in self.logger.name_to_value}
        if values:
            self.history.append((self.num_timesteps, values))
