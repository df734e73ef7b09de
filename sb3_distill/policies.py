"""Policies for oracle policy distillation.

- :class:`StudentLstmPolicy` (alias ``"StudentLstmPolicy"`` of :class:`~sb3_distill.distill_ppo.DistillRecurrentPPO`):
  a recurrent multi-input actor-critic whose features extractor drops the privileged keys, so the student acts on
  what a trader knows at decision time whether or not the observation it is given holds them (while collecting,
  yes; in the rollout buffer's minibatches, no). :class:`StudentGruPolicy` (``"StudentGruPolicy"``) is the same
  with GRU cells, as in the paper.
- :class:`SequenceExtractor`: the paper's student network in front of the recurrent actor-critic: a GRU over the
  ``public`` bar sequence, its state at the latest bar concatenated with the ``private`` state. Give it to either
  policy (``policy_kwargs=dict(features_extractor_class=SequenceExtractor)``) so the student and its
  no-distillation control run the same network (:data:`sb3_distill.training.NETWORKS`).
- :class:`TeacherPolicy`: a feed-forward multi-input actor-critic for SB3's ``PPO`` that reads the privileged
  observation (and refuses an observation space without it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.policies import RecurrentMultiInputActorCriticPolicy
from stable_baselines3.common.policies import MultiInputActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, CombinedExtractor
from torch import nn

PRIVILEGED_KEY = "privileged"


class IgnoreKeysExtractor(CombinedExtractor):
    """SB3's ``CombinedExtractor`` over every key of a ``Dict`` observation except ``ignored_keys``, which never
    reach the network.

    :param observation_space: the whole ``Dict`` observation space
    :param ignored_keys: keys to drop
    :param cnn_output_dim: features of each image key (as in ``CombinedExtractor``)
    :param normalized_image: whether images are already normalised (as in ``CombinedExtractor``)
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        ignored_keys: Sequence[str] = (PRIVILEGED_KEY,),
        cnn_output_dim: int = 256,
        normalized_image: bool = False,
    ):
        kept = {key: space for key, space in observation_space.spaces.items() if key not in ignored_keys}
        if not kept:
            raise ValueError(f"ignoring {list(ignored_keys)} leaves none of the keys {list(observation_space.spaces)}")
        super().__init__(spaces.Dict(kept), cnn_output_dim=cnn_output_dim, normalized_image=normalized_image)
        self.ignored_keys = tuple(ignored_keys)


class SequenceExtractor(BaseFeaturesExtractor):
    """A GRU over the ``public`` sequence of bars; its output at the latest bar, concatenated with ``private``.

    The bars are first averaged in groups of ``pool_bars`` (the sequence zero-padded to whole groups) by a strided 1-D
    convolution (a learned pooling, so the GRU runs over at most 16 steps: 30-minute groups, the paper's decision
    step, for two whole sessions of one-minute bars; the GRU's cost grows with its steps), then the GRU runs over the
    groups in time order. With a mask column (``history="session"``: the last column of ``public``, bounded to
    [0, 1] in the observation space, is 1 on rows that hold a bar), the output is read at the last group that holds a
    bar, so the zero rows of the future do not wash the state out; without one (``history="lookback"``,
    right-aligned), at the last group. Every other key (the privileged one among them) is ignored.

    :param observation_space: a ``Dict`` with ``public`` (L, F) and ``private`` (P,)
    :param hidden_size: the GRU's state size
    :param pool_bars: bars per GRU step; None: ``ceil(L / 16)``
    """

    def __init__(self, observation_space: spaces.Dict, hidden_size: int = 32, pool_bars: int | None = None):
        public = observation_space["public"]
        length, n_features = public.shape
        self.pool_bars = pool_bars or -(-length // 16)
        private = int(observation_space["private"].shape[0])
        super().__init__(observation_space, features_dim=hidden_size + private)
        self.masked = bool((public.low[:, -1] == 0).all() and (public.high[:, -1] == 1).all())
        self.pool = nn.Conv1d(n_features, hidden_size, kernel_size=self.pool_bars, stride=self.pool_bars)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)

    def forward(self, observations: dict[str, th.Tensor]) -> th.Tensor:
        public = observations["public"]
        # zero rows make whole groups: after the session's rows when masked (future), before the oldest otherwise
        short = -public.shape[1] % self.pool_bars
        padding = (0, 0, 0, short) if self.masked else (0, 0, short, 0)
        grouped = th.nn.functional.pad(public, padding)
        groups = self.pool(grouped.transpose(1, 2)).transpose(1, 2)  # (B, ceil(L / pool), H)
        output, _ = self.gru(th.tanh(groups))
        if self.masked:  # the rows of ``grouped`` make whole groups, so the last bar's group is a row of ``output``
            filled = grouped[..., -1] > 0.5
            last_bar = (filled * th.arange(1, grouped.shape[1] + 1, device=public.device)).amax(dim=1) - 1
            latest = output[th.arange(len(public), device=public.device), th.clamp(last_bar, min=0) // self.pool_bars]
        else:
            latest = output[:, -1]
        return th.cat([latest, observations["private"]], dim=1)


class _GRU(nn.GRU):
    """``nn.GRU`` with ``nn.LSTM``'s calling convention, so sb3-contrib's recurrent machinery can drive it: it takes
    and returns ``(hidden, cell)`` pairs and passes the (unused) cell state through."""

    def forward(self, input: th.Tensor, states: tuple[th.Tensor, th.Tensor]) -> tuple[th.Tensor, tuple[th.Tensor, ...]]:
        output, hidden = super().forward(input, states[0])
        return output, (hidden, states[1])


class StudentLstmPolicy(RecurrentMultiInputActorCriticPolicy):
    """Recurrent multi-input actor-critic (sb3-contrib's ``MultiInputLstmPolicy``) that never reads the privileged
    keys of its observation: its features extractor is an :class:`IgnoreKeysExtractor`.

    Takes ``MultiInputLstmPolicy``'s arguments (``net_arch``, ``lstm_hidden_size``, ``n_lstm_layers``, ...) plus:

    :param privileged_keys: observation keys the student must not read
    """

    recurrent_cell: type[nn.Module] = nn.LSTM

    def __init__(self, *args: Any, privileged_keys: Sequence[str] = (PRIVILEGED_KEY,), **kwargs: Any):
        self.privileged_keys = tuple(privileged_keys)
        kwargs.setdefault("features_extractor_class", IgnoreKeysExtractor)
        if issubclass(kwargs["features_extractor_class"], IgnoreKeysExtractor):
            given = kwargs.get("features_extractor_kwargs") or {}
            kwargs["features_extractor_kwargs"] = {"ignored_keys": self.privileged_keys, **given}
        super().__init__(*args, **kwargs)
        if self.recurrent_cell is not nn.LSTM:
            self._replace_recurrent_cells()

    def _replace_recurrent_cells(self) -> None:
        """Swap the actor's and critic's LSTMs for ``recurrent_cell`` modules of the same size; rebuild the
        optimizer over the new parameters."""
        lstm = self.lstm_actor
        size = dict(input_size=lstm.input_size, hidden_size=lstm.hidden_size, num_layers=lstm.num_layers)
        self.lstm_actor = self.recurrent_cell(**size, **self.lstm_kwargs)
        if self.lstm_critic is not None:
            self.lstm_critic = self.recurrent_cell(**size, **self.lstm_kwargs)
        learning_rate = self.optimizer.param_groups[0]["lr"]
        self.optimizer = self.optimizer_class(self.parameters(), lr=learning_rate, **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "privileged_keys": self.privileged_keys}


class StudentGruPolicy(StudentLstmPolicy):
    """:class:`StudentLstmPolicy` with GRU cells instead of LSTM cells (the paper's student); same arguments."""

    recurrent_cell = _GRU


class TeacherPolicy(MultiInputActorCriticPolicy):
    """Feed-forward multi-input actor-critic (SB3's ``MultiInputPolicy``) for the teacher, which sees the whole
    window: use it with ``PPO(TeacherPolicy, env)`` on an env made with ``privileged=True``.

    Takes ``MultiInputPolicy``'s arguments plus:

    :param privileged_keys: observation keys the teacher needs; an observation space without them is an error
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        *args: Any,
        privileged_keys: Sequence[str] = (PRIVILEGED_KEY,),
        **kwargs: Any,
    ):
        missing = [key for key in privileged_keys if key not in observation_space.spaces]
        if missing:
            raise ValueError(
                f"the teacher reads {missing}, which the observation space {list(observation_space.spaces)} lacks: "
                "make the env with privileged=True"
            )
        self.privileged_keys = tuple(privileged_keys)
        super().__init__(observation_space, *args, **kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "privileged_keys": self.privileged_keys}
