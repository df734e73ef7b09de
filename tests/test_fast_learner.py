"""The fast recurrent learner against what it replaces: sb3-contrib's buffer and per-decision network on the same
episodes (loss and gradients), the once-per-sequence encoder against the per-decision one, and the copied update
against the installed sb3-contrib's."""

from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np
import pytest
import torch as th
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.buffers import RecurrentDictRolloutBuffer
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy

from order_exec_gym import PAPER_CONFIG
from order_exec_gym.vector import OrderExecutionVectorEnv
from sb3_distill import DistillRecurrentPPO, OrderExecutionVecEnv
from sb3_distill.buffers import LAST_BAR_KEY, LENGTH_KEY, DistillRolloutBuffer, last_bars, split_sequences
from sb3_distill.distill_ppo import DistillRecurrentPPO as Learner
from sb3_distill.policies import SequenceExtractor, StudentGruPolicy, StudentLstmPolicy, sequence_batches
from sb3_distill.training import NETWORKS

th.set_num_threads(1)

SMALL_GRU = dict(lstm_hidden_size=16, net_arch=[16], features_extractor_class=SequenceExtractor,
                 features_extractor_kwargs=dict(hidden_size=8))  # fmt: skip
#: (config, policy, policy_kwargs): the paper's settings; steps that cut the 30-bar groups (7 minutes) on windows
#: that start inside the session, both sides; a continuous action; the LSTM network over the lookback window.
CASES = {
    "paper": (dict(PAPER_CONFIG), StudentGruPolicy, SMALL_GRU),
    "partial groups": (
        {**PAPER_CONFIG, "step_minutes": 7, "window_minutes": 100, "side": "random", "levels": (0, 0.1, 0.3, 1)},
        StudentGruPolicy, SMALL_GRU,
    ),
    "continuous": ({**PAPER_CONFIG, "action_type": "continuous"}, StudentGruPolicy, SMALL_GRU),
    "lstm lookback": ({}, StudentLstmPolicy, dict(lstm_hidden_size=16, net_arch=[16])),
    # sb3-contrib's variants of the recurrent actor-critic
    "shared lstm": (dict(PAPER_CONFIG), StudentGruPolicy, {**SMALL_GRU, "shared_lstm": True, "enable_critic_lstm": False}),
    "critic mlp": (dict(PAPER_CONFIG), StudentGruPolicy, {**SMALL_GRU, "enable_critic_lstm": False}),
    "two extractors": (dict(PAPER_CONFIG), StudentGruPolicy, {**SMALL_GRU, "share_features_extractor": False}),
    "two layers": (dict(PAPER_CONFIG), StudentLstmPolicy, {**SMALL_GRU, "n_lstm_layers": 2}),
}  # fmt: skip


def rollout_model(market, config, policy, policy_kwargs, n_envs=6, n_steps=12, seed=0) -> DistillRecurrentPPO:
    """A model after one rollout and one update: its buffer holds the rollout (episodes of every length, some cut
    by the rollout's ends)."""
    env = OrderExecutionVecEnv(n_envs, data=market, **config)
    env.seed(seed)
    model = DistillRecurrentPPO(policy, env, distill_coef=0.0, n_steps=n_steps, batch_size=64, n_epochs=1, seed=seed,
                                policy_kwargs=policy_kwargs)  # fmt: skip
    return model.learn(n_steps * n_envs)


def as_sb3_contrib_buffer(buffer: DistillRolloutBuffer) -> RecurrentDictRolloutBuffer:
    """sb3-contrib's buffer holding the same rollout."""
    reference = RecurrentDictRolloutBuffer(
        buffer.buffer_size, buffer.observation_space, buffer.action_space, buffer.hidden_state_shape, buffer.device,
        gamma=buffer.gamma, gae_lambda=buffer.gae_lambda, n_envs=buffer.n_envs,
    )  # fmt: skip
    for name in ("actions", "rewards", "episode_starts", "values", "log_probs", "advantages", "returns",
                 "hidden_states_pi", "cell_states_pi", "hidden_states_vf", "cell_states_vf"):  # fmt: skip
        setattr(reference, name, getattr(buffer, name).copy())
    reference.observations = {key: value.copy() for key, value in buffer.observations.items()}
    reference.full = True
    return reference


def ppo_loss(evaluate, samples, discrete: bool) -> th.Tensor:
    """RecurrentPPO's minibatch loss (clip 0.2, entropy 0.01, value 0.5) with ``evaluate`` as the policy."""
    actions = samples.actions.long().flatten() if discrete else samples.actions
    values, log_prob, entropy = evaluate(samples.observations, actions, samples.lstm_states, samples.episode_starts)
    mask = samples.mask > 1e-8
    advantages = (samples.advantages - samples.advantages[mask].mean()) / (samples.advantages[mask].std() + 1e-8)
    ratio = th.exp(log_prob - samples.old_log_prob)
    policy_loss = -th.mean(th.min(advantages * ratio, advantages * th.clamp(ratio, 0.8, 1.2))[mask])
    value_loss = th.mean(((samples.returns - values.flatten()) ** 2)[mask])
    entropy_loss = -th.mean(entropy[mask]) if entropy is not None else th.tensor(0.0)
    return policy_loss + 0.01 * entropy_loss + 0.5 * value_loss


def loss_and_gradients(policy, evaluate, samples, discrete: bool) -> tuple[float, dict[str, th.Tensor]]:
    policy.optimizer.zero_grad()
    loss = ppo_loss(evaluate, samples, discrete)
    loss.backward()
    return loss.item(), {name: p.grad.clone() for name, p in policy.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("case", list(CASES))
def test_minibatch_loss_and_gradients_equal_sb3_contribs_on_the_same_episodes(small_market, case, monkeypatch):
    """The whole rollout as one minibatch, in the rollout's order: sb3-contrib's buffer (padded sequences) through
    sb3-contrib's evaluation (the network row by row, the recurrent layers step by step) against ours (dense
    sequences, compact session observations, one recurrent call, the encoder once per sequence)."""
    config, policy_class, policy_kwargs = CASES[case]
    model = rollout_model(small_market, config, policy_class, policy_kwargs)
    buffer, policy = model.rollout_buffer, model.policy
    assert (buffer.cumulative_key == "public") == ("features_extractor_class" in policy_kwargs)
    episode_starts = buffer.episode_starts.swapaxes(0, 1).reshape(-1)
    assert 1 < episode_starts.sum() < len(episode_starts) - buffer.n_envs  # episodes of several lengths, some cut
    monkeypatch.setattr(np.random, "randint", lambda *args, **kwargs: 0)  # sb3-contrib's: no rotation
    monkeypatch.setattr(np.random, "permutation", np.arange)  # ours: no shuffling
    theirs = next(as_sb3_contrib_buffer(buffer).get(batch_size=None))
    ours = next(buffer.get(batch_size=None))
    mask = theirs.mask > 0
    assert th.equal(ours.mask, theirs.mask)
    for name in ("old_values", "old_log_prob", "advantages", "returns", "episode_starts"):
        assert th.equal(getattr(ours, name)[mask], getattr(theirs, name)[mask]), name
    assert all(th.equal(a, b) for pair, other in zip(ours.lstm_states, theirs.lstm_states, strict=True) for a, b in zip(pair, other, strict=True))
    assert (LAST_BAR_KEY in ours.observations) == (buffer.cumulative_key is not None)
    assert th.equal(ours.observations[LENGTH_KEY], ours.mask.view(len(ours.observations[LENGTH_KEY]), -1).sum(1).long())

    discrete = config.get("action_type") != "continuous"
    their_loss, their_grads = loss_and_gradients(policy, lambda *a: RecurrentActorCriticPolicy.evaluate_actions(policy, *a), theirs, discrete)
    our_loss, our_grads = loss_and_gradients(policy, policy.evaluate_actions, ours, discrete)
    assert our_loss == pytest.approx(their_loss, rel=1e-5, abs=1e-6)
    assert our_grads.keys() == their_grads.keys() and our_grads
    for name in their_grads:
        th.testing.assert_close(our_grads[name], their_grads[name], rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("case", ["paper", "partial groups"])
def test_the_once_per_sequence_encoder_equals_the_per_decision_one(small_market, case):
    """Every decision of 12 orders (whole episodes, TWAP-like actions that never finish early), encoded row by row
    and once per order, from every row or from the compact form (one row per order and each row's last bar)."""
    config = CASES[case][0]
    n = 12
    env = OrderExecutionVectorEnv(n, data=small_market, **config)
    obs, _ = env.reset(seed=3)
    steps = [obs]
    while True:
        obs, _, terminated, _, _ = env.step(np.zeros(n, dtype=np.int64) if env.task.config.action_type == "discrete" else np.zeros((n, 1)))
        if terminated.any():
            assert terminated.all()
            break
        steps.append(obs)
    rows = {key: th.as_tensor(np.stack([s[key] for s in steps], axis=1).reshape(-1, *steps[0][key].shape[1:])) for key in ("public", "private")}
    th.manual_seed(0)
    extractor = SequenceExtractor(env.single_observation_space, hidden_size=8)
    per_decision = extractor(rows)
    once = extractor.forward_sequences(rows, n)
    th.testing.assert_close(once, per_decision, rtol=0, atol=1e-5)
    last_bar = last_bars(rows["public"])
    assert (last_bar == -1).any() == (case == "paper")  # a first session at its open: nothing seen yet
    fullest = rows["public"].reshape(n, len(steps), *rows["public"].shape[1:])[:, -1]
    compact = extractor.forward_sequences({**rows, "public": fullest}, n, last_bar)
    th.testing.assert_close(compact, per_decision, rtol=0, atol=1e-5)
    grads = [th.autograd.grad(out.square().sum(), list(extractor.parameters())) for out in (per_decision, compact)]
    for a, b in zip(*grads, strict=True):
        th.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_sequence_batches_switch_the_extractor_back(small_market):
    model = rollout_model(small_market, dict(PAPER_CONFIG), StudentGruPolicy, SMALL_GRU, n_steps=4)
    extractor = model.policy.features_extractor
    with pytest.raises(RuntimeError), sequence_batches(model.policy, 3):
        assert extractor.sequences == 3
        raise RuntimeError
    assert extractor.sequences is None and extractor.last_bar is None


def test_a_sequence_that_starts_an_episode_inside_falls_back_to_sb3_contribs_path(small_market):
    """``evaluate_actions`` on each env's whole rollout as one sequence (episodes start inside it; no buffer of ours
    serves such sequences) is sb3-contrib's, bit for bit."""
    model = rollout_model(small_market, dict(PAPER_CONFIG), StudentGruPolicy, SMALL_GRU)
    buffer, policy = model.rollout_buffer, model.policy
    rows = {key: th.as_tensor(buffer.swap_and_flatten(value)) for key, value in buffer.observations.items()}
    actions = th.as_tensor(buffer.swap_and_flatten(buffer.actions)).long().flatten()
    starts = th.as_tensor(buffer.swap_and_flatten(buffer.episode_starts)).flatten()
    assert starts.view(buffer.n_envs, -1)[:, 1:].any()
    zeros = th.zeros(1, buffer.n_envs, policy.lstm_actor.hidden_size)
    states = type(model._last_lstm_states)((zeros, zeros), (zeros, zeros))
    with th.no_grad():
        ours = policy.evaluate_actions(rows, actions, states, starts)
        theirs = RecurrentActorCriticPolicy.evaluate_actions(policy, rows, actions, states, starts)
    for a, b in zip(ours, theirs, strict=True):
        assert th.equal(a, b)


def test_sequences_split_at_episode_starts_and_at_each_envs_rollout():
    starts = np.array([[1, 0, 0, 1, 0], [0, 0, 1, 0, 0]], dtype=np.float32)  # env by env
    sequences = split_sequences(starts.reshape(-1), n_envs=2)
    np.testing.assert_array_equal(sequences.start, [0, 3, 5, 7])
    np.testing.assert_array_equal(sequences.length, [3, 2, 2, 3])


def test_minibatches_hold_whole_sequences_about_batch_size_rows_each(small_market):
    model = rollout_model(small_market, dict(PAPER_CONFIG), StudentGruPolicy, SMALL_GRU, n_envs=8, n_steps=16)
    batches = list(model.rollout_buffer.get(32))
    valid = [int(batch.mask.sum()) for batch in batches]
    assert sum(valid) == 8 * 16
    assert all(v >= 32 - 8 for v in valid[:-1])  # a sequence joins the batch its first row falls in (<= 8 rows)
    width = [batch.mask.view(batch.lstm_states.pi[0].shape[1], -1) for batch in batches]
    assert all(((w[:, 1:] <= w[:, :-1]).all() and w[:, 0].all()) for w in width)  # valid rows first, padding after


def after_docstring(source: str) -> list[str]:
    """The lines of a function's source after its docstring."""
    first_statement = ast.parse(textwrap.dedent(source)).body[0].body[1]
    return source.splitlines()[first_statement.lineno - 1 :]


def test_the_copied_update_is_the_installed_sb3_contribs_line_for_line():
    """``_recurrent_ppo_train`` is ``RecurrentPPO.train``'s body plus one marked line: fails when sb3-contrib's
    changes, so a version bump is noticed (update the copy, then the pins in pyproject.toml)."""
    theirs = inspect.getsource(RecurrentPPO.train)
    ours = inspect.getsource(Learner._recurrent_ppo_train)
    hooks = [line for line in ours.splitlines() if line.endswith("# OPD hook")]
    assert len(hooks) == 1
    theirs_body, ours_body = after_docstring(theirs), after_docstring(ours)
    assert [line for line in ours_body if not line.endswith("# OPD hook")] == theirs_body
    assert any("loss = policy_loss + self.ent_coef" in line for line in theirs_body)


def test_the_networks_read_compact_samples(small_market):
    """The paper's network gets compact session observations; the LSTM network every row."""
    env = OrderExecutionVecEnv(2, data=small_market, **PAPER_CONFIG)
    gru = DistillRecurrentPPO(NETWORKS["gru"][0], env, distill_coef=0.0, policy_kwargs=NETWORKS["gru"][1], n_steps=8)
    lstm = DistillRecurrentPPO(NETWORKS["lstm"][0], env, distill_coef=0.0, policy_kwargs=NETWORKS["lstm"][1], n_steps=8)
    assert (gru.rollout_buffer.cumulative_key, lstm.rollout_buffer.cumulative_key) == ("public", None)
    assert gru.rollout_buffer.compact and lstm.rollout_buffer.compact
    plain = DistillRecurrentPPO("MultiInputLstmPolicy", env, distill_coef=0.0, n_steps=8)  # sb3-contrib's layout
    assert not plain.rollout_buffer.compact


def test_episodes_longer_than_a_minibatch_are_cut_and_no_minibatch_is_a_row(small_market):
    """One-minute steps: 240-decision episodes, longer than the 64-row minibatches. Sequences are cut every 64 rows
    (each cut part starts from its stored state), every minibatch holds 64 to 127 rows, and training stays finite (a
    minibatch of one row gave a NaN advantage std, then NaN parameters)."""
    env = OrderExecutionVecEnv(3, data=small_market, step_minutes=1)
    model = DistillRecurrentPPO(StudentLstmPolicy, env, distill_coef=0.0, n_steps=100, batch_size=64, n_epochs=2,
                                seed=0, policy_kwargs=dict(lstm_hidden_size=8, net_arch=[8]))  # fmt: skip
    model.learn(600)
    batches = list(model.rollout_buffer.get(64))
    sizes = [int(batch.mask.sum()) for batch in batches]
    assert sum(sizes) == 300 and all(64 <= size < 128 for size in sizes)
    assert max(batch.mask.view(batch.lstm_states.pi[0].shape[1], -1).shape[1] for batch in batches) <= 64
    assert all(th.isfinite(p).all() for p in model.policy.parameters())


def test_minibatches_never_hold_a_lone_row():
    from sb3_distill.buffers import Sequences, plan_minibatches

    sequences = Sequences(np.array([0, 127, 255, 256]), np.array([127, 128, 1, 56]))
    for seed in range(20):
        sizes = [int(sequences.length[b].sum()) for b in plan_minibatches(sequences, 128, np.random.default_rng(seed))]
        assert sum(sizes) == 312 and min(sizes) >= 64


def test_observations_that_are_not_cumulative_are_refused_not_misread(small_market):
    """VecNormalize(norm_obs=True) turns the future's zero rows into -mean/std: compact samples would misread them."""
    from stable_baselines3.common.vec_env import VecNormalize

    env = VecNormalize(OrderExecutionVecEnv(4, data=small_market, **PAPER_CONFIG), norm_obs=True, norm_obs_keys=["public"])
    model = DistillRecurrentPPO(StudentGruPolicy, env, distill_coef=0.0, n_steps=8, batch_size=32, policy_kwargs=SMALL_GRU)
    with pytest.raises(ValueError, match="not cumulative.*VecNormalize"):
        model.learn(32)
    model.rollout_buffer.compact = False  # the way out: every row, as sb3-contrib's buffer serves them
    model.learn(32)
