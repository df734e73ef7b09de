"""The README's code runs as written: every ```python block and every command of its ```bash blocks, each block on a
fresh copy of the repository, with the quick switch on (``ORDER_EXEC_GYM_QUICK=1``: every training budget is cut to
``sb3_distill.training.QUICK_STEPS`` env steps, see :func:`sb3_distill.training.quick_budget`; in the Python blocks
run here, plain Stable-Baselines3 ``learn()`` calls are cut the same way). Nothing of the text is edited.

Blocks that need the real data (a preset's name or ``shared/data`` in the text) run where it is present
(``$ORDER_EXEC_GYM_DATA`` or ``../shared/data``) and skip otherwise. A few commands cannot run here: they are listed,
with the reason, in :data:`EXCLUDED`. The ``pip install`` commands of the Quick start run, as written, in a throwaway
virtual environment, in a test marked slow (it builds the package, and reaches PyPI for the build backend).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest
from stable_baselines3.common.base_class import BaseAlgorithm

from order_exec_gym.data.presets import PRESETS
from order_exec_gym.data.readers import shared_data_dir
from sb3_distill.training import QUICK_ENV_VAR, QUICK_STEPS, quick_budget

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: Commands of the README that this test does not run, each with why (matched as a substring of the command).
EXCLUDED = {
    "ray start": "starts a Ray cluster's head node, a service that outlives the test",
    "--address auto": "joins a running Ray cluster (`ray start`), which the test does not start",
    "benchmarks/scale.py": "builds the paper-size synthetic market (~12 minutes, 14 GiB of shards)",
    'synthetic_shards("/data/paper"': "builds the paper-size synthetic market (14 GiB) under /data",
}
#: Commands that the fast tests leave to :func:`test_quick_start_installs_and_runs_in_a_fresh_virtual_environment`
#: (``pip install``), or that no test can run (``pytest``: the test suite that holds this test).
PIP, PYTEST = re.compile(r"^pip install\b"), re.compile(r"^pytest\b")


@dataclass(frozen=True)
class Block:
    """A fenced code block of the README: its language, the line its code starts on and its code."""

    language: str
    line: int
    code: str

    @property
    def id(self) -> str:
        return f"{self.language}-line{self.line}"

    def commands(self) -> list[str]:
        """A bash block's commands, in order: each line, comments off, ``&&`` chains split."""
        commands = []
        for line in self.code.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            commands += [part.strip() for part in line.split("&&") if part.strip()] if line else []
        return commands

    def excluded(self) -> str | None:
        """Why the whole (Python) block is not run, or None."""
        return next((why for snippet, why in EXCLUDED.items() if snippet in self.code), None)

    def needs_data(self) -> bool:
        return needs_data(self.code)


def needs_data(code: str) -> bool:
    """Whether ``code`` reads the real data: it names a preset or the shared data folder."""
    return "shared/data" in code or any(re.search(rf"\b{re.escape(name)}\b", code) for name in PRESETS)


def readme_blocks(language: str) -> list[Block]:
    """The README's ```language blocks."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(README.read_text().splitlines(), start=1):
        if current is None and line.strip() == f"```{language}":
            current, start = [], number + 1
        elif current is not None and line.strip() == "```":
            blocks.append(Block(language, start, "\n".join(current) + "\n"))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def fresh_copy(tmp_path: Path) -> Path:
    """The repository's files (tracked, and untracked but not ignored: what a commit of this tree would hold) copied
    to ``tmp_path / "repo"``, with the real data, where there is some, at ``tmp_path / "shared" / "data"``, where the
    README's ``../shared/data`` finds it."""
    repo = tmp_path / "repo"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, text=True
    )
    if listed.returncode == 0:
        for name in filter(None, listed.stdout.split("\0")):
            source = ROOT / name
            if source.is_file():  # a file deleted from the work tree but still in the index is not copied
                (repo / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, repo / name)
    else:  # not a git checkout: the tree without what git would ignore (.gitignore: output folders at the top only)
        anywhere = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", ".pytest_cache", ".hypothesis", "*.zip")

        def ignored(directory: str, names: list[str]) -> set[str]:
            top = {"runs", "outputs", "results", "models", "build", "dist"} if Path(directory) == ROOT else set()
            return anywhere(directory, names) | (top & set(names))

        shutil.copytree(ROOT, repo, ignore=ignored)
    data = real_data()
    if data is not None:
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "data").symlink_to(data.resolve(), target_is_directory=True)
    return repo


def real_data() -> Path | None:
    """The real data's folder (``$ORDER_EXEC_GYM_DATA``, else ``shared/data`` above the repository), if it exists."""
    data = shared_data_dir()
    return data if data is not None and data.is_dir() else None


def skip_without_data(block: Block) -> None:
    if block.needs_data() and real_data() is None:
        pytest.skip(f"needs the real data: set ORDER_EXEC_GYM_DATA or put it in ../shared/data ({block.id})")


def left_out(command: str) -> str | None:
    """Why the fast tests do not run a bash command (:data:`EXCLUDED`, ``pip install``, ``pytest``), or None."""
    if PIP.match(command):
        return "pip install runs in the slow test of a fresh virtual environment"
    if PYTEST.match(command):
        return "pytest runs the test suite that holds this test"
    return next((why for snippet, why in EXCLUDED.items() if snippet in command), None)


def command_environment(repo: Path) -> dict[str, str]:
    """The environment of the commands: this one, the quick switch on, the copy's code first on the path."""
    path = os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))
    return {**os.environ, QUICK_ENV_VAR: "1", "PYTHONPATH": path, "MPLBACKEND": "Agg"}


def run_command(command: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    """Run one README command with bash; its standard output."""
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"README command `{command}` failed ({done.returncode}):\n{output}"
    if "examples/train_opd.py" in command:  # the example obeys the quick switch: every training is cut
        assert f"{QUICK_ENV_VAR} is set: {QUICK_STEPS:,} steps" in done.stdout, output
    return done.stdout


@pytest.mark.parametrize("block", readme_blocks("python"), ids=lambda block: block.id)
def test_python_block_runs_as_written(block, tmp_path, monkeypatch):
    if (why := block.excluded()) is not None:
        pytest.skip(f"excluded: {why}")
    skip_without_data(block)
    repo = fresh_copy(tmp_path)
    monkeypatch.chdir(repo)
    monkeypatch.setenv(QUICK_ENV_VAR, "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    setup_learn = BaseAlgorithm._setup_learn

    def quick_setup_learn(self, total_timesteps, *args, **kwargs):  # SB3's learn() of every algorithm starts here
        return setup_learn(self, quick_budget(total_timesteps), *args, **kwargs)

    monkeypatch.setattr(BaseAlgorithm, "_setup_learn", quick_setup_learn)
    code = compile("\n" * (block.line - 1) + block.code, str(README), "exec")  # tracebacks name the README's lines
    exec(code, {"__name__": "__readme__"})


@pytest.mark.parametrize("block", readme_blocks("bash"), ids=lambda block: block.id)
def test_bash_block_runs_as_written(block, tmp_path):
    """The block's commands in order, in one fresh copy (a command may use what an earlier one wrote); those that need
    the real data are left out where it is absent, and the test then skips, naming them, after running the others."""
    commands = [command for command in block.commands() if left_out(command) is None]
    if not commands:
        reasons = sorted({left_out(command) for command in block.commands()})
        pytest.skip(f"excluded: {'; '.join(reasons)}")
    missing = [command for command in commands if needs_data(command) and real_data() is None]
    repo = fresh_copy(tmp_path)
    env = command_environment(repo)
    for command in commands:
        if command not in missing:
            run_command(command, repo, env)
    if missing:
        pytest.skip(f"needs the real data (set ORDER_EXEC_GYM_DATA or put it in ../shared/data): {missing}")


@pytest.mark.slow
def test_quick_start_installs_and_runs_in_a_fresh_virtual_environment(tmp_path):
    """The Quick start as written, ``pip install`` included, in a new virtual environment that sees this machine's
    packages (``--system-site-packages``: torch and the dependencies are not downloaded again), quick switch on;
    ``pytest`` is not run (it is the suite that holds this test)."""
    quick_start = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [block for block in readme_blocks("bash") if block.code in quick_start]
    assert blocks, "the README has no Quick start bash block"
    repo = fresh_copy(tmp_path)
    environment = tmp_path / "venv"
    venv.create(environment, system_site_packages=True, with_pip=True)
    env = command_environment(repo)
    env.pop("PYTHONPATH")  # the package comes from the virtual environment's editable install, as for a user
    env["PATH"] = os.pathsep.join([str(environment / "bin"), env["PATH"]])
    env["VIRTUAL_ENV"] = str(environment)
    for block in blocks:
        for command in block.commands():
            if not PYTEST.match(command):
                run_command(command, repo, env, timeout=1800)
    located = subprocess.run([environment / "bin" / "python", "-c", "import order_exec_gym; print(order_exec_gym.__file__)"],
                             capture_output=True, text=True, env=env, cwd=tmp_path)  # fmt: skip
    assert Path(located.stdout.strip()).is_relative_to(repo), located  # the copy's package was installed and run


def test_readme_blocks_are_found_and_the_exclusions_are_used():
    """The parser sees the README's blocks, and every exclusion still names a command of the README (a stale entry
    would hide nothing, or hide a command added later with the same words)."""
    python, bash = readme_blocks("python"), readme_blocks("bash")
    assert len(python) >= 3 and len(bash) >= 3
    text = "\n".join(block.code for block in python + bash)
    for snippet in EXCLUDED:
        assert snippet in text, f"EXCLUDED[{snippet!r}] matches no README command: remove it"
    commands = [command for block in bash for command in block.commands()]
    assert any(PIP.match(c) for c in commands) and any(PYTEST.match(c) for c in commands)


def test_the_quick_switch_cuts_the_training_budgets(monkeypatch):
    """Off: the budget is the caller's; on: at most QUICK_STEPS, in train() (so every recipe and `order-exec train`)
    and in examples/train_opd.py."""
    from sb3_distill import training

    monkeypatch.delenv(QUICK_ENV_VAR, raising=False)
    assert quick_budget(100_000) == 100_000
    monkeypatch.setenv(QUICK_ENV_VAR, "0")
    assert quick_budget(100_000) == 100_000
    monkeypatch.setenv(QUICK_ENV_VAR, "1")
    assert quick_budget(100_000) == QUICK_STEPS and quick_budget(10) == 10

    learned = []

    class Model:
        def learn(self, total_timesteps, **kwargs):
            learned.append(total_timesteps)
            return self

    monkeypatch.setattr(training, "make_model", lambda *args, **kwargs: Model())
    training.train("ppo", total_timesteps=50_000)
    assert learned == [QUICK_STEPS]
    monkeypatch.setenv(QUICK_ENV_VAR, "")
    training.train("ppo", total_timesteps=50_000)
    assert learned == [QUICK_STEPS, 50_000]
