"""Experiments on oracle policy distillation: train one seed's agents, evaluate them, compare agents over seeds and days.

One trial (:func:`run_trial`) trains, for one seed, the privileged teacher, an OPD student per distillation
coefficient mu (distilled from that seed's teacher), the same network without distillation (recurrent PPO: the
student's learner at mu = 0, the control) and optionally DQN, each with its checkpoint chosen on the valid split only
(:class:`~sb3_distill.callbacks.BestOnValidation`), and evaluates them on every order of the test split; the agents
after the teacher are independent given it, so they can train in parallel processes. Trials are independent too:
:func:`run_trials` runs them one after the other, or as Ray Tune trials on a local cluster or an existing one;
:func:`run_kept_trials` keeps each finished trial in a folder (:func:`trial_path`) and takes it back in a later run,
so seeds can be added one run at a time. :func:`compare_runs` pools the seeds' orders per agent and gives paired
bootstrap intervals of the PA difference to reference agents, resampling orders, days, and seeds and days together.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList

from order_exec_gym.config import ExecutionConfig
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.evaluation import EvaluationResult, check_same_orders, evaluate, start_ray, step_pa
from order_exec_gym.metrics import (
    paired_bootstrap_ci,
    schedule_profile,
    seed_day_bootstrap_ci,
    shuffled_shares_pa,
    summarize,
)
from sb3_distill.callbacks import BestOnValidation, TrainingLog
from sb3_distill.teachers import PolicyTeacher
from sb3_distill.training import quick_mode, train

TEACHER, CONTROL, DQN_NAME = "teacher (privileged)", "RecurrentPPO (no distillation)", "DQN"


#: The training logs the experiments report, by label: the update's key (:class:`~sb3_distill.callbacks.TrainingLog`)
#: and the sign it is reported with (the entropy is the policy's, the negative of SB3's entropy loss). Discrete
#: actions only: with ``Box`` actions the fit is ``train/teacher_distance``.
TRAINING_LOGS: dict[str, tuple[str, float]] = {
    "entropy": ("train/entropy_loss", -1.0), "L_d": ("train/distill_loss", 1.0),
    "agreement": ("train/teacher_agreement", 1.0),
}  # fmt: skip


def training_curve(histories: list[list[tuple[int, dict[str, float]]]], label: str) -> dict[str, list] | None:
    """One training log of :data:`TRAINING_LOGS` against env steps over the seeds' updates: ``{"steps": (K,),
    "values": (S, K)}``.

    :param histories: each seed's ``train_history`` (:class:`~sb3_distill.callbacks.TrainingLog`); the seeds' updates
        that logged it must come at the same env steps
    :return: the curve over the K first such updates; None where a seed's updates never logged it
    """
    key, sign = TRAINING_LOGS[label]
    logged = [[(steps, values[key]) for steps, values in history if key in values] for history in histories]
    if not logged or not all(logged):
        return None
    n = min(map(len, logged))
    steps = [[steps for steps, _ in seed[:n]] for seed in logged]
    if any(other != steps[0] for other in steps):
        raise ValueError(f"the seeds logged {key!r} at different env steps: they trained with different rollouts")
    return {"steps": steps[0], "values": [[sign * value for _, value in seed[:n]] for seed in logged]}


def late_mean(curve: dict[str, list]) -> float:
    """A :func:`training_curve`'s mean over the seeds and the last tenth of the updates (where training ended)."""
    values = np.asarray(curve["values"])
    return float(values[:, -max(1, values.shape[1] // 10) :].mean())


def late_means_text(curves: dict[str, dict[str, list] | None]) -> str:
    """The :func:`late_mean` of each training log of :data:`TRAINING_LOGS` in ``curves`` (label -> curve), in that
    order, for a table cell: ``"0.31, 0.62, 0.76"``; "–" for a log that is missing or None."""
    return ", ".join(f"{late_mean(curve):.2f}" if (curve := curves.get(label)) else "–" for label in TRAINING_LOGS)


@dataclass(frozen=True)
class Experiment:
    """The agents of a trial and how they are trained.

    :param config: the env settings of every agent (an :class:`ExecutionConfig` or a mapping of its fields; the
        market and the split are the trial's)
    :param steps: training steps of ``"teacher"``, ``"student"`` (each), ``"ppo"`` (the control) and ``"dqn"``
    :param mus: the students' distillation coefficients, one student each; the control (mu = 0) is always trained
    :param network: the recurrent network of the students and the control (:data:`sb3_distill.training.NETWORKS`)
    :param dqn: train DQN too
    :param n_envs: orders stepped in parallel while training
    :param eval_freq: env steps between evaluations on the valid split
    :param select: the valid split's metric that chooses the checkpoint (a key of the evaluation's summary)
    """

    config: ExecutionConfig
    steps: dict[str, int]
    mus: tuple[float, ...] = (0.01,)
    network: str = "lstm"
    dqn: bool = False
    n_envs: int = 32
    eval_freq: int = 50_000
    select: str = "mean_reward"

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", ExecutionConfig.from_kwargs(self.config))

    def student(self, mu: float) -> str:
        """The name of the student distilled with ``mu``."""
        return "OPD student" if len(self.mus) == 1 else f"OPD student (μ = {mu:g})"

    @property
    def agents(self) -> list[str]:
        """The learned agents of a trial, in training order."""
        return [TEACHER, *(self.student(mu) for mu in self.mus), CONTROL, *([DQN_NAME] if self.dqn else [])]


@dataclass
class Trial:
    """One seed's agents evaluated on the test split.

    :param seed: the training seed
    :param results: each agent's evaluation on every order of the test split
    :param log: per agent: training seconds, steps, the step of the chosen checkpoint, the valid-split history
        (``(timesteps, summary)`` of every evaluation: the learning curve) and the training history (``(timesteps,
        values)`` after every update of :class:`~sb3_distill.callbacks.TrainingLog`: the policy's entropy loss and,
        for the students and the control, which the teacher watches without teaching, ``L_d`` and the teacher fit)
    """

    seed: int
    results: dict[str, EvaluationResult]
    log: dict[str, dict[str, Any]]


def train_agent(
    experiment: Experiment, market: MarketDataset, seed: int, name: str, kind: str, steps: int, verbose: bool = True,
    **kwargs: Any,
) -> tuple[BaseAlgorithm, dict[str, Any]]:  # fmt: skip
    """Train the agent ``name`` (a :func:`~sb3_distill.training.train` ``kind``, its ``kwargs``) for ``seed`` on the
    train split of ``market``, its checkpoint chosen on the valid split: the model and its log (:class:`Trial`)."""
    selector = BestOnValidation(market, "valid", experiment.config, experiment.eval_freq, metric=experiment.select, seed=seed)
    updates = TrainingLog()
    started = time.perf_counter()
    model = train(kind, {**experiment.config, "data": market, "split": "train"}, total_timesteps=steps, seed=seed,
                  n_envs=experiment.n_envs, callback=CallbackList([selector, updates]), **kwargs)  # fmt: skip
    seconds = time.perf_counter() - started
    if verbose:
        print(f"  seed {seed} {name}: {seconds:.0f} s, best valid {experiment.select} at {selector.best_timesteps:,} steps",
              flush=True)  # fmt: skip
    return model, {"seconds": seconds, "steps": steps, "selected_at": selector.best_timesteps,
                   "valid_history": selector.history, "train_history": updates.history}  # fmt: skip


def taught_agents(experiment: Experiment) -> list[tuple[str, str, int, dict[str, Any]]]:
    """The agents of a trial trained after its teacher, in training order: ``(name, kind, steps, kwargs)``; the
    students learn from the teacher, the control is watched by it (``teacher=`` is added to the students' and the
    control's kwargs), DQN never sees it."""
    steps, network = experiment.steps, experiment.network
    agents = [(experiment.student(mu), "student", steps["student"], dict(distill_coef=mu, network=network))
              for mu in experiment.mus]  # fmt: skip
    agents.append((CONTROL, "recurrent_ppo", steps["ppo"], dict(network=network, monitor_teacher=True)))
    if experiment.dqn:
        agents.append((DQN_NAME, "dqn", steps["dqn"], {}))
    return agents


def train_and_test(
    experiment: Experiment, market: MarketDataset, seed: int, agent: tuple[str, str, int, dict[str, Any]],
    teacher: PolicyTeacher | tuple[bytes, str], verbose: bool = True,
) -> tuple[dict[str, Any], EvaluationResult]:  # fmt: skip
    """Train one of :func:`taught_agents` (:func:`train_agent`) and evaluate it on the test split: its log and its
    result. ``teacher``: the trial's teacher, or (in another process) its model saved to bytes and its device."""
    if isinstance(teacher, tuple):
        saved, device = teacher
        teacher = PolicyTeacher(PPO.load(io.BytesIO(saved), device=device))
    name, kind, steps, kwargs = agent
    model, log = train_agent(experiment, market, seed, name, kind, steps, verbose,
                             **kwargs, **({"teacher": teacher} if kind != "dqn" else {}))  # fmt: skip
    return log, evaluate(model, market, "test", config=experiment.config)


def run_trial(
    experiment: Experiment, market: MarketDataset, seed: int, verbose: bool = True, parallel_agents: int = 1
) -> Trial:
    """Train the experiment's agents for ``seed`` on the train split of ``market``, each selected on the valid split,
    and evaluate them on the test split.

    :param parallel_agents: processes that train the agents after the teacher (:func:`taught_agents`: independent
        given the teacher), at most one per agent; 1: one after the other in this process. The trial is the same
        either way (each agent is seeded with ``seed`` and trains with one torch thread).
    """
    if parallel_agents < 1:
        raise ValueError(f"parallel_agents must be at least 1, got {parallel_agents}")
    teacher_model, teacher_log = train_agent(experiment, market, seed, TEACHER, "teacher", experiment.steps["teacher"], verbose)
    log, results = {TEACHER: teacher_log}, {TEACHER: evaluate(teacher_model, market, "test", config=experiment.config)}
    agents = taught_agents(experiment)
    if parallel_agents > 1:
        saved = io.BytesIO()
        teacher_model.save(saved)
        shipped = (saved.getvalue(), str(teacher_model.device))
        pool = ProcessPoolExecutor(min(parallel_agents, len(agents)), mp_context=multiprocessing.get_context("spawn"))
        try:
            futures = [pool.submit(train_and_test, experiment, market, seed, agent, shipped, verbose) for agent in agents]
            done = [future.result() for future in futures]
        finally:  # an agent that fails stops the others that have not started
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        teacher = PolicyTeacher(teacher_model)
        done = [train_and_test(experiment, market, seed, agent, teacher, verbose) for agent in agents]
    for (name, *_), (agent_log, result) in zip(agents, done, strict=True):
        log[name], results[name] = agent_log, result
    return Trial(seed, results, log)


def run_trials(
    jobs: list[tuple[Experiment, MarketDataset, int]],
    ray: bool = False,
    address: str | None = None,
    workers: int = 2,
    storage: str | None = None,
    parallel_agents: int = 1,
) -> list[Trial]:
    """:func:`run_trial` for every ``(experiment, market, seed)`` job, in the jobs' order.

    :param ray: run the jobs as Ray Tune trials, ``parallel_agents`` CPUs each, as many at once as the cluster has
        CPUs for; without, one after the other in this process
    :param address: the Ray cluster to use (``"auto"`` or ``"ray://host:10001"``); None: a local cluster of
        ``workers`` CPUs (or the one ``RAY_ADDRESS`` names)
    :param workers: CPUs of the local cluster
    :param storage: where Tune keeps the trials' results (``RunConfig.storage_path``); on a cluster of several
        machines, a path every node reaches (e.g. ``s3://bucket/path``); None: a temporary local directory
    :param parallel_agents: processes of each trial for its agents after the teacher (:func:`run_trial`); with Ray,
        each trial holds that many CPUs for its whole run, also while its teacher trains on one: with several seeds,
        one CPU per trial keeps the cluster busier
    """
    if not ray:
        return [run_trial(experiment, market, seed, parallel_agents=parallel_agents) for experiment, market, seed in jobs]
    if address is None and not 1 <= parallel_agents <= workers:
        raise ValueError(f"each trial holds parallel_agents = {parallel_agents} CPUs: give the local cluster at least that "
                         f"many (workers = {workers}), and at least 1")  # fmt: skip
    import tempfile

    from ray import tune

    start_ray(workers, address)

    def trainable(config: dict[str, Any], jobs: list[tuple[Experiment, MarketDataset, int]]) -> None:
        experiment, market, seed = jobs[config["job"]]
        trial = run_trial(experiment, market, seed, verbose=False, parallel_agents=parallel_agents)
        with tempfile.TemporaryDirectory() as directory:
            with open(Path(directory) / "trial.pkl", "wb") as file:
                pickle.dump(trial, file)
            tune.report({"seed": seed}, checkpoint=tune.Checkpoint.from_directory(directory))

    with tempfile.TemporaryDirectory() as local:
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(trainable, jobs=jobs), {"cpu": parallel_agents}),  # markets in the object store
            param_space={"job": tune.grid_search(list(range(len(jobs))))},
            run_config=tune.RunConfig(storage_path=storage or local, verbose=0),
        )
        results = tuner.fit()
        trials = {}
        for result in results:
            if result.error is not None:
                raise RuntimeError(f"trial {result.config} failed") from result.error
            with result.checkpoint.as_directory() as directory, open(Path(directory) / "trial.pkl", "rb") as file:
                trials[result.config["job"]] = pickle.load(file)
    return [trials[job] for job in range(len(jobs))]


def trial_path(folder: Path, name: str, seed: int, settings: tuple) -> Path:
    """Where the finished trial ``name`` with ``seed`` is kept in ``folder``: named by a digest of ``settings`` (what
    the trial depends on besides the code, e.g. the market's options and the :class:`Experiment`), the seed and the
    quick switch when it is on (a smoke run's trial is never taken for a full one). The code is not in the digest:
    after changing the training code, empty the folder."""
    digest = (*settings, seed) + (("quick",) if quick_mode() else ())
    return Path(folder) / f"{name}-seed{seed}-{hashlib.sha256(repr(digest).encode()).hexdigest()[:16]}.pkl"


def load_trial(path: Path, experiment: Experiment, seed: int) -> Trial:
    """A kept trial, checked to be ``seed``'s with every agent of ``experiment`` and its training logs."""
    trial = pickle.loads(Path(path).read_bytes())
    agents = experiment.agents
    if trial.seed != seed or any("train_history" not in trial.log.get(agent, {}) for agent in agents):
        raise ValueError(f"{path} is not a trial of seed {seed} with the training logs of {agents}: delete it")
    return trial


def replace_file(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` at once (a temporary file renamed over it), so that other processes never read
    half a file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_bytes(content if isinstance(content, bytes) else content.encode())
    partial.replace(path)


def run_kept_trials(
    jobs: list[tuple[Experiment, MarketDataset, int]], paths: list[Path] | None, **options: Any
) -> tuple[list[Trial], int]:
    """:func:`run_trials` for the jobs whose trial is not kept yet, and how many were kept.

    :param paths: per job, where its trial is kept (:func:`trial_path`): a kept one is loaded (:func:`load_trial`)
        instead of trained, a new one is written there as soon as it is done (with Ray, when every trial is);
        None: keep nothing
    :param options: :func:`run_trials`' options (``ray``, ``address``, ``workers``, ``storage``, ``parallel_agents``)
    """
    paths = paths if paths is not None else [None] * len(jobs)
    if len(paths) != len(jobs):
        raise ValueError(f"{len(jobs)} jobs and {len(paths)} paths to keep them")
    trials = {i: load_trial(path, jobs[i][0], jobs[i][2]) for i, path in enumerate(paths) if path is not None and path.is_file()}
    todo = [i for i in range(len(jobs)) if i not in trials]
    batches = [todo] if options.get("ray") else [[i] for i in todo]  # one Tune run for all, else one at a time
    for batch in batches:
        if not batch:
            continue
        for i, trial in zip(batch, run_trials([jobs[i] for i in batch], **options), strict=True):
            trials[i] = trial
            if paths[i] is not None:
                paths[i].parent.mkdir(parents=True, exist_ok=True)
                replace_file(paths[i], pickle.dumps(trial))
    return [trials[i] for i in range(len(jobs))], len(jobs) - len(todo)


def peak_rss_gib() -> float:
    """The peak RSS (GiB) of this process or, if larger, of its largest finished child (the agent processes of
    :func:`run_trial`; Ray's workers are not this process's children and are not counted). Unix only."""
    import resource

    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 2**20


def how_run(ray: bool, workers: int, address: str | None, parallel_agents: int) -> str:
    """How :func:`run_trials` ran the trials, in words, for the experiments' pages."""
    where = ("Ray Tune on " + (f"a cluster ({address})" if address else f"a local cluster of {workers} CPUs")) if ray else "one trial at a time"
    agents = "one process per trial" if parallel_agents == 1 else f"{parallel_agents} processes per trial after its teacher"
    return f"{where}, {agents}" + ("; peak RSS of the driver only" if ray else "")


def compare_runs(
    results: dict[str, list[EvaluationResult]], references: tuple[str, ...] = ("TWAP", CONTROL)
) -> list[dict[str, Any]]:
    """One row per agent (its runs: one per seed, or one for a deterministic baseline), on the same orders.

    A row holds the metrics of the agent's orders pooled over its runs (:func:`~order_exec_gym.metrics.summarize`),
    the shape of their schedules (:func:`~order_exec_gym.metrics.schedule_profile`: ``one_step_share``,
    ``step_shares``) and, where every order has the same number of steps (:func:`~order_exec_gym.evaluation.step_pa`),
    ``shuffled_pa``: the PA of the same schedules given to the orders at random
    (:func:`~order_exec_gym.metrics.shuffled_shares_pa`),
    ``n_seeds``, ``n_orders``, ``seed_pa`` (the mean PA of each run) and, for each reference agent present, under
    ``vs_<reference>``: the paired bootstrap interval ``(difference, low, high)`` of the seed-averaged PA per order
    resampling ``orders``, ``days``, and ``seeds_days`` (seeds and days together: the runs are paired by seed when
    both agents have one per seed, a single run is paired with every seed).
    """
    first_name, first_runs = next(iter(results.items()))
    days = first_runs[0].orders["date"].to_numpy()
    for name, runs in results.items():
        for run in runs:
            check_same_orders(run, first_runs[0], name, first_name)
    pa = {name: np.stack([run.orders["price_advantage"].to_numpy() for run in runs]) for name, runs in results.items()}
    every_step = step_pa([run for runs in results.values() for run in runs])
    rows = []
    for name, runs in results.items():
        reward = np.concatenate([run.orders["reward"].to_numpy() for run in runs])
        schedules = np.concatenate([run.schedules for run in runs])
        row: dict[str, Any] = {"agent": name, **summarize(pa[name].ravel(), reward), "n_seeds": len(runs)}
        row |= schedule_profile(schedules)
        if every_step is not None:
            row["shuffled_pa"] = shuffled_shares_pa(schedules, np.tile(every_step, (len(runs), 1)))
        row["n_orders"] = pa[name].shape[1]
        row["seed_pa"] = [float(run.summary["pa_mean"]) for run in runs]
        for reference in references:
            if reference not in pa or reference == name:
                continue
            ours, theirs = pa[name], pa[reference]
            mean_ours, mean_theirs = ours.mean(axis=0), theirs.mean(axis=0)
            if len(ours) != len(theirs):  # a deterministic baseline against every seed of the other
                if 1 not in (len(ours), len(theirs)):
                    raise ValueError(f"{name!r} has {len(ours)} runs and {reference!r} {len(theirs)}: pair them by seed")
                ours, theirs = np.broadcast_arrays(ours, theirs)
            row[f"vs_{reference}"] = {
                "orders": paired_bootstrap_ci(mean_ours, mean_theirs, seed=0),
                "days": paired_bootstrap_ci(mean_ours, mean_theirs, seed=0, groups=days),
                "seeds_days": seed_day_bootstrap_ci(ours - theirs, days, seed=0),
            }
        rows.append(row)
    return rows
