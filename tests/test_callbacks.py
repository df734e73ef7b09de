"""BestOnValidation: evaluates on the valid split during training and restores the best parameters."""

from __future__ import annotations

import pytest

from order_exec_gym.evaluation import evaluate
from sb3_distill.callbacks import BestOnValidation
from sb3_distill.training import train_ppo


def test_best_checkpoint_on_validation_is_restored(small_market):
    env_kwargs = {"data": small_market, "split": "train"}
    selector = BestOnValidation(small_market, "valid", {"alpha": 0.01}, eval_freq=256)
    model = train_ppo(env_kwargs, total_timesteps=1024, n_envs=4, recurrent=False, callback=selector, n_steps=64, batch_size=64)
    steps = [s for s, _ in selector.history]
    assert steps == sorted(steps) and len(steps) >= 4 and steps[-1] == model.num_timesteps
    assert selector.best_score == max(summary["mean_reward"] for _, summary in selector.history)
    assert all({"pa_mean", "glr", "n_orders"} <= set(summary) for _, summary in selector.history)  # learning curves
    assert evaluate(model, small_market, "valid").summary["mean_reward"] == selector.best_score


def test_the_validation_settings_are_an_execution_config(small_market):
    """(data, split, config) as everywhere: the settings are a config's fields, not the env's data or split."""
    assert BestOnValidation(small_market, config={"step_minutes": 10}).config.step_minutes == 10
    with pytest.raises(ValueError, match="data"):
        BestOnValidation(small_market, config={"data": small_market})


def test_training_log_keeps_every_updates_values(small_market):
    """One row per update, at the env steps of its rollout, with the update's own values (those the logger dumps)."""
    from stable_baselines3.common.logger import KVWriter, Logger

    from sb3_distill.callbacks import TrainingLog
    from sb3_distill.training import make_model

    class Records(KVWriter):
        def __init__(self):
            self.rows: list[dict] = []

        def write(self, key_values, key_excluded, step=0):
            self.rows.append(dict(key_values))

    model = make_model("recurrent_ppo", {"data": small_market, "split": "train"}, n_envs=4, n_steps=32, batch_size=64)
    records = Records()
    model.set_logger(Logger(None, [records]))
    log = TrainingLog()
    model.learn(4 * 32 * 3, callback=log)
    assert [steps for steps, _ in log.history] == [128, 256, 384]
    dumped = [row["train/entropy_loss"] for row in records.rows if "train/entropy_loss" in row]
    assert [values["train/entropy_loss"] for _, values in log.history][: len(dumped)] == dumped
    assert all(set(values) == {"train/entropy_loss", "train/approx_kl"} for _, values in log.history)  # no teacher


def test_the_trials_control_is_watched_by_its_teacher(small_market):
    """run_trial logs, for every learned agent, its updates; the students' and the control's hold L_d and the
    teacher agreement (the control's teacher watching), the teacher's only its entropy."""
    from sb3_distill.experiment import CONTROL, TEACHER, Experiment, run_trial

    experiment = Experiment({"alpha": 0.01}, steps=dict(teacher=256, student=256, ppo=256), n_envs=4, eval_freq=256)
    trial = run_trial(experiment, small_market, seed=0, verbose=False)
    watched = {"train/entropy_loss", "train/distill_loss", "train/teacher_agreement", "train/approx_kl"}
    for agent in (experiment.student(0.01), CONTROL):
        assert trial.log[agent]["train_history"] and all(set(v) == watched for _, v in trial.log[agent]["train_history"])
    assert all("train/distill_loss" not in v for _, v in trial.log[TEACHER]["train_history"])


def test_a_trials_agents_in_parallel_processes_equal_one_after_the_other(small_market):
    """parallel_agents trains the students, the control and DQN in other processes after the teacher (its model
    shipped as bytes): the same trial, result for result and log for log, as training them in this process."""
    import numpy as np

    from sb3_distill.experiment import Experiment, run_trial

    experiment = Experiment({"alpha": 0.01}, steps=dict(teacher=256, student=256, ppo=256, dqn=256), mus=(0.01, 1.0),
                            dqn=True, n_envs=4, eval_freq=128)  # fmt: skip
    one, two = (run_trial(experiment, small_market, seed=1, verbose=False, parallel_agents=n) for n in (1, 2))
    assert list(one.results) == list(two.results) == experiment.agents
    for agent in experiment.agents:
        assert one.results[agent].orders.equals(two.results[agent].orders), agent
        assert np.array_equal(one.results[agent].schedules, two.results[agent].schedules), agent
        ours, theirs = ({k: v for k, v in trial.log[agent].items() if k != "seconds"} for trial in (one, two))
        assert ours == theirs, agent
    assert len({one.results[agent].summary["pa_mean"] for agent in experiment.agents}) > 1  # the agents differ


def test_trials_are_kept_as_they_finish_and_bad_parallelism_is_refused(small_market, tmp_path, monkeypatch):
    """run_kept_trials writes each trial as soon as it is done, so a run that fails later keeps the finished seeds;
    parallel_agents below 1, or above a local Ray cluster's CPUs, is refused before anything trains."""
    from sb3_distill import experiment

    tiny = experiment.Experiment({"alpha": 0.01}, steps=dict(teacher=64, student=64, ppo=64), n_envs=4)

    def first_only(jobs, **options):
        (_, _, seed), = jobs
        if seed == 1:
            raise RuntimeError("seed 1 failed")
        return [experiment.Trial(seed, {}, {agent: {"train_history": []} for agent in tiny.agents})]

    monkeypatch.setattr(experiment, "run_trials", first_only)
    paths = [tmp_path / f"seed{seed}.pkl" for seed in (0, 1)]
    with pytest.raises(RuntimeError, match="seed 1 failed"):
        experiment.run_kept_trials([(tiny, small_market, 0), (tiny, small_market, 1)], paths)
    assert paths[0].is_file() and not paths[1].exists()
    assert experiment.load_trial(paths[0], tiny, 0).seed == 0
    monkeypatch.undo()
    with pytest.raises(ValueError, match="at least 1"):
        experiment.run_trial(tiny, small_market, seed=0, parallel_agents=0)
    with pytest.raises(ValueError, match="workers = 2"):
        experiment.run_trials([(tiny, small_market, 0)], ray=True, workers=2, parallel_agents=3)


def test_training_curves_over_seeds():
    """A training log against env steps over the seeds: signed (the entropy is minus the entropy loss), cut to the
    fewest updates, None where a seed never logged it, refused where the seeds' updates differ."""
    from sb3_distill.experiment import late_mean, late_means_text, training_curve

    first = [(128, {"train/entropy_loss": -1.5, "train/distill_loss": 2.0}), (256, {"train/entropy_loss": -1.0}),
             (384, {"train/entropy_loss": -0.5})]  # fmt: skip
    second = [(128, {"train/entropy_loss": -1.4}), (256, {"train/entropy_loss": -0.8})]
    entropy = training_curve([first, second], "entropy")
    assert entropy == {"steps": [128, 256], "values": [[1.5, 1.0], [1.4, 0.8]]}
    assert late_mean(entropy) == pytest.approx((1.0 + 0.8) / 2)  # the last tenth: here the last update
    assert late_means_text({"entropy": entropy, "L_d": None}) == "0.90, –, –"
    assert training_curve([first], "L_d") == {"steps": [128], "values": [[2.0]]}
    assert training_curve([first, second], "L_d") is None  # the second seed never logged it
    with pytest.raises(ValueError, match="different env steps"):
        training_curve([first, [(100, {"train/entropy_loss": -1.0})]], "entropy")
