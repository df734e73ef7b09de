"""The rollout buffer of :class:`~sb3_distill.distill_ppo.DistillRecurrentPPO`: whole sequences as dense tensors.

sb3-contrib's ``RecurrentDictRolloutBuffer`` cuts every minibatch out of the flattened rollout, then splits it into
sequences and pads them one by one in Python (a ``torch.tensor`` and a ``pad_sequence`` per key and per minibatch).
:class:`DistillRolloutBuffer` keeps its storage, its returns and advantages, and serves the same kind of samples, but
plans every minibatch with index arithmetic: the rollout is split into sequences (an episode, or the part of one
that lies in the rollout, cut every ``batch_size`` rows), the sequences are shuffled, and each minibatch gathers
whole sequences of ``batch_size`` rows or a little more (:func:`plan_minibatches`) into ``(n_seq, max_length)`` with
one indexing per tensor. The samples are laid out as
sb3-contrib's (flattened ``n_seq * max_length`` rows, sequence by sequence, ``mask`` 0 on padding; the recurrent
states at each sequence's first row), so ``RecurrentPPO.train`` and any ``RecurrentActorCriticPolicy`` read them
unchanged; padding repeats a sequence's last row instead of zeros (the rows are masked out of every loss).

With :attr:`DistillRolloutBuffer.compact` set (by the algorithm, for a policy that reads them: the student policies),
samples are compact: ``observations[LENGTH_KEY]`` tells each sequence's length (so the recurrent layers skip the
padding), and the :attr:`~DistillRolloutBuffer.cumulative_key`, if any, holds one row per sequence. That key is a
masked bar sequence that only grows along an order's decisions (``history="session"``'s ``public``: a decision's
rows are the next one's with its later bars zeroed), so its fullest row and ``observations[LAST_BAR_KEY]``, each
row's last bar, say all that every row held: a sixth to a tenth of the bytes gathered per minibatch at the paper's
settings.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple

import numpy as np
import torch as th
from sb3_contrib.common.recurrent.buffers import RecurrentDictRolloutBuffer
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.type_aliases import TensorDict

from sb3_distill.teachers import Teacher

#: Key of a compact sample's observations holding, for each row, the index of its last bar in the cumulative key
#: (:attr:`DistillRolloutBuffer.cumulative_key`).
LAST_BAR_KEY = "last_bar"
#: Key of a compact sample's observations holding the length of each sequence (``(n_seq,)``, int64, on the CPU).
LENGTH_KEY = "sequence_length"
#: The per-row arrays of the buffer, flattened env by env when the buffer is read.
ROW_ARRAYS = ("actions", "values", "log_probs", "advantages", "returns", "episode_starts", "teacher_actions")
STATE_ARRAYS = ("hidden_states_pi", "cell_states_pi", "hidden_states_vf", "cell_states_vf")


def last_bars(sequence: th.Tensor) -> th.Tensor:
    """Index of the last row holding a bar (mask column, the last one, above 0.5) of each masked bar sequence
    ``(B, L, F + 1)``, -1 if none."""
    filled = sequence[..., -1] > 0.5
    return (filled * th.arange(1, sequence.shape[1] + 1, device=sequence.device)).amax(dim=1) - 1


class DistillRolloutBufferSamples(NamedTuple):
    observations: TensorDict
    actions: th.Tensor
    old_values: th.Tensor
    old_log_prob: th.Tensor
    advantages: th.Tensor
    returns: th.Tensor
    lstm_states: RNNStates
    episode_starts: th.Tensor
    mask: th.Tensor
    teacher_actions: th.Tensor


class Sequences(NamedTuple):
    """The sequences of a flattened rollout: sequence ``i`` is rows ``start[i] .. start[i] + length[i] - 1``."""

    start: np.ndarray
    length: np.ndarray


def split_sequences(episode_starts: np.ndarray, n_envs: int, max_length: int | None = None) -> Sequences:
    """The sequences of a rollout flattened env by env (``n_envs`` runs of equal length): a sequence starts at each
    episode start, at each env's first row and, with ``max_length``, every ``max_length`` rows of a longer one (as
    sb3-contrib cuts sequences at its minibatches' edges: the states are stored at every row)."""
    starts = np.asarray(episode_starts, dtype=bool).reshape(n_envs, -1).copy()
    starts[:, 0] = True
    starts = starts.reshape(-1)
    if max_length is not None:
        first = np.maximum.accumulate(np.where(starts, np.arange(starts.size), 0))  # each row's episode start
        starts |= (np.arange(starts.size) - first) % max_length == 0
    start = np.flatnonzero(starts)
    return Sequences(start, np.diff(start, append=starts.size))


def plan_minibatches(sequences: Sequences, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Shuffled sequences grouped into minibatches of whole sequences: each takes sequences until it holds at least
    ``batch_size`` rows, and a last one of fewer than half as many joins the one before (so no minibatch is a row or
    two: its advantages' standard deviation would be NaN). With sequences of at most ``batch_size`` rows, each holds
    ``batch_size`` to ``2 * batch_size - 1`` rows, the last up to half a minibatch more (fewer only when the whole
    rollout does)."""
    order = (rng or np.random).permutation(len(sequences.start))
    batches, first, rows = [], 0, 0
    for i, length in enumerate(sequences.length[order].tolist()):  # integer bookkeeping; the data is gathered later
        rows += length
        if rows >= batch_size:
            batches.append(order[first : i + 1])
            first, rows = i + 1, 0
    if first < len(order):
        if batches and rows < batch_size / 2:
            batches[-1] = np.concatenate([batches[-1], order[first:]])
        else:
            batches.append(order[first:])
    return batches


class DistillRolloutBuffer(RecurrentDictRolloutBuffer):
    """sb3-contrib's ``RecurrentDictRolloutBuffer`` with dense sequence minibatches (module docstring) and the
    teacher's action for every stored step (``teacher_actions``, shaped like ``actions``).

    Build it over the keys the student reads: ``add`` takes the whole observation (privileged key included) and
    stores only the buffer's keys. While ``teacher`` is set, ``add`` also keeps a copy of the whole observation with
    its position, and the teacher labels the waiting rows in one call once ``label_batch_size`` of them wait or the
    buffer is full. So each row's label is the teacher's action on exactly that row's observation, the teacher's
    cost per call (most of its cost on a few rows) is paid a few times per rollout rather than at every step, and no
    more than about ``label_batch_size`` privileged rows are held.
    """

    #: Labels the observations given to ``add``; None: no labels (``teacher_actions`` stay zero)
    teacher: Teacher | None = None
    #: Rows the teacher labels in one call (fewer when the buffer fills first)
    label_batch_size: int = 1024
    #: Serve compact samples (module docstring); False: sb3-contrib's layout, which any recurrent policy reads
    compact: bool = False
    #: With ``compact``, an observation key served as one row per sequence (module docstring); None: none
    cumulative_key: str | None = None
    #: Whether a rollout has passed :meth:`_check_cumulative` (the first one served compactly is checked)
    _checked: bool = False

    def reset(self) -> None:
        super().reset()
        self.teacher_actions = np.zeros_like(self.actions)
        self.unlabelled: list[tuple[int, dict[str, np.ndarray]]] = []
        self._tensors: dict[str, Any] | None = None

    def add(self, obs: dict[str, np.ndarray], *args: Any, **kwargs: Any) -> None:
        if self.teacher is not None:
            self.unlabelled.append((self.pos, {key: np.array(value) for key, value in obs.items()}))
        super().add(obs, *args, **kwargs)
        if self.unlabelled and (self.full or len(self.unlabelled) * self.n_envs >= self.label_batch_size):
            self._label()

    def _label(self) -> None:
        """Store the teacher's actions on the observations waiting for them, at their positions."""
        positions = [pos for pos, _ in self.unlabelled]
        observations = {key: np.concatenate([obs[key] for _, obs in self.unlabelled]) for key in self.unlabelled[0][1]}
        actions = np.asarray(self.teacher(observations))  # type: ignore[misc]
        self.teacher_actions[positions] = actions.reshape(len(positions), self.n_envs, self.action_dim)
        self.unlabelled = []

    def get(self, batch_size: int | None = None) -> Generator[DistillRolloutBufferSamples, None, None]:  # type: ignore[override]
        """Minibatches of whole sequences (cut every ``batch_size`` rows), of ``batch_size`` rows or a little more
        each (:func:`plan_minibatches`; None: one minibatch of the whole rollout), shuffled with numpy's global
        generator as sb3-contrib's buffer is."""
        assert self.full, "Rollout buffer must be full before sampling from it"
        if self._tensors is None:
            self._tensors = self._flatten()
        batch_size = batch_size or self.buffer_size * self.n_envs
        sequences = split_sequences(self.swap_and_flatten(self.episode_starts), self.n_envs, max_length=batch_size)
        for chosen in plan_minibatches(sequences, batch_size):
            yield self.sequence_samples(Sequences(sequences.start[chosen], sequences.length[chosen]))

    def _flatten(self) -> dict[str, Any]:
        """Every array of the rollout flattened env by env (sequences are runs of rows) as a tensor on the device."""
        tensors: dict[str, Any] = {
            name: self.to_torch(self.swap_and_flatten(getattr(self, name))) for name in ROW_ARRAYS
        }
        for name in STATE_ARRAYS:  # (n_steps, n_layers, n_envs, dim) -> (n_envs * n_steps, n_layers, dim)
            tensors[name] = self.to_torch(self.swap_and_flatten(getattr(self, name).swapaxes(1, 2)))
        tensors["observations"] = {key: self.to_torch(self.swap_and_flatten(obs)) for key, obs in self.observations.items()}
        if self.compact and self.cumulative_key is not None:
            tensors[LAST_BAR_KEY] = last_bars(tensors["observations"][self.cumulative_key])
            if not self._checked:  # once: the check costs about 5% of a rollout and update at the paper's settings
                self._check_cumulative(tensors["observations"][self.cumulative_key], tensors[LAST_BAR_KEY])
                self._checked = True
        return tensors

    def _check_cumulative(self, rows: th.Tensor, last_bar: th.Tensor) -> None:
        """Refuse a rollout whose cumulative key is not cumulative (compact samples would be wrong): each row zero
        after its last bar, and equal to the next row of its sequence up to it."""
        seen = (th.arange(rows.shape[1], device=rows.device) <= last_bar[:, None]).unsqueeze(-1)
        same = th.ones(len(rows) - 1, dtype=th.bool, device=rows.device)  # row r and r + 1 in one sequence
        first = split_sequences(self.swap_and_flatten(self.episode_starts), self.n_envs).start
        same[th.as_tensor(first[1:] - 1, device=rows.device)] = False
        if (rows * ~seen).any() or not th.equal(rows[:-1][same], (rows[1:] * seen[:-1])[same]):
            raise ValueError(
                f"the {self.cumulative_key!r} observations of an order are not cumulative (a decision's rows are the "
                "next decision's with the later bars zeroed), so compact samples would misread them; e.g. "
                "VecNormalize(norm_obs=True) breaks this: normalise rewards only, or use a policy that reads every "
                "row (buffer.compact = False)"
            )

    def sequence_samples(self, sequences: Sequences) -> DistillRolloutBufferSamples:
        """The samples of ``sequences`` (rows of the flattened rollout), padded to their longest."""
        tensors = self._tensors
        if tensors is None:
            raise RuntimeError("sequence_samples reads a buffer that get() has flattened")
        width = int(sequences.length.max())
        offset = np.arange(width)
        rows = sequences.start[:, None] + np.minimum(offset, sequences.length[:, None] - 1)
        index = th.as_tensor(rows.reshape(-1), device=self.device)
        first = th.as_tensor(sequences.start, device=self.device)
        mask = th.as_tensor((offset < sequences.length[:, None]).reshape(-1), dtype=th.float32, device=self.device)

        def states(hidden: str, cell: str) -> tuple[th.Tensor, th.Tensor]:  # (n_layers, n_seq, dim) at each first row
            return tensors[hidden][first].transpose(0, 1).contiguous(), tensors[cell][first].transpose(0, 1).contiguous()

        def rows_of(name: str) -> th.Tensor:
            return tensors[name][index].flatten() if tensors[name].shape[1] == 1 else tensors[name][index]

        episode_starts = tensors["episode_starts"][index].flatten() * mask
        cumulative = self.cumulative_key if self.compact else None
        observations = {key: obs[index] for key, obs in tensors["observations"].items() if key != cumulative}
        if self.compact:
            observations[LENGTH_KEY] = th.as_tensor(sequences.length)
        if cumulative is not None:
            last_bar = tensors[LAST_BAR_KEY][index]
            sequence = th.arange(len(first), device=self.device)
            fullest = index.view(len(first), width)[sequence, last_bar.view(len(first), width).argmax(dim=1)]
            observations[cumulative] = tensors["observations"][cumulative][fullest]
            observations[LAST_BAR_KEY] = last_bar
        return DistillRolloutBufferSamples(
            observations=observations,
            actions=tensors["actions"][index],
            old_values=rows_of("values"),
            old_log_prob=rows_of("log_probs"),
            advantages=rows_of("advantages"),
            returns=rows_of("returns"),
            lstm_states=RNNStates(states("hidden_states_pi", "cell_states_pi"), states("hidden_states_vf", "cell_states_vf")),
            episode_starts=episode_starts,
            mask=mask,
            teacher_actions=tensors["teacher_actions"][index],
        )
