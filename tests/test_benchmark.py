"""The benchmark: frozen tasks, scores (TWAP 0, Oracle 100), results files that compare only on the same orders,
honesty rules, and `order-exec bench` with saved SB3 models and module:callable agents."""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch as th

from order_exec_gym.benchmark import (
    TASKS, Registry, TaskVersionError, aggregate, check_results, iqm, leaderboard, load, load_results, markdown,
    probability_of_improvement, run, save_results,
)
from order_exec_gym.benchmark.scoring import TaskScores
from order_exec_gym.benchmark.tasks import content_hash, market_fingerprint, order_table
from order_exec_gym.cli import main

SYNTHETIC = [task.id for task in TASKS.current() if "synthetic" in task.market]
SIGNAL2 = "OrderExec/Signal2-v0"


@pytest.fixture(scope="module")
def references() -> dict[str, dict]:
    return {name: run(name, name, SYNTHETIC) for name in ("TWAP", "Oracle")}


def test_twap_scores_0_and_the_oracle_100_on_every_task(references):
    assert len(SYNTHETIC) >= 4
    for task_id in SYNTHETIC:
        assert references["TWAP"]["tasks"][task_id]["score"] == 0.0
        assert references["Oracle"]["tasks"][task_id]["score"] == pytest.approx(100.0, abs=1e-9)
    assert references["TWAP"]["agent"]["track"] == "public" and references["Oracle"]["agent"]["track"] == "privileged"
    signal2 = references["TWAP"]["tasks"][SIGNAL2]
    assert "public_score" in signal2 and "public_score" not in references["TWAP"]["tasks"]["OrderExec/Signal0-v0"]
    assert len(signal2["orders"]["symbol"]) == 450 and len(signal2["runs"]) == 3


def test_every_task_is_what_it_froze():
    """The synthetic tasks' markets and orders hash to the registry's frozen hashes (a change to the generator, the
    orders or the settings that would move scores fails here and needs a new task version)."""
    for task_id in SYNTHETIC:
        TASKS.get(task_id).verified_market()
    task = TASKS.get(SIGNAL2)
    with pytest.raises(ValueError, match="Signal2-v0.*not to the frozen"):
        replace(task, market={"synthetic": {**task.market["synthetic"], "seed": 1}}).verified_market()


def test_two_runs_write_identical_files_but_the_time(tmp_path):
    paths = [save_results(run("Random", "Random", [SIGNAL2]), tmp_path / f"{i}.json") for i in range(2)]
    first, second = (json.loads(path.read_text()) for path in paths)
    first.pop("created"), second.pop("created")
    assert first == second
    runs = first["tasks"][SIGNAL2]["runs"]
    assert runs[0]["price_advantage"] != runs[1]["price_advantage"]  # Random draws with each evaluation seed
    gz = save_results(run("TWAP", "TWAP", [SIGNAL2]), tmp_path / "twap.json.gz")
    assert load_results(gz)["tasks"][SIGNAL2]["score"] == 0.0


def test_compare_refuses_other_orders_and_other_versions(references, tmp_path):
    results = copy.deepcopy(references["TWAP"])
    check_results(results, "twap.json")
    results["tasks"][SIGNAL2]["orders"]["start"][3] += 1
    with pytest.raises(ValueError, match=r"bad\.json: task OrderExec/Signal2-v0's orders"):
        check_results(results, "bad.json")
    results = copy.deepcopy(references["TWAP"])
    results["tasks"][SIGNAL2]["content_hash"] = "0" * 32
    with pytest.raises(ValueError, match="Signal2-v0 was scored on orders hashed 0000"):
        check_results(results, "bad.json")
    task = TASKS.get(SIGNAL2)
    newer = Registry((task, replace(task, id="OrderExec/Signal2-v1")))
    with pytest.raises(ValueError, match="Signal2-v0 is out of date: use OrderExec/Signal2-v1"):
        check_results({**references["TWAP"], "tasks": {SIGNAL2: references["TWAP"]["tasks"][SIGNAL2]}}, "old.json", newer)
    with pytest.raises(TaskVersionError, match="use OrderExec/Signal2-v1"):
        newer.get(SIGNAL2)
    with pytest.raises(KeyError, match="unknown task"):
        TASKS.get("OrderExec/Nothing-v0")
    path = save_results(references["TWAP"], tmp_path / "twap.json")
    with pytest.raises(ValueError, match="both hold agent 'TWAP'"):
        load([path, path])
    results = copy.deepcopy(references["TWAP"])
    results["tasks"][SIGNAL2]["references"]["Oracle"][0] += 500.0  # the score's 100 moved
    with pytest.raises(ValueError, match="Signal2-v0: Oracle's mean PA is .* the task froze 69.2746"):
        check_results(results, "bad.json")
    results = copy.deepcopy(references["TWAP"])
    results["tasks"][SIGNAL2]["runs"].pop()
    with pytest.raises(ValueError, match=r"Signal2-v0 holds runs of seeds \[0, 1\] over \[450\] orders"):
        check_results(results, "bad.json")


def test_scores_are_recomputed_from_the_orders_never_read_from_the_file(references):
    results = copy.deepcopy(references["TWAP"])
    results["agent"]["name"] = "edited"
    results["tasks"][SIGNAL2]["score"] = 99.0
    _, rows = leaderboard([results], [SIGNAL2])
    assert rows[0]["tasks"][SIGNAL2] == 0.0


class Raises:
    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        raise RuntimeError("boom")


class Planner:
    """An agent that asks for the orders' plan (the future): the public track never gives it."""

    planned = False

    def plan(self, task, orders):
        Planner.planned = True

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return np.full(len(observation["private"]), 2), state


def test_failures_are_reported_with_their_reason_and_the_public_track_gets_no_plan(references):
    failed = run(Raises(), "raises", [SIGNAL2])["tasks"][SIGNAL2]
    assert failed["status"] == "failed" and "RuntimeError: boom" in failed["reason"] and "score" not in failed
    invalid = run(lambda obs: np.full(len(obs["private"]), 7), "invalid", [SIGNAL2])["tasks"][SIGNAL2]
    assert invalid["status"] == "failed" and "discrete actions must be integers" in invalid["reason"]
    nan = run(lambda obs: np.full(len(obs["private"]), np.nan), "nan", [SIGNAL2])["tasks"][SIGNAL2]
    assert nan["status"] == "failed" and "ValueError" in nan["reason"]
    planner = run(Planner(), "planner", [SIGNAL2])
    assert not Planner.planned and planner["agent"]["track"] == "public"
    from order_exec_gym.baselines import Oracle
    from order_exec_gym.task import ExecutionTask

    class Sneaky(Oracle):  # a Baseline that says it does not see the future: it gets no plan, so no future
        sees_future = False

    sneaky = run(Sneaky(ExecutionTask(TASKS.get(SIGNAL2).load_market(), "test", TASKS.get(SIGNAL2).config)), "sneaky", [SIGNAL2])
    assert sneaky["agent"]["track"] == "public" and sneaky["tasks"][SIGNAL2]["status"] == "failed"
    assert "needs to know the orders" in sneaky["tasks"][SIGNAL2]["reason"]
    assert planner["tasks"][SIGNAL2]["score"] == pytest.approx(0.0)  # action 2 is TWAP
    runs = [references["TWAP"], run(Raises(), "raises", [SIGNAL2]), run("TWAP", "again", [SIGNAL2])]
    tasks, rows = leaderboard(runs, [SIGNAL2])
    table = markdown(tasks, rows)
    assert "| raises | public | — | — | — | failed |" in table and "raises failed OrderExec/Signal2-v0: seed 0: RuntimeError: boom" in table
    assert "| again | public | 0.0 [0.0, 0.0] | 0.0 [0.0, 0.0] | 50% [50, 50] | 0.0 |" in table
    tasks, rows = leaderboard(runs)  # every task of any file: the agents that did not run one get no aggregate
    cells = ["—"] * len(tasks)
    cells[tasks.index(SIGNAL2)] = "0.0"
    assert tasks == sorted(SYNTHETIC) and f"| again | public | — | — | — | {' | '.join(cells)} |" in markdown(tasks, rows)


def test_scores_and_their_intervals():
    from scipy.stats import trim_mean

    values = np.random.default_rng(0).normal(size=(5, 7))
    assert iqm(values) == pytest.approx(trim_mean(values.reshape(-1), 0.25))
    rng = np.random.default_rng(1)
    low = rng.normal(0, 10, 300)
    high = low + 30.0
    better = TaskScores(np.stack([low + 15 + rng.normal(0, 5, 300) for _ in range(3)]), low, high)
    same = TaskScores(low[None], low, high)
    stats = aggregate({"a": better, "b": better})
    for value, lo, hi in stats.values():
        assert lo < value < hi and 40 < value < 60
    assert aggregate({"t": same})["iqm"] == (0.0, 0.0, 0.0)
    forward = probability_of_improvement({"t": better}, {"t": same})
    backward = probability_of_improvement({"t": same}, {"t": better})
    assert forward[0] == 1.0 and backward[0] == 0.0 and forward[1] <= forward[0] <= forward[2]


def test_a_student_is_on_the_public_track_from_python_too(small_market):
    """A distilled student's model carries the privileged key, which its policy never reads: public, the key zeros."""
    from sb3_distill.training import train

    task = TASKS.get(SIGNAL2)
    student = train("student", task.env_kwargs("train"), teacher="oracle", network="gru", total_timesteps=128, n_envs=4,
                    n_steps=32, batch_size=64, n_epochs=1)  # fmt: skip
    results = run(student, "student", [SIGNAL2])
    assert results["agent"]["track"] == "public" and results["tasks"][SIGNAL2]["status"] == "ok"


def test_the_task_env_trains_on_the_task_settings():
    import gymnasium as gym

    task = TASKS.get(SIGNAL2)
    env = gym.make("OrderExec-v1", **task.env_kwargs("train"))  # every setting given: v1's defaults play no part
    assert env.unwrapped.config == task.config and env.observation_space["public"].shape == (480, 8)


# ------------------------------------------------------------------------------------------------- command line


def make_agent():
    """A module:callable agent: action 2 (TWAP) on every order."""
    return lambda obs: np.full(len(obs["private"]), 2)


def test_bench_run_and_compare_on_the_command_line(tmp_path, capsys):
    from sb3_distill.training import train

    th.set_num_threads(1)
    task = TASKS.get(SIGNAL2)
    kwargs = task.env_kwargs("train")
    tiny = dict(total_timesteps=256, n_envs=4, n_steps=64, batch_size=64, n_epochs=1)
    train("ppo", kwargs, **tiny).save(tmp_path / "ppo")
    train("student", kwargs, teacher="oracle", network="gru", **tiny).save(tmp_path / "student")
    train("teacher", kwargs, **tiny).save(tmp_path / "teacher")
    sys.modules["bench_agents"] = sys.modules[__name__]
    for agent, name in ((str(tmp_path / "ppo.zip"), "ppo"), (str(tmp_path / "student"), "student"),
                        ("bench_agents:make_agent", "callable"), ("TWAP", "TWAP"),
                        (str(tmp_path / "teacher.zip"), "teacher")):  # fmt: skip
        out = str(tmp_path / f"{name}.json")
        assert main(["bench", "run", agent, "--tasks", SIGNAL2, "--out", out, "--no-progress"] + ["--name", name] * (name == "callable")) == 0
    said = capsys.readouterr().out
    assert "ppo (public track)" in said and "callable (public track)" in said
    assert "student (public track)" in said  # a student never reads the privileged key its model carries
    assert "teacher (privileged track)" in said
    assert load_results(tmp_path / "student.json")["agent"]["spec"].endswith("(DistillRecurrentPPO)")
    files = [str(tmp_path / f"{name}.json") for name in ("ppo", "student", "callable", "TWAP")]
    assert main(["bench", "compare", *files, "--out", str(tmp_path / "board.md"), "--plot", str(tmp_path / "p.png")]) == 0
    board = (tmp_path / "board.md").read_text()
    assert "| callable | public | 0.0 [0.0, 0.0]" in board and (tmp_path / "p.png").stat().st_size > 0
    assert main(["bench", "list"]) == 0 and SIGNAL2 in capsys.readouterr().out
    assert main(["bench", "run", "nonsense", "--out", str(tmp_path / "x.json")]) == 2
    assert "AGENT 'nonsense'" in capsys.readouterr().err


def test_results_record_the_orders_and_the_market():
    results = run("TWAP", "TWAP", [SIGNAL2])
    entry, task = results["tasks"][SIGNAL2], TASKS.get(SIGNAL2)
    market = task.load_market()
    assert entry["orders"] == order_table(task, market) and entry["market_fingerprint"] == market_fingerprint(market)
    assert content_hash(task, entry["orders"], entry["market_fingerprint"]) == task.content_hash
    assert set(results["versions"]) >= {"python", "order-exec-gym", "numpy", "torch", "stable-baselines3"}
    assert Path(entry["orders"]["date"][0]).name.startswith("2023-")


def test_the_fingerprint_sees_every_bar_but_not_the_last_bits():
    market = TASKS.get(SIGNAL2).load_market()
    base = market_fingerprint(market)
    for edit in ("reversed sessions", "one bar 2% up", "one bar a float32 step up"):
        bars = {name: values.copy() for name, values in market.bars.items()}
        if edit == "reversed sessions":
            bars = {name: values[:, ::-1].copy() for name, values in bars.items()}
        elif edit == "one bar 2% up":
            bars["price"][5, 17] *= 1.02
        else:
            bars["price"][5, 17] = np.nextafter(bars["price"][5, 17], np.float32(np.inf))
        changed = market_fingerprint(replace(market, bars=bars))
        assert (changed == base) == (edit == "one bar a float32 step up"), edit


def test_the_market_fingerprint_rounds_with_exact_operations_only():
    """Every machine computes the same fingerprint for the same bars: the rounding to FINGERPRINT_BITS significant
    bits equals an exact reference (Python's frexp, ldexp and round half to even on floats), decimal ties included.
    (Rounding to 6 decimal digits through ``10.0 ** k`` did not: numpy's power is one unit in the last place off on
    some CPUs, which moved the ties, e.g. volumes like 1,234,565, and refused every synthetic task there.)"""
    import math

    from order_exec_gym.benchmark.tasks import FINGERPRINT_BITS, _significant

    rng = np.random.default_rng(0)
    values = np.concatenate([
        rng.lognormal(3.0, 2.0, 5_000), -rng.lognormal(0.0, 1.0, 100), [0.0, 1.0, 1e-5, 12.345, 1_234_565.0, 2.0**-30],
        np.float32(rng.uniform(1, 100, 1_000)).astype(np.float64),
    ]).astype(np.float32)  # fmt: skip
    expected = [(round(math.ldexp(m, FINGERPRINT_BITS)), e) for m, e in map(math.frexp, values.astype(np.float64).tolist())]
    assert _significant(values, FINGERPRINT_BITS).tolist() == [list(pair) for pair in expected]
