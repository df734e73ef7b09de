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

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.policies import RecurrentMultiInputActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.policies import BasePolicy, MultiInputActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, CombinedExtractor
from torch import nn

from sb3_distill.buffers import LAST_BAR_KEY, LENGTH_KEY, last_bars

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

    #: While set (by :func:`sequence_batches`), ``forward`` reads its batch as this many sequences of equal length,
    #: each the decisions of one order in time order (as in a recurrent minibatch)
    sequences: int | None = None
    #: While set with :attr:`sequences`, ``public`` holds one row per sequence and these are each row's last bar
    #: (a compact sample of :class:`~sb3_distill.buffers.DistillRolloutBuffer`)
    last_bar: th.Tensor | None = None

    @property
    def cumulative_key(self) -> str | None:
        """The observation key whose rows only grow along an order's decisions (masked ``public``), or None."""
        return "public" if self.masked else None

    def forward(self, observations: dict[str, th.Tensor]) -> th.Tensor:
        if self.masked and self.sequences:
            return self.forward_sequences(observations, self.sequences, self.last_bar)
        public = observations["public"]
        grouped = self._whole_groups(public)
        groups = self.pool(grouped.transpose(1, 2)).transpose(1, 2)  # (B, ceil(L / pool), H)
        output, _ = self.gru(th.tanh(groups))
        if self.masked:  # the rows of ``grouped`` make whole groups, so the last bar's group is a row of ``output``
            last_bar = last_bars(grouped)
            latest = output[th.arange(len(public), device=public.device), th.clamp(last_bar, min=0) // self.pool_bars]
        else:
            latest = output[:, -1]
        return th.cat([latest, observations["private"]], dim=1)

    def forward_sequences(
        self, observations: dict[str, th.Tensor], n_sequences: int, last_bar: th.Tensor | None = None
    ) -> th.Tensor:
        """``forward`` of a batch of ``n_sequences`` equal-length sequences of one order each (masked ``public``
        only), encoding each sequence's bars once instead of once per decision.

        Within a sequence a decision's ``public`` is the sequence's fullest one with the rows after its own last bar
        zeroed (the bars already seen never change), so the groups wholly before a decision's last bar are the same
        for every decision: the GRU runs over the fullest observation's groups once, and each decision takes one GRU
        step from the state before its last bar's group, on that group pooled over the rows it has seen. Equal to
        ``forward`` row by row up to rounding.

        :param last_bar: each row's last bar when ``public`` holds only the fullest row of each sequence; None:
            ``public`` holds every row
        """
        public = observations["public"]
        sequence = th.arange(n_sequences, device=public.device)
        if last_bar is None:
            last_bar = last_bars(public).reshape(n_sequences, -1)  # (S, D): D decisions per sequence
            public = public.reshape(n_sequences, -1, *public.shape[1:])[sequence, last_bar.argmax(dim=1)]
        last_bar = last_bar.reshape(n_sequences, -1)
        bars = self._whole_groups(public)  # the fullest of each sequence: (S, G * pool, F)
        groups = bars.reshape(n_sequences, -1, self.pool_bars * bars.shape[-1])  # (S, G, pool * F)
        weight = self.pool.weight.permute(2, 1, 0).reshape(groups.shape[-1], -1)  # the pooling as a matrix
        output, _ = self.gru(th.tanh(th.addmm(self.pool.bias, groups.flatten(0, 1), weight).view(*groups.shape[:2], -1)))
        before = th.nn.functional.pad(output, (0, 0, 1, 0))  # before[:, g]: the state before group g
        group = th.clamp(last_bar, min=0) // self.pool_bars
        offset = th.arange(self.pool_bars, device=public.device)
        seen = group[..., None] * self.pool_bars + offset <= last_bar[..., None]  # (S, D, pool)
        rows = groups[sequence[:, None], group].view(*seen.shape, -1) * seen[..., None]  # each decision's last group
        pooled = th.addmm(self.pool.bias, rows.flatten(0, 1).flatten(1), weight)
        hidden = pooled.shape[-1]
        latest = th.gru_cell(
            th.tanh(pooled),
            before[sequence[:, None], group].reshape(-1, hidden),
            self.gru.weight_ih_l0, self.gru.weight_hh_l0, self.gru.bias_ih_l0, self.gru.bias_hh_l0,
        )  # fmt: skip
        return th.cat([latest, observations["private"]], dim=1)

    def _whole_groups(self, public: th.Tensor) -> th.Tensor:
        """``public`` with zero rows making whole groups: after the session's rows when masked (the future), before
        the oldest otherwise."""
        short = -public.shape[1] % self.pool_bars
        return th.nn.functional.pad(public, (0, 0, 0, short) if self.masked else (0, 0, short, 0))


def sequence_extractors(policy: BasePolicy) -> list[SequenceExtractor]:
    """The policy's :class:`SequenceExtractor` s."""
    return [module for module in policy.modules() if isinstance(module, SequenceExtractor)]


@contextmanager
def sequence_batches(policy: BasePolicy, n_sequences: int, last_bar: th.Tensor | None = None) -> Iterator[None]:
    """While open, the policy's :class:`SequenceExtractor` s read their batches as ``n_sequences`` equal-length
    sequences of one order each (:meth:`SequenceExtractor.forward_sequences`; ``last_bar``: compact samples)."""
    extractors = sequence_extractors(policy)
    for extractor in extractors:
        extractor.sequences, extractor.last_bar = n_sequences, last_bar
    try:
        yield
    finally:
        for extractor in extractors:
            extractor.sequences, extractor.last_bar = None, None


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
    #: The privileged key may be in its observation space (it trains beside its teacher), but it never reads it: a
    #: benchmark scores it on the public track, the key given as zeros.
    reads_privileged = False

    def __init__(self, *args: Any, privileged_keys: Sequence[str] = (PRIVILEGED_KEY,), **kwargs: Any):
        self.privileged_keys = tuple(privileged_keys)
        kwargs.setdefault("features_extractor_class", IgnoreKeysExtractor)
        if issubclass(kwargs["features_extractor_class"], IgnoreKeysExtractor):
            given = kwargs.get("features_extractor_kwargs") or {}
            kwargs["features_extractor_kwargs"] = {"ignored_keys": self.privileged_keys, **given}
        super().__init__(*args, **kwargs)
        if self.recurrent_cell is not nn.LSTM:
            self._replace_recurrent_cells()

    @property
    def cumulative_key(self) -> str | None:
        """The observation key a rollout buffer may serve compactly to :meth:`evaluate_actions` (see
        :class:`~sb3_distill.buffers.DistillRolloutBuffer`): the masked ``public``, when every features extractor of
        the policy (one, or the actor's and the critic's) is a :class:`SequenceExtractor` reading it; None otherwise."""
        keys = {getattr(extractor, "cumulative_key", None) for extractor in (self.pi_features_extractor, self.vf_features_extractor)}
        return keys.pop() if len(keys) == 1 else None

    def evaluate_actions(
        self, obs: dict[str, th.Tensor], actions: th.Tensor, lstm_states: RNNStates, episode_starts: th.Tensor
    ) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """sb3-contrib's, on a minibatch of sequences (``n_seq * max_length`` rows, sequence by sequence, the states
        at each sequence's first row), faster when no episode starts inside a sequence (as in every minibatch of
        sb3-contrib's buffer and of :class:`~sb3_distill.buffers.DistillRolloutBuffer`): the states of sequences that
        start an episode are reset up front and each recurrent layer runs over the whole minibatch in one call; in a
        compact sample (``obs[LENGTH_KEY]``, see :class:`~sb3_distill.buffers.DistillRolloutBuffer`) over the valid
        rows only, and a :class:`SequenceExtractor` encodes each sequence's bars once (from one row of ``public``
        per sequence and ``obs[LAST_BAR_KEY]``). Otherwise sb3-contrib's step-by-step path. Outputs on padding rows
        are not sb3-contrib's (every loss masks them)."""
        n_seq = lstm_states.pi[0].shape[1]
        starts = episode_starts.reshape(n_seq, -1)
        obs = dict(obs)
        last_bar, lengths = obs.pop(LAST_BAR_KEY, None), obs.pop(LENGTH_KEY, None)
        if bool(starts[:, 1:].any()):
            if lengths is not None:
                raise ValueError("a compact sample must not start an episode inside a sequence")
            return super().evaluate_actions(obs, actions, lstm_states, episode_starts)
        keep = (1.0 - starts[:, 0]).view(1, n_seq, 1)
        states = RNNStates(*(tuple(keep * state for state in pair) for pair in lstm_states))
        if lengths is None:  # sb3-contrib's layout: every row's features from its own observation
            return super().evaluate_actions(obs, actions, states, th.zeros_like(episode_starts))
        with sequence_batches(self, n_seq, last_bar):
            features = self.extract_features(obs)
        # RecurrentActorCriticPolicy.evaluate_actions with the recurrent layers over the valid rows
        pi_features, vf_features = (features, features) if self.share_features_extractor else features
        latent_pi = self._packed_sequence(pi_features, states.pi, lengths, self.lstm_actor)
        if self.lstm_critic is not None:
            latent_vf = self._packed_sequence(vf_features, states.vf, lengths, self.lstm_critic)
        elif self.shared_lstm:
            latent_vf = latent_pi.detach()
        else:
            latent_vf = self.critic(vf_features)
        distribution = self._get_action_dist_from_latent(self.mlp_extractor.forward_actor(latent_pi))
        values = self.value_net(self.mlp_extractor.forward_critic(latent_vf))
        return values, distribution.log_prob(actions), distribution.entropy()

    @staticmethod
    def _packed_sequence(
        features: th.Tensor, states: tuple[th.Tensor, th.Tensor], lengths: th.Tensor, lstm: nn.Module
    ) -> th.Tensor:
        """The recurrent layer over ``len(lengths)`` sequences of ``features`` (flattened sequence by sequence, padded
        to the longest) from ``states``, skipping the padding; zeros on padding rows."""
        n_seq = len(lengths)
        sequence = features.reshape(n_seq, -1, features.shape[-1]).transpose(0, 1)
        packed = th.nn.utils.rnn.pack_padded_sequence(sequence, lengths, enforce_sorted=False)
        output, _ = lstm(packed, states)
        output, _ = th.nn.utils.rnn.pad_packed_sequence(output, total_length=sequence.shape[0])
        return output.transpose(0, 1).reshape(-1, output.shape[-1])

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
