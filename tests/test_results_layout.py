"""docs/ laid out by run: each experiment script writes its tables, JSON and plots into its own
docs/results/<experiment>/ folder and nothing else, never into or from a written page; the written pages and the
README name files that exist."""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from order_exec_gym.evaluation import evaluate
from sb3_distill.experiment import CONTROL, DQN_NAME, TEACHER, compare_runs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Each experiment script's written page in docs/ (by hand: no script writes it).
WRITTEN = {
    "reproduce_opd": "RESULTS.md", "signal_sweep": "SIGNAL.md", "learning_parity": "LEARNER.md",
    "bench_reference": "BENCHMARK.md",
}
#: A line of every hand-written page of the fake docs/: no generated page may hold it.
MARK = "HAND-WRITTEN"


def script(name: str) -> ModuleType:
    """``benchmarks/NAME.py`` as a module, its folder on the path while it imports (as when it runs)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(f"benchmarks.{name}")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A docs/ of hand-written pages (today's and the pages earlier scripts spliced) and, in each experiment's folder,
    a page that is not one of its sections."""
    docs = tmp_path / "docs"
    for experiment in WRITTEN:
        (docs / "results" / experiment).mkdir(parents=True)
        (docs / "results" / experiment / "notes.md").write_text(f"{MARK} notes on {experiment}\n")
    for page in (*WRITTEN.values(), "ANALYSIS.md", "SIGNAL_ANALYSIS.md"):
        (docs / page).write_text(f"{MARK} {page}\n")
    return docs


def files(folder: Path) -> dict[Path, bytes]:
    """Every file under ``folder`` and its contents."""
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def written(before: dict[Path, bytes], after: dict[Path, bytes], out: Path) -> set[str]:
    """The names of the files written between ``before`` and ``after``, checking they are all in ``out`` and that
    none was removed."""
    assert before.keys() <= after.keys(), "a script removed a file"
    changed = {path for path in after if before.get(path) != after[path]}
    assert {path.parent for path in changed} <= {out}, f"written outside {out}: {sorted(map(str, changed))}"
    return {path.name for path in changed}


@pytest.mark.parametrize("experiment", list(WRITTEN))
def test_each_script_writes_into_its_results_folder_by_default(experiment):
    module = script(experiment)
    assert module.OUT == DOCS / "results" / experiment
    assert module.parser().parse_args([]).out == module.OUT


def test_reproduce_opd_writes_only_its_folder_and_splices_no_page(docs, small_market):
    reproduce = script("reproduce_opd")
    out = docs / "results" / "reproduce_opd"
    experiment = reproduce.QUICK.experiment
    done = {name: evaluate(name, small_market, "all") for name in reproduce.BASELINES.values()}
    results = {agent: [done[baseline]] for agent, baseline in reproduce.BASELINES.items()}
    # the learned agents' two seeds stand in as baselines' evaluations, on the same orders
    students = {experiment.student(mu): "VWAP" for mu in experiment.mus}
    learned = {TEACHER: "Oracle", **students, CONTROL: "TWAP", DQN_NAME: "VWAP"}
    results |= {agent: [done[baseline]] * 2 for agent, baseline in learned.items()}
    log = {f"{agent}/seed{seed}": {"seconds": 1.0} for agent in learned for seed in (0, 1)}
    before = files(docs.parent)
    for name in ("ashare-1min", "ashare-1min-paper"):
        reproduce.write_section(name, reproduce.QUICK, results, log, 60.0, out)
    tables = reproduce.write_results(out)

    sections = {f"{name}{end}" for name in ("ashare-1min", "ashare-1min-paper")
                for end in (".json", ".md", "_pa_distribution.png", "_schedule.png")}  # fmt: skip
    assert written(before, files(docs.parent), out) == sections | {reproduce.TABLES}
    text = tables.read_text()
    assert MARK not in text  # neither the written pages nor the folder's other page
    assert text.index("## ashare-1min-paper") < text.index("## ashare-1min\n")  # the paper's configuration first
    assert all(f"| {agent} |" in text for agent in results)
    rows = json.loads((out / "ashare-1min.json").read_text())["rows"]
    assert [row["agent"] for row in rows] == list(results) and [row["n_seeds"] for row in rows] == [1] * 4 + [2] * 5
    # what each agent's schedules earn given to the orders at random: TWAP's shares earn TWAP's PA (0)
    shuffled = {row["agent"]: row["shuffled_pa"] for row in rows}
    assert shuffled["TWAP"] == pytest.approx(0.0, abs=1e-9) and shuffled[CONTROL] == pytest.approx(0.0, abs=1e-9)
    assert "| PA of those shares at random |" in text and "| 0% | 12 12 12 12 12 12 12 12 | +0.00 |" in text
    assert reproduce.write_results(out).read_text() == text  # a rerun does not take in its own page


def test_signal_sweep_writes_only_its_folder_and_splices_no_page(docs):
    sweep_script = script("signal_sweep")
    out = docs / "results" / "signal_sweep"
    sweep = sweep_script.QUICK
    students = [agent for agent in sweep.experiment.agents if agent != TEACHER]
    before = files(docs.parent)
    for name in ("signal-0", "signal-4"):
        data = sweep_script.market(sweep, name)
        runs = {agent: [result] for agent, result in sweep_script.baselines(data, "test").items()}
        runs |= {TEACHER: runs["Oracle"], **{agent: runs["PublicBound"] for agent in students}}
        level = sweep_script.MARKETS[name]["signal"]
        measured = {
            "market": name, "options": {**sweep.size, **sweep_script.MARKETS[name]},
            "rows": compare_runs(runs, references=("TWAP", CONTROL, "PublicBound")),
            "curves": {agent: {"steps": [512, 1024], "pa": [[level / 4, level]]} for agent in students},
            "training": {agent: {"entropy": {"steps": [512], "values": [[1.5]]}} for agent in students},
            "public_valid": level, "logs": {CONTROL: [{"seconds": 60.0, "selected_at": 1024}]}, "seeds": [0],
            "steps": dict(sweep.experiment.steps), "mus": list(sweep.experiment.mus), "eval_freq": 512,
        }  # fmt: skip
        sweep_script.write_section(measured, out, wall=60.0, how="one trial at a time")
    tables = sweep_script.write_results(out)

    names = {f"signal-{level}{end}" for level in (0, 4) for end in (".json", "_training.png")}
    assert written(before, files(docs.parent), out) == names | {sweep_script.TABLES, "signal_pa.png"}
    text = tables.read_text()
    assert MARK not in text
    assert "## signal-0\n" in text and "## signal-4\n" in text
    assert f"| {CONTROL} |" in text
    signal0, signal4 = text.split("## signal-4\n")
    assert "| 1,024 |" in signal4 and "| 512 |" not in signal4  # half the bound (level 2) reached at the second step
    assert "| – |" in signal0 and "| 512 |" not in signal0  # no public signal at signal 0: no steps to half of it
    assert f"| {CONTROL} |" in text and "| 1 | 1.0 |" in text  # the control's checkpoint (k steps), its minutes
    # the students equal the control here (the PublicBound's orders stand in for both): no target met
    assert signal4.count("beats the control beyond noise: **no**; half the public bound in at most half the control's "
                         "steps: **no**") == len(students[:-1])  # fmt: skip
    assert signal0.count("beats the control beyond noise: **no**; half the public bound in at most half the control's "
                         "steps: **not defined** (no public signal: ") == len(students[:-1])  # fmt: skip
    assert sweep_script.write_results(out).read_text() == text  # a rerun does not take in its own page


def test_learning_parity_writes_only_its_folder_and_splices_no_page(docs):
    parity = script("learning_parity")
    out = docs / "results" / "learning_parity"
    runs = [
        {"learner": learner, "seed": seed, "seconds": 10.0 + seed, "steps": [512, 1024], "valid_pa": [1.0, 3.0 + seed],
         "test_pa": [1.0, -2.0, 4.0, 5.0], "test_day": ["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-03"]}
        for seed in (0, 1) for learner in parity.LEARNERS
    ]  # fmt: skip
    before = files(docs.parent)
    tables = parity.write_results(runs, 4.0, argparse.Namespace(steps=1_024, seeds=[0, 1]), out)

    assert written(before, files(docs.parent), out) == {parity.TABLES, "learner.json"}
    text = tables.read_text()
    assert MARK not in text
    for learner in parity.LEARNERS:  # half the bound (2.0) first reached by the seeds' mean at 1,024 steps
        assert f"| {learner} | 1,024 | +2.00 |" in text
    assert json.loads((out / "learner.json").read_text()) == {"public_bound_valid_pa": 4.0, "runs": runs}


def linked(page: Path) -> list[Path]:
    """The files ``page`` names: its Markdown links (relative to it) and the `docs/...` paths in its code spans."""
    text = page.read_text()
    links = [page.parent / link for link in re.findall(r"\]\(([^)#\s]+)\)", text) if "://" not in link]
    return links + [ROOT / path for path in re.findall(r"`(docs/[^`\s]+)", text)]


def test_docs_hold_written_pages_and_each_run_its_folder():
    assert {path.suffix for path in DOCS.iterdir() if path.is_file()} == {".md"}  # generated files live in results/
    assert set(WRITTEN.values()) <= {path.name for path in DOCS.glob("*.md")}
    assert {path.name for path in (DOCS / "results").iterdir()} == set(WRITTEN)
    for experiment in WRITTEN:
        assert (DOCS / "results" / experiment / "tables.md").is_file()
    pages = [ROOT / "README.md", *DOCS.glob("*.md"), *DOCS.glob("results/*/*.md")]
    missing = [f"{page.relative_to(ROOT)}: {path}" for page in pages for path in linked(page) if not path.exists()]
    assert not missing
