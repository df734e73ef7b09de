"""Scoring an agent on the tasks, and the results file that records it.

:func:`run` evaluates an agent on each task's frozen orders once per evaluation seed, with TWAP and the Oracle
(and the PublicBound where the market's model gives one) on the same orders, and returns the results as a mapping
that :func:`save_results` writes as JSON (``FORMAT``, documented in docs/BENCHMARK.md). Honesty rules: an agent sees
the public observation only and gets no ``plan`` of the orders (only the library's baselines, named by a string, get
one); one that reads the privileged observation, or a named baseline that sees the future (the Oracle), is scored
on the separate ``"privileged"`` track. (An agent runs in this process: these rules keep an honest agent honest and
make a mistake visible; they are no sandbox against code that goes looking for the market.) An agent that raises, returns invalid actions or produces a NaN is reported as failed on that
task, with the reason, never skipped.
"""

from __future__ import annotations

import datetime as dt
import gzip
import importlib
import importlib.metadata
import inspect
import json
import platform
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from order_exec_gym.baselines import BASELINES
from order_exec_gym.benchmark.scoring import normalized_score
from order_exec_gym.benchmark.tasks import TASKS, Registry, Task, content_hash, market_fingerprint, order_table
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.presets import PRESETS, preset_path
from order_exec_gym.evaluation import EvaluationResult, evaluate, needs_privileged
from order_exec_gym.metrics import paired_bootstrap_ci
from order_exec_gym.task import ExecutionTask

FORMAT = "order-exec-bench/1"
PUBLIC, PRIVILEGED = "public", "privileged"
PRIVILEGED_KEY = "privileged"
#: Decimals kept of each order's PA (bps) and reward (x1e4, bps) in a results file.
DECIMALS = 4
PACKAGES = ("order-exec-gym", "numpy", "polars", "gymnasium", "torch", "stable-baselines3", "sb3-contrib")


class PublicAgent:
    """An agent as the public track sees it: ``predict`` on the public observation, nothing else (no ``plan`` of
    the orders). A model whose observation space has the privileged key but that does not read it (a distilled
    student, trained beside its teacher) is given that key as zeros: it cannot see the future through it.

    :param agent: anything with SB3's ``predict``, or a callable ``actions = agent(obs)``
    """

    def __init__(self, agent: Any):
        self._agent = agent
        self._blind: Any = None
        space = getattr(agent, "observation_space", None)
        if space is not None:  # the shapes are checked against the task's (evaluation.check_spaces)
            keys = dict(getattr(space, "spaces", {}))
            self._blind = keys.pop(PRIVILEGED_KEY, None)
            self.observation_space = type(space)(keys) if self._blind is not None else space
            self.action_space = agent.action_space

    def set_random_seed(self, seed: int) -> None:
        if hasattr(self._agent, "set_random_seed"):
            self._agent.set_random_seed(seed)

    def predict(self, observation: dict, state: Any = None, episode_start: Any = None, deterministic: bool = True):
        if self._blind is not None:
            zeros = np.zeros((len(observation["private"]), *self._blind.shape), self._blind.dtype)
            observation = {**observation, PRIVILEGED_KEY: zeros}
        if hasattr(self._agent, "predict"):
            return self._agent.predict(observation, state=state, episode_start=episode_start, deterministic=deterministic)
        return self._agent(observation), state


def available(task: Task) -> str | None:
    """None when the task can run here, else what it needs that is missing."""
    if "preset" not in task.market:
        return None
    try:
        preset_path(PRESETS[task.market["preset"]])
    except FileNotFoundError as error:
        return f"{task.needs}: {error}"
    return None


def track_of(agent: Any) -> str:
    """``"privileged"`` for a baseline named by a string that sees the future (the Oracle) and for an agent that
    reads the privileged observation (its observation space has the key, and its policy does not declare
    ``reads_privileged = False`` as the distilled students do)."""
    if isinstance(agent, str):
        return PRIVILEGED if BASELINES[agent].sees_future else PUBLIC
    reads = getattr(getattr(agent, "policy", None), "reads_privileged", True)
    return PRIVILEGED if needs_privileged(agent) and reads else PUBLIC


def load_agent(spec: str) -> Any:
    """A baseline name, or ``module:callable`` (called with no argument; it returns an object with SB3's
    ``predict``, or the callable ``obs -> actions`` itself when it takes the observation)."""
    if spec in BASELINES:
        return spec
    if ":" not in spec:
        raise ValueError(f"cannot load agent {spec!r}: give a baseline name ({', '.join(BASELINES)}), module:callable, "
                         "or (with order-exec bench run) a saved SB3 model's .zip")  # fmt: skip
    module, _, name = spec.partition(":")
    target = getattr(importlib.import_module(module), name)
    parameters = [p for p in inspect.signature(target).parameters.values() if p.default is p.empty]
    return target if parameters else target()


def run(
    agent: Any,
    name: str,
    tasks: Sequence[str] | None = None,
    *,
    description: str = "",
    spec: str = "",
    progress: bool = False,
    registry: Registry = TASKS,
) -> dict[str, Any]:
    """Score ``agent`` on ``tasks`` (default: every current task whose data is here) and return the results.

    :param agent: a baseline name, an SB3 model, anything with SB3's ``predict``, or a callable ``obs -> actions``
    :param name: the agent's name in the results and the leaderboard
    :param tasks: task ids; a task named here whose data is missing raises ``ValueError`` saying what it needs
    :param description: a line on what the agent is (training recipe, budget, seeds)
    :param spec: how the agent was loaded (recorded)
    :param progress: show a progress bar over the tasks and seeds
    """
    chosen = [registry.get(task_id) for task_id in tasks] if tasks else [t for t in registry.current() if available(t) is None]
    for task in chosen:
        missing = available(task)
        if missing is not None:
            raise ValueError(f"task {task.id} cannot run here: it needs {missing}")
    track = track_of(agent)
    results: dict[str, Any] = {
        "format": FORMAT,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "agent": {"name": name, "description": description, "spec": spec, "track": track},
        "versions": _versions(),
        "tasks": {},
    }
    bar = tqdm(total=sum(len(task.seeds) for task in chosen), desc=f"bench {name}", unit="run", disable=not progress)
    for task in chosen:
        bar.set_postfix_str(task.id)
        results["tasks"][task.id] = _run_task(agent, task, bar)
    bar.close()
    return results


def reference_results(task: Task, market: MarketDataset) -> dict[str, EvaluationResult]:
    """TWAP's, the Oracle's (and the PublicBound's) evaluations on the task's orders: the score's 0 and 100."""
    names = ("TWAP", "Oracle", "PublicBound") if task.public_bound else ("TWAP", "Oracle")
    return {name: evaluate(name, market, task.split, None, task.order_seed, True, task.config) for name in names}


def freeze(task: Task) -> tuple[str, dict[str, float]]:
    """The values a new task version is frozen with: its content hash and its references' mean PA (bps)."""
    market = task.load_market()
    references = reference_results(task, market)
    means = {name: round(float(np.mean(_rounded(result.orders["price_advantage"]))), 6) for name, result in references.items()}
    return content_hash(task, order_table(task, market), market_fingerprint(market)), means


def _run_task(agent: Any, task: Task, bar: tqdm) -> dict[str, Any]:
    market, fingerprint = task.verified_market()
    reference_pa = reference_results(task, market)
    task.check_references({key: _rounded(result.orders["price_advantage"]) for key, result in reference_pa.items()})
    entry: dict[str, Any] = {
        "content_hash": task.content_hash,
        "market_fingerprint": fingerprint,
        "seeds": list(task.seeds),
        "orders": order_table(task, market),
        "references": {key: _rounded(result.orders["price_advantage"]) for key, result in reference_pa.items()},
        "status": "ok",
        "runs": [],
    }
    dates = reference_pa["TWAP"].orders["date"].to_numpy()
    for seed in task.seeds:
        try:
            result = evaluate(_seeded(agent, task, market, seed), market, task.split, None, task.order_seed, True, task.config)
            pa = result.orders["price_advantage"].to_numpy()
            if not np.all(np.isfinite(pa)) or not np.all(np.isfinite(result.orders["reward"].to_numpy())):
                raise ValueError("the agent's orders have a NaN or infinite price advantage or reward")
        except Exception as error:  # noqa: BLE001 - any failure of the agent is reported, with its reason
            bar.update(len(task.seeds) - len(entry["runs"]))
            entry.update(status="failed", reason=f"seed {seed}: {type(error).__name__}: {error}", runs=[])
            return entry
        entry["runs"].append({"seed": seed, "price_advantage": _rounded(pa), "reward": _rounded(1e4 * result.orders["reward"].to_numpy())})
        bar.update(1)
    pa = np.array([run["price_advantage"] for run in entry["runs"]])
    twap, oracle = (np.array(entry["references"][key]) for key in ("TWAP", "Oracle"))
    entry["pa_mean"] = float(pa.mean())
    entry["score"] = float(normalized_score(pa.mean(axis=1), twap.mean(), oracle.mean()).mean())
    if "PublicBound" in entry["references"]:
        bound = np.array(entry["references"]["PublicBound"])
        entry["public_score"] = float(normalized_score(pa.mean(axis=1), twap.mean(), bound.mean()).mean())
    per_order = pa.mean(axis=0)
    entry["vs_twap"] = {
        "orders": list(paired_bootstrap_ci(per_order, twap)),
        "days": list(paired_bootstrap_ci(per_order, twap, groups=dates)),
    }
    return entry


def _seeded(agent: Any, task: Task, market: Any, seed: int) -> Any:
    """The agent for one evaluation seed: a baseline built on the task (``Random`` draws with ``seed``), a model
    with its random generators seeded, behind :class:`PublicAgent` on the public track."""
    random.seed(seed)
    np.random.seed(seed)
    if isinstance(agent, str):
        cls = BASELINES[agent]
        if "seed" not in inspect.signature(cls).parameters:
            return agent
        return cls(ExecutionTask(market, task.split, task.config), seed=seed)  # the task's settings, on its market
    if hasattr(agent, "set_random_seed"):
        agent.set_random_seed(seed)
    if track_of(agent) == PRIVILEGED or isinstance(agent, PublicAgent):
        return agent
    return PublicAgent(agent)  # any object, a Baseline subclass too: only the library's named baselines get a plan


def _rounded(values: Any) -> list[float]:
    return np.round(np.asarray(values, dtype=np.float64), DECIMALS).tolist()


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def save_results(results: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``results`` as JSON (gzip-compressed when ``path`` ends in ``.gz``), keys sorted, so two runs of one
    agent differ only in ``created``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, sort_keys=True, separators=(",", ":"))
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        path.write_text(text)
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    """A results file written by :func:`save_results`; ``ValueError`` naming it when it is not one."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        results = json.loads(raw)
    except (OSError, EOFError, ValueError) as error:
        raise ValueError(f"{path}: not a readable results file ({type(error).__name__}: {error})") from None
    if not isinstance(results, dict) or results.get("format") != FORMAT:
        raise ValueError(f"{path}: not a results file of format {FORMAT!r}")
    return results

