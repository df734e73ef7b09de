"""DistillRecurrentPPO: exactly RecurrentPPO without distillation (and no teacher call), labels each stored row from
that row's observation, keeps the privileged observation out of its buffer, learns the teacher with it, never reads
the privileged observation, save/load, schedules, both action spaces and their logs, the policy aliases."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.logger import KVWriter, Logger
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.vector import OrderExecutionVectorEnv
from sb3_distill import (
    DistillRecurrentPPO,
    OracleTeacher,
    OrderExecutionVecEnv,
    PolicyTeacher,
    StudentGruPolicy,
    StudentLstmPolicy,
    TeacherPolicy,
)
from sb3_distill.buffers import LENGTH_KEY
from sb3_distill.policies import IgnoreKeysExtractor
from sb3_distill.training import make_model

th.set_num_threads(1)

TINY = dict(n_steps=16, batch_size=64, n_epochs=2, policy_kwargs=dict(lstm_hidden_size=16, net_arch=[16]))


def make_env(data: MarketDataset, n_envs: int = 4, seed: int = 0, **env_kwargs) -> OrderExecutionVecEnv:
    env = OrderExecutionVecEnv(n_envs, data=data, privileged=True, **env_kwargs)
    env.seed(seed)
    return env


def student_observations(data: MarketDataset, n: int = 6, steps: int = 3, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Observations of ``n`` orders over their first ``steps`` steps (TWAP actions)."""
    env = OrderExecutionVectorEnv(n, data=data, privileged=True)
    obs, _ = env.reset(seed=seed)
    sequence = [obs]
    for _ in range(steps - 1):
        obs, *_ = env.step(np.full(n, 2))
        sequence.append(obs)
    return sequence


def rollout_actions(model, sequence: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Deterministic actions of ``model`` along a sequence of batched observations, carrying its recurrent state."""
    state, start, actions = None, np.ones(len(sequence[0]["private"]), dtype=bool), []
    for obs in sequence:
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        actions.append(action)
        start = np.zeros_like(start)
    return np.stack(actions)


class Records(KVWriter):
    """Keeps every dump of an SB3 logger."""

    def __init__(self):
        self.rows: list[dict] = []

    def write(self, key_values, key_excluded, step=0):
        self.rows.append(dict(key_values))


def recorded(model) -> list[dict]:
    records = Records()
    model.set_logger(Logger(None, [records]))
    return records.rows


class Recorder:
    """A teacher that records every batch of observations it labels, and its labels."""

    def __init__(self, teacher):
        self.teacher = teacher
        self.calls: list[tuple[dict[str, np.ndarray], np.ndarray]] = []

    def __call__(self, observations):
        actions = self.teacher(observations)
        self.calls.append(({key: np.array(value) for key, value in observations.items()}, np.array(actions)))
        return actions


# -------------------------------------------------------------------------- one learner: mu = 0 is the control


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
@pytest.mark.parametrize("variant", ["mu=0", "schedule at 0"])
def test_without_distillation_the_updates_are_the_controls_bit_for_bit(small_market, action_type, variant):
    """mu = 0 (constant or a schedule) with a teacher trains exactly as no teacher at all, and never calls it
    (sb3-contrib's RecurrentPPO on the same episodes: tests/test_fast_learner.py)."""
    reference = DistillRecurrentPPO("StudentLstmPolicy", make_env(small_market, action_type=action_type), seed=3,
                                    teacher=None, distill_coef=0.0, **TINY)  # fmt: skip
    reference.learn(3 * 64)
    env = make_env(small_market, action_type=action_type)
    oracle = Recorder(OracleTeacher(env))
    mu = {"mu=0": 0.0, "schedule at 0": lambda _: 0.0}[variant]
    model = DistillRecurrentPPO("StudentLstmPolicy", env, teacher=oracle, distill_coef=mu, seed=3, **TINY)
    model.learn(3 * 64)
    expected, actual = reference.policy.state_dict(), model.policy.state_dict()
    assert expected.keys() == actual.keys()
    for name in expected:
        assert th.equal(expected[name], actual[name]), name
    assert oracle.calls == []  # no labelling cost either


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
def test_a_monitoring_teacher_is_logged_but_never_changes_the_control(small_market, action_type):
    """monitor_teacher=True at mu = 0: the teacher labels every rollout and L_d and the fit are logged for every
    update, and the parameters are the unmonitored control's bit for bit."""
    reference = DistillRecurrentPPO("StudentLstmPolicy", make_env(small_market, action_type=action_type), seed=3,
                                    distill_coef=0.0, **TINY)  # fmt: skip
    reference.learn(3 * 64)
    env = make_env(small_market, action_type=action_type)
    oracle = Recorder(OracleTeacher(env))
    model = DistillRecurrentPPO("StudentLstmPolicy", env, teacher=oracle, distill_coef=0.0, monitor_teacher=True,
                                seed=3, **TINY)  # fmt: skip
    rows = recorded(model)
    model.learn(3 * 64)
    expected, actual = reference.policy.state_dict(), model.policy.state_dict()
    for name in expected:
        assert th.equal(expected[name], actual[name]), name
    assert sum(len(labels) for _, labels in oracle.calls) == 3 * 64  # every step labelled
    fit = "train/teacher_distance" if action_type == "continuous" else "train/teacher_agreement"
    trained = [row for row in rows if "train/distill_coef" in row]  # SB3 dumps an update's values with the next rollout
    assert len(trained) == 2 and all(np.isfinite(row["train/distill_loss"]) and fit in row for row in trained)
    assert all(row["train/distill_coef"] == 0.0 for row in trained)


def test_a_monitored_control_loads_without_its_teacher_but_trains_only_with_one(small_market, tmp_path):
    """The teacher is not saved: a monitored control predicts after load without it, and learn asks for one."""
    env = make_env(small_market)
    model = DistillRecurrentPPO("StudentLstmPolicy", env, teacher=OracleTeacher(env), distill_coef=0.0,
                                monitor_teacher=True, seed=0, **TINY)  # fmt: skip
    model.learn(64)
    model.save(tmp_path / "control")
    loaded = DistillRecurrentPPO.load(tmp_path / "control")
    observation = student_observations(small_market)[0]
    np.testing.assert_array_equal(loaded.predict(observation, deterministic=True)[0],
                                  model.predict(observation, deterministic=True)[0])  # fmt: skip
    with pytest.raises(ValueError, match="monitor_teacher=True needs a teacher"):
        DistillRecurrentPPO.load(tmp_path / "control", env=make_env(small_market)).learn(64, reset_num_timesteps=False)
    with pytest.raises(ValueError, match="monitor_teacher=True needs a teacher"):
        make_model("recurrent_ppo", {"data": small_market, "split": "train"}, n_envs=4, monitor_teacher=True).learn(64)


def test_distillation_changes_the_updates(small_market):
    """The control of the test above: with mu > 0 the same run ends elsewhere."""
    reference = DistillRecurrentPPO(StudentLstmPolicy, make_env(small_market), teacher=None, distill_coef=0.0, seed=3, **TINY).learn(3 * 64)
    env = make_env(small_market)
    model = DistillRecurrentPPO("StudentLstmPolicy", env, teacher=OracleTeacher(env), distill_coef=0.01, seed=3, **TINY)
    model.learn(3 * 64)
    expected, actual = reference.policy.state_dict(), model.policy.state_dict()
    assert not th.equal(expected["action_net.weight"], actual["action_net.weight"])


# ---------------------------------------------------------------------------------------------- learning the teacher


class Tagged(VecEnvWrapper):
    """Writes a running row number into both the public and the privileged observation of every row it returns."""

    def __init__(self, venv: VecEnv):
        super().__init__(venv)
        self.rows = 0

    def tag(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        obs = {key: value.copy() for key, value in obs.items()}
        obs["public"][:, 0, 0] = obs["privileged"][:, 0, 0] = self.rows + np.arange(self.num_envs)
        self.rows += self.num_envs
        return obs

    def reset(self) -> dict[str, np.ndarray]:
        return self.tag(self.venv.reset())

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        return self.tag(obs), rewards, dones, infos


@pytest.mark.parametrize("label_batch_size", [1024, 24, 1])
def test_each_row_is_labelled_from_its_own_observation(small_market, label_batch_size):
    """Every valid row of every sequence minibatch carries the teacher's action on exactly that row's observation:
    the teacher returns the row number it reads in the privileged window, which the buffer does not keep, and the
    row's stored public observation holds the same number. Whatever the batches the teacher labels: the whole
    rollout of 64 rows at once, 24 rows (6 steps of 4 orders) then 24 then the last 16, or every step."""
    env = Tagged(make_env(small_market, action_type="continuous"))
    teacher = Recorder(lambda obs: np.asarray(obs["privileged"])[:, 0, :1].copy())
    model = DistillRecurrentPPO("StudentLstmPolicy", env, teacher=teacher, distill_coef=0.5, seed=0, **TINY)
    model.rollout_buffer.label_batch_size = label_batch_size
    model.learn(2 * 64)
    sizes = {1024: [64], 24: [24, 24, 16], 1: [4] * 16}[label_batch_size]
    assert [len(labels) for _, labels in teacher.calls] == 2 * sizes
    labels, tags = [], []
    for batch in model.rollout_buffer.get(24):
        mask = batch.mask > 0
        labels.append(batch.teacher_actions[mask][:, 0].numpy())
        tags.append(batch.observations["public"][mask][:, 0, 0].numpy())
    labels, tags = np.concatenate(labels), np.concatenate(tags)
    np.testing.assert_array_equal(labels, tags)
    np.testing.assert_array_equal(np.sort(tags), np.arange(64, 128))  # the second rollout's rows, each once


def test_the_rollout_buffer_holds_no_privileged_observation(small_market):
    env = make_env(small_market)
    model = DistillRecurrentPPO("StudentLstmPolicy", env, teacher=OracleTeacher(env), distill_coef=0.5, **TINY)
    model.learn(64)
    buffer = model.rollout_buffer
    assert set(buffer.observations) == set(buffer.observation_space.spaces) == {"private", "public"}
    assert all(set(batch.observations) == {"private", "public", LENGTH_KEY} for batch in buffer.get(24))


def held_out_agreement(model, teacher, data: MarketDataset, split: str, **env_kwargs) -> float:
    """Share of the student's (deterministic) decisions on every order of ``split`` where it takes the teacher's
    action, along the student's own trajectories."""
    env = OrderExecutionVectorEnv(len(data.split(split)), data=data, split=split, privileged=True, **env_kwargs)
    obs, _ = env.reset(seed=0)
    n = env.num_envs
    active, start, state = np.ones(n, dtype=bool), np.ones(n, dtype=bool), None
    same = total = 0
    while active.any():
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        same += int((action == teacher(obs))[active].sum())
        total += int(active.sum())
        obs, _, terminated, _, _ = env.step(action)
        active &= ~terminated
        start = np.zeros(n, dtype=bool)
    return same / total


def test_student_learns_a_teacher_it_can_follow(small_market):
    """With a teacher whose action the student can infer (sell 1.5x the TWAP rate when the last price is above the
    reference, 0.5x otherwise), distillation alone takes agreement on held-out days from chance to >= 0.9."""

    def teacher(obs):
        return np.where(np.asarray(obs["public"])[:, -1, 0] > 0, 3, 1)

    model = DistillRecurrentPPO(
        "StudentLstmPolicy", make_env(small_market, n_envs=8), teacher=teacher, distill_coef=100.0, learning_rate=3e-3,
        n_steps=32, batch_size=128, n_epochs=4, seed=0, policy_kwargs=dict(lstm_hidden_size=16, net_arch=[32]),
    )  # fmt: skip
    before = held_out_agreement(model, teacher, small_market, "test")
    rows = recorded(model)
    model.learn(8 * 32 * 25)
    after = held_out_agreement(model, teacher, small_market, "test")
    assert after >= 0.9, (before, after)
    assert rows[-1]["train/teacher_agreement"] >= 0.9


@pytest.mark.slow
def test_student_distils_the_oracle_on_the_synthetic_market():
    """Pure distillation of the exact oracle on the default synthetic market. The oracle acts on the future, which
    the student cannot see, so agreement stays far below 1: on the oracle's own trajectories its most frequent
    action is 33% of its decisions, and a policy that knew the step and the remaining quantity exactly (but nothing
    of the future) would agree on at most 51%. The student must rise from the untrained ~13% past the best constant
    policy (it reaches ~0.40-0.42 from 50k steps on, ~40 s on one core)."""
    data = MarketDataset.synthetic()
    env = make_env(data, n_envs=16)
    teacher = OracleTeacher(env)
    model = DistillRecurrentPPO(
        "StudentLstmPolicy", env, teacher=teacher, distill_coef=100.0, learning_rate=1e-3, n_steps=64,
        batch_size=256, n_epochs=4, seed=0, policy_kwargs=dict(lstm_hidden_size=64, net_arch=[64]),
    )  # fmt: skip
    before = held_out_agreement(model, teacher, data, "test")
    model.learn(60_000)
    after = held_out_agreement(model, teacher, data, "test")
    print(f"\noracle agreement on the test days: {before:.3f} -> {after:.3f}")
    assert before < 0.25
    assert after > 0.35


# -------------------------------------------------------------------------------------- the student cannot peek


@pytest.mark.parametrize("policy", ["StudentLstmPolicy", "StudentGruPolicy"])
def test_privileged_observation_never_changes_the_student(small_market, policy):
    env = make_env(small_market)
    model = DistillRecurrentPPO(policy, env, teacher=OracleTeacher(env), seed=0, **TINY)
    model.learn(64)
    sequence = student_observations(small_market)
    rng = np.random.default_rng(0)
    garbage = [{**obs, "privileged": rng.normal(0, 100, obs["privileged"].shape).astype("f4")} for obs in sequence]
    nan = [{**obs, "privileged": np.full_like(obs["privileged"], np.nan)} for obs in sequence]
    missing = [{key: value for key, value in obs.items() if key != "privileged"} for obs in sequence]
    expected = rollout_actions(model, sequence)
    for variant in (garbage, nan, missing):
        np.testing.assert_array_equal(rollout_actions(model, variant), expected)
    # the whole distribution and the value, not only the argmax
    obs, _ = model.policy.obs_to_tensor(sequence[1])
    peek, _ = model.policy.obs_to_tensor(garbage[1])
    states = (th.zeros(1, 6, 16), th.zeros(1, 6, 16))
    starts = th.ones(6)
    with th.no_grad():
        for method in ("get_distribution", "predict_values"):
            a = getattr(model.policy, method)(obs, states, starts)
            b = getattr(model.policy, method)(peek, states, starts)
            a, b = (a[0].distribution.logits, b[0].distribution.logits) if method == "get_distribution" else (a, b)
            assert th.equal(a, b)


class Truncating(VecEnvWrapper):
    """Reports every episode's end as a time limit, so that RecurrentPPO bootstraps from the terminal observation."""

    def __init__(self, venv: VecEnv):
        super().__init__(venv)
        self.terminal_observations: list[dict[str, np.ndarray]] = []

    def reset(self) -> dict[str, np.ndarray]:
        return self.venv.reset()

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        for info in (info for done, info in zip(dones, infos, strict=True) if done):
            info["TimeLimit.truncated"] = True
            self.terminal_observations.append(info["terminal_observation"])
        return obs, rewards, dones, infos


def test_truncated_episodes_bootstrap_from_the_whole_terminal_observation(small_market):
    env = Truncating(make_env(small_market))
    model = DistillRecurrentPPO("StudentLstmPolicy", env, teacher=OracleTeacher(env), distill_coef=0.5, seed=0, **TINY)
    model.learn(64)
    assert env.terminal_observations and all("privileged" in obs for obs in env.terminal_observations)


def test_a_student_that_reads_the_privileged_key_is_refused(small_market):
    with pytest.raises(ValueError, match="reads the privileged observation"):
        DistillRecurrentPPO("MultiInputLstmPolicy", make_env(small_market), **TINY)


def test_a_teacher_needs_the_privileged_observation(small_market):
    env = OrderExecutionVecEnv(4, data=small_market)
    with pytest.raises(ValueError, match="privileged=True"):
        DistillRecurrentPPO("StudentLstmPolicy", env, teacher=OracleTeacher(env), **TINY)


# ----------------------------------------------------------------------------------------------------- save / load


def test_save_load_with_and_without_teacher(small_market, tmp_path):
    env = make_env(small_market)
    teacher = OracleTeacher(env)
    schedule = lambda progress: 0.1 * progress  # noqa: E731
    model = DistillRecurrentPPO("StudentLstmPolicy", env, teacher=teacher, distill_coef=schedule, seed=0, **TINY)
    model.learn(64)
    model.save(tmp_path / "student")
    sequence = student_observations(small_market)
    expected = rollout_actions(model, sequence)

    alone = DistillRecurrentPPO.load(tmp_path / "student")
    assert alone.teacher is None
    np.testing.assert_array_equal(rollout_actions(alone, sequence), expected)
    missing = [{key: value for key, value in obs.items() if key != "privileged"} for obs in sequence]
    np.testing.assert_array_equal(rollout_actions(alone, missing), expected)

    taught = DistillRecurrentPPO.load(tmp_path / "student", env=make_env(small_market), teacher=teacher)
    assert taught.teacher is teacher
    assert taught.distill_coef(0.5) == pytest.approx(0.05)
    np.testing.assert_array_equal(rollout_actions(taught, sequence), expected)
    rows = recorded(taught)
    taught.learn(128, reset_num_timesteps=False)
    assert any("train/distill_loss" in row for row in rows)


@pytest.mark.parametrize("given", ["oracle", "PPO", "Teacher"])
def test_load_takes_every_teacher_train_student_takes(small_market, tmp_path, given):
    """A trained model, a Teacher or "oracle", as train_student takes them; the student then distils from it."""
    env = make_env(small_market)
    DistillRecurrentPPO("StudentLstmPolicy", env, teacher=OracleTeacher(env), seed=0, **TINY).learn(64).save(tmp_path / "s")
    if given == "PPO":
        teacher = PPO(TeacherPolicy, make_env(small_market), n_steps=16, batch_size=32).learn(64)
    else:
        teacher = "oracle" if given == "oracle" else OracleTeacher(env)
    loaded = DistillRecurrentPPO.load(tmp_path / "s", env=make_env(small_market), teacher=teacher)
    assert isinstance(loaded.teacher, {"oracle": OracleTeacher, "PPO": PolicyTeacher, "Teacher": OracleTeacher}[given])
    rows = recorded(loaded)
    loaded.learn(128, reset_num_timesteps=False)
    assert any("train/distill_loss" in row for row in rows)


def test_load_says_what_a_teacher_needs(small_market, tmp_path):
    env = make_env(small_market)
    DistillRecurrentPPO("StudentLstmPolicy", env, teacher=OracleTeacher(env), seed=0, **TINY).learn(64).save(tmp_path / "s")
    with pytest.raises(ValueError, match="needs the env"):
        DistillRecurrentPPO.load(tmp_path / "s", teacher=OracleTeacher(env))
    with pytest.raises(ValueError, match="teacher must be"):
        DistillRecurrentPPO.load(tmp_path / "s", env=env, teacher="orcale")
    without = DistillRecurrentPPO.load(tmp_path / "s", env=make_env(small_market))
    with pytest.raises(ValueError, match="no teacher"):  # a student never trains on silently as its own control
        without.learn(64, reset_num_timesteps=False)
    without.distill_coef = lambda _: 0.0  # the control's choice, made explicitly
    without.learn(64, reset_num_timesteps=False)


# --------------------------------------------------------------------------------------------- schedules and spaces


def test_distill_coef_schedule(small_market):
    env = make_env(small_market)
    schedule = lambda progress: 0.0 if progress < 0.5 else 2.0 * progress  # noqa: E731
    recorder = Recorder(OracleTeacher(env))
    model = DistillRecurrentPPO("StudentLstmPolicy", env, teacher=recorder, distill_coef=schedule, seed=0, **TINY)
    rows = recorded(model)
    model.learn(6 * 64)
    trained = [row for row in rows if "train/distill_coef" in row]
    coefs = [row["train/distill_coef"] for row in trained]
    assert len(coefs) == 5
    assert coefs[0] == pytest.approx(2.0 * (1 - 1 / 6)) and coefs[1] == pytest.approx(2.0 * (1 - 2 / 6))
    assert coefs[-1] == 0.0
    assert ["train/distill_loss" in row for row in trained] == [coef > 0 for coef in coefs]
    # the teacher labels only the rollouts whose update distils: the first three (mu = 5/3, 4/3, 1), 64 rows each
    assert [len(labels) for _, labels in recorder.calls] == [64, 64, 64]


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
@pytest.mark.parametrize("policy", ["StudentLstmPolicy", "StudentGruPolicy"])
def test_both_action_spaces_train(small_market, action_type, policy):
    env = make_env(small_market, action_type=action_type)
    model = DistillRecurrentPPO(policy, env, teacher=OracleTeacher(env), distill_coef=1.0, seed=0, **TINY)
    rows = recorded(model)
    model.learn(3 * 64)
    row = [row for row in rows if "train/distill_loss" in row][-1]
    assert np.isfinite(row["train/distill_loss"])
    # discrete: the share of rows where the student's mode is the teacher's action; continuous: the mean |a - a~| of
    # ratios in [0, 1]
    fit, other = "train/teacher_agreement", "train/teacher_distance"
    if action_type == "continuous":
        fit, other = other, fit
    assert 0.0 <= row[fit] <= 1.0
    assert not any(other in row for row in rows)
    action, _ = model.predict(student_observations(small_market)[0], deterministic=True)
    assert action.shape == ((6,) if action_type == "discrete" else (6, 1))


def test_policy_teacher_over_a_tiny_ppo_teacher(small_market):
    env = make_env(small_market)
    ppo = PPO(TeacherPolicy, env, n_steps=16, batch_size=32, n_epochs=1, seed=0).learn(64)
    teacher = PolicyTeacher(ppo)
    obs = student_observations(small_market)[1]
    expected, _ = ppo.predict(obs, deterministic=True)
    np.testing.assert_array_equal(teacher(obs), expected)
    np.testing.assert_array_equal(teacher({key: th.as_tensor(value) for key, value in obs.items()}), expected)
    np.testing.assert_array_equal(teacher({**obs, "extra": np.zeros(6)}), expected)
    model = DistillRecurrentPPO("StudentLstmPolicy", env, teacher=teacher, distill_coef=1.0, seed=0, **TINY)
    rows = recorded(model)
    model.learn(3 * 64)
    assert any("train/teacher_agreement" in row for row in rows)


# ------------------------------------------------------------------------------------------------ policy aliases


def test_policy_aliases(small_market):
    env = make_env(small_market)
    lstm = DistillRecurrentPPO("StudentLstmPolicy", env, **TINY)
    gru = DistillRecurrentPPO("StudentGruPolicy", env, **TINY)
    assert type(lstm.policy) is StudentLstmPolicy and type(gru.policy) is StudentGruPolicy
    assert isinstance(lstm.policy.lstm_actor, th.nn.LSTM) and isinstance(gru.policy.lstm_actor, th.nn.GRU)
    assert isinstance(lstm.policy.features_extractor, IgnoreKeysExtractor)
    assert set(lstm.policy.features_extractor.extractors) == {"private", "public"}
    # the recurrent state shapes sb3-contrib expects are unchanged with GRU cells
    assert gru._last_lstm_states.pi[0].shape == (1, 4, 16)
    teacher = PPO(TeacherPolicy, env, n_steps=16, batch_size=32)
    assert set(teacher.policy.features_extractor.extractors) == {"private", "privileged", "public"}
    with pytest.raises(ValueError, match="privileged=True"):
        PPO(TeacherPolicy, OrderExecutionVecEnv(2, data=small_market))


# ------------------------------------------------------------------------------------------- the paper's network


def test_sequence_extractor_reads_the_latest_bar_of_the_public_sequence(small_market):
    from order_exec_gym import PAPER_CONFIG
    from order_exec_gym.task import ExecutionTask
    from sb3_distill.policies import SequenceExtractor

    session = ExecutionTask(small_market, config=PAPER_CONFIG, num_orders=3)
    lookback = ExecutionTask(data=small_market, num_orders=3)
    th.manual_seed(0)
    masked, plain = SequenceExtractor(session.observation_space), SequenceExtractor(lookback.observation_space)
    assert (masked.masked, masked.pool_bars, plain.masked, plain.pool_bars) == (True, 30, False, 2)
    session.reset(session.sample(3, np.random.default_rng(0)))
    for _ in range(2):
        session.sim.step(np.full(3, 0.25))
    obs = {key: th.as_tensor(value) for key, value in session.observe().items()}
    with th.no_grad():
        features = masked(obs)
        assert features.shape == (3, 32 + 4) and th.equal(features[:, 32:], obs["private"])
        # today's first 60 bars are in the past (row 240 on): groups after the 10th of 30 bars never count
        later = {**obs, "public": obs["public"].clone()}
        later["public"][:, 300:, :-1] = 5.0
        assert th.equal(masked(later), features)
        earlier = {**obs, "public": obs["public"].clone()}
        earlier["public"][:, 250, 0] += 1.0
        assert not th.equal(masked(earlier), features)


@pytest.mark.parametrize(("length", "masked"), [(50, False), (780, True), (30, False), (480, True)])
def test_sequence_extractor_sees_the_newest_bar_whatever_the_length(length, masked):
    """Sequences that do not divide into whole groups (50 bars in groups of 4, two 390-bar US sessions in groups of
    49) still reach the newest bar."""
    from gymnasium import spaces

    from order_exec_gym.task import public_space
    from sb3_distill.policies import SequenceExtractor

    space = spaces.Dict({"private": spaces.Box(0, 1, (4,)), "public": public_space((length, 5), masked=masked)})
    th.manual_seed(0)
    extractor = SequenceExtractor(space)
    assert extractor.masked == masked
    public = th.randn(2, length, 5)
    newest = length - 1
    if masked:  # yesterday whole, today up to one bar before its end
        newest = length - 2
        public[:, newest + 1 :] = 0.0
        public[:, : newest + 1, -1] = 1.0
    obs = {"private": th.rand(2, 4), "public": public}
    with th.no_grad():
        features = extractor(obs)
        changed = {**obs, "public": public.clone()}
        changed["public"][:, newest, 0] += 1.0
        assert not th.equal(extractor(changed), features)


def test_the_paper_network_is_the_students_and_its_controls(small_market):
    from order_exec_gym import PAPER_CONFIG
    from sb3_distill.policies import SequenceExtractor
    from sb3_distill.training import train

    tiny = dict(total_timesteps=64, n_envs=4, n_steps=16, batch_size=64, n_epochs=1, network="gru")
    env_kwargs = {"data": small_market, **PAPER_CONFIG}
    student = train("student", env_kwargs, teacher="oracle", **tiny)
    control = train("recurrent_ppo", env_kwargs, **tiny)
    assert type(student.policy) is type(control.policy) is StudentGruPolicy
    assert isinstance(student.policy.features_extractor, SequenceExtractor)
    shapes = {name: p.shape for name, p in student.policy.state_dict().items()}
    assert shapes == {name: p.shape for name, p in control.policy.state_dict().items()}
    rng = np.random.default_rng(1)
    env = OrderExecutionVectorEnv(4, data=small_market, **PAPER_CONFIG.replace(privileged=True))
    obs, _ = env.reset(seed=0)
    sequence = [obs, env.step(np.full(4, 1))[0]]
    garbage = [{**o, "privileged": rng.normal(0, 100, o["privileged"].shape).astype("f4")} for o in sequence]
    np.testing.assert_array_equal(rollout_actions(student, garbage), rollout_actions(student, sequence))
