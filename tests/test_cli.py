"""The order-exec command: in-process through main() and once as a subprocess."""

from __future__ import annotations

import re
import subprocess
import sys

import polars as pl
import pytest

from order_exec_gym.cli import COMMANDS, build_parser, main
from order_exec_gym.data.presets import PRESETS
from order_exec_gym.data.readers import shared_data_dir
from order_exec_gym.data.synthetic import synthetic_bars

AGENTS = ("TWAP", "VWAP", "AlmgrenChriss", "Random", "Oracle", "PublicBound")  # a synthetic market: all apply


@pytest.fixture(scope="module")
def saved_market(small_market, tmp_path_factory):
    """The small market written by MarketDataset.save, as --data takes it."""
    folder = tmp_path_factory.mktemp("market") / "small"
    small_market.save(folder)
    return folder


def test_parser_registers_every_command():
    assert len(COMMANDS) >= 2
    parser = build_parser()
    for argv in (["data", "check", "x.csv"], ["data", "summary"], ["baselines"], ["train", "recurrent_ppo"], ["evaluate", "m.zip"]):
        assert callable(parser.parse_args(argv).handler)
    assert main([]) == 2


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["data", "--help"], ["data", "check", "--help"], ["data", "summary", "--help"], ["baselines", "--help"],
     ["train", "--help"], ["evaluate", "--help"]],
)  # fmt: skip
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert len(capsys.readouterr().out.splitlines()) > 5


def test_baselines_prints_the_table_and_writes_outputs(saved_market, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["baselines", "--data", str(saved_market), "--n-orders", "30", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    for name in AGENTS:
        assert f"│ {name}" in printed
    assert "orders=30" in printed and "pa_diff" in printed
    table = pl.read_csv(out / "comparison.csv")
    assert table["agent"].to_list() == list(AGENTS)
    orders = pl.read_parquet(out / "orders.parquet")
    assert orders.height == len(AGENTS) * 30 and orders.columns[0] == "agent"
    assert pl.read_csv(out / "orders.csv").height == len(AGENTS) * 30
    for png in ("schedule.png", "pa_distribution.png"):
        assert (out / png).stat().st_size > 5000


def test_baselines_options(saved_market, capsys):
    argv = ["baselines", "--data", str(saved_market), "--split", "valid", "--step-minutes", "1", "--side", "random",
            "--action-type", "continuous", "--agents", "Oracle,AlmgrenChriss", "--reference", "TWAP", "--levels", "0,1,3",
            "--lookback", "5", "--benchmark", "vwap", "--no-market-features", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "side=random step_minutes=1 alpha=0.01 penalty_per=minute action_type=continuous levels=(0.0, 1.0, 3.0)" in printed
    assert "lookback=5 history=lookback market_features=False" in printed
    assert "benchmark=vwap window_minutes=None" in printed
    rows = [line.strip("│ ").split("┆")[0].strip() for line in printed.splitlines() if line.startswith("│ ")]
    assert rows == ["agent", "TWAP", "Oracle", "AlmgrenChriss"]
    assert main(["baselines", "--data", str(saved_market), "--agents", "TWAP,Nobody"]) == 2
    assert "unknown baselines ['Nobody']" in capsys.readouterr().err
    assert main(["baselines", "--data", str(saved_market), "--step-minutes", "7", "--window-minutes", "10", "--split", "nope"]) == 1
    assert "unknown split 'nope'" in capsys.readouterr().err
    assert main(["baselines", "--data", str(saved_market), "--alpha", "nan"]) == 1
    assert "error: alpha must be finite" in capsys.readouterr().err
    assert main(["baselines", "--data", str(saved_market), "--levels", "0,-1"]) == 1
    assert "error: levels must be finite and >= 0" in capsys.readouterr().err


def test_env_setting_options_are_the_config_fields():
    """Every ExecutionConfig field is an option of the commands that build envs, with the config's default."""
    import dataclasses

    from order_exec_gym.config import ExecutionConfig

    parser = build_parser()
    for argv, excluded in ((["baselines"], {"privileged", "reward_scale"}), (["train", "teacher"], {"privileged"})):
        args = parser.parse_args(argv)
        for f in dataclasses.fields(ExecutionConfig):
            assert hasattr(args, f.name) != (f.name in excluded), f.name
            if f.name not in excluded:
                assert getattr(args, f.name) == f.default, f.name


def test_data_summary(saved_market, capsys):
    assert main(["data", "summary", "--data", str(saved_market)]) == 0
    printed = capsys.readouterr().out
    assert "episodes=80" in printed and "split test" in printed
    assert main(["data", "summary", "--data", "no-such-preset"]) == 1
    assert "cannot resolve data='no-such-preset'" in capsys.readouterr().err


def test_data_check_generic_csv(tmp_path, capsys):
    frame = synthetic_bars(n_symbols=2, n_days=4).frame.drop("price").rename({"timestamp": "time", "volume": "vol"})
    good = tmp_path / "bars.csv"
    frame.write_csv(good)
    assert main(["data", "check", str(good), "--column", "timestamp=time", "--column", "volume=vol"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("OK") and "episodes=8" in printed

    bad = tmp_path / "bad.csv"
    frame.with_columns(pl.when(pl.int_range(pl.len()) == 100).then(-5.0).otherwise(pl.col("vol")).alias("vol")).write_csv(bad)
    assert main(["data", "check", str(bad), "--column", "timestamp=time", "--column", "volume=vol"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error:") and "bad.csv" in error and "volume" in error
    zoned = tmp_path / "zoned.csv"
    frame.with_columns(pl.col("time").dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")).write_csv(zoned)
    mapping = ["--column", "timestamp=time", "--column", "volume=vol"]
    assert main(["data", "check", str(zoned), *mapping]) == 1
    assert "time_zone" in capsys.readouterr().err
    assert main(["data", "check", str(zoned), *mapping, "--time-zone", "Asia/Shanghai"]) == 0
    assert "episodes=8" in capsys.readouterr().out
    assert main(["data", "check", str(good), "--column", "timestamp"]) == 1
    assert "NAME=COLUMN" in capsys.readouterr().err
    assert main(["data", "check", str(tmp_path / "missing"), "--preset", "ashare-1min"]) == 1


def test_data_check_real_preset(capsys):
    root = shared_data_dir()
    folder = PRESETS["ashare-2018"].folder
    if root is None or not (root / folder).is_dir():
        pytest.skip(f"../shared/data/{folder} not found: real-data test needs the shared data folder")
    assert main(["data", "check", str(root / folder), "--preset", "ashare-2018"]) == 0
    assert "episodes=21" in capsys.readouterr().out


def test_console_script_in_a_subprocess(saved_market):
    command = [sys.executable, "-m", "order_exec_gym.cli", "baselines", "--data", str(saved_market), "--n-orders", "10"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "│ Oracle" in done.stdout and "agents" in done.stderr  # the progress bar goes to stderr


# ------------------------------------------------------------------------------------------ train and evaluate

#: A training run of one or two rollouts on the small market.
TINY = ["--steps", "256", "--n-envs", "4", "--no-progress"]


def table_rows(printed: str) -> list[str]:
    """The first column of the printed comparison table."""
    return [line.strip("│ ").split("┆")[0].strip() for line in printed.splitlines() if line.startswith("│ ")]


@pytest.fixture(scope="module")
def teacher_zip(saved_market, tmp_path_factory):
    """A teacher trained by ``order-exec train teacher`` on the small market."""
    out = tmp_path_factory.mktemp("models") / "teacher.zip"
    assert main(["train", "teacher", "--data", str(saved_market), "--out", str(out), *TINY]) == 0
    return out


def test_train_teacher_and_evaluate_it(teacher_zip, saved_market, tmp_path, capsys):
    from sb3_distill import TeacherPolicy
    from stable_baselines3 import PPO

    assert isinstance(PPO.load(teacher_zip).policy, TeacherPolicy)
    out = tmp_path / "eval"
    argv = ["evaluate", str(teacher_zip), "--data", str(saved_market), "--n-orders", "20", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "PPO (--algo PPO), 1024 training steps" in printed and "orders=20" in printed
    teacher = "teacher (privileged: sees the future)"  # the teacher reads the future: its row says so
    assert table_rows(printed) == ["agent", teacher, "TWAP", "VWAP", "AlmgrenChriss", "Oracle"]
    assert f"{teacher}: reads the privileged observation, the whole window with its future prices" in printed
    assert "Oracle: perfect information (it sees the future)" in printed
    assert pl.read_csv(out / "comparison.csv")["agent"].to_list() == [teacher, "TWAP", "VWAP", "AlmgrenChriss", "Oracle"]
    assert pl.read_parquet(out / "orders.parquet").height == 5 * 20
    for png in ("schedule.png", "pa_distribution.png"):
        assert (out / png).stat().st_size > 5000


def test_train_student_from_the_saved_teacher(teacher_zip, saved_market, tmp_path, capsys):
    from sb3_distill import DistillRecurrentPPO

    out = tmp_path / "student.zip"
    argv = ["train", "student", "--data", str(saved_market), "--teacher", str(teacher_zip), "--mu", "0.05", "--out", str(out)]
    assert main([*argv, *TINY]) == 0
    printed = capsys.readouterr().out
    assert f"saved DistillRecurrentPPO (student, 512 steps) to {out}" in printed and "training " in printed
    assert DistillRecurrentPPO.load(out).distill_coef(1.0) == 0.05  # mu, as a schedule of the progress remaining
    argv = ["evaluate", str(out), "--data", str(saved_market), "--name", "student", "--baselines", "TWAP,Oracle"]
    assert main([*argv, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "DistillRecurrentPPO (--algo DistillRecurrentPPO)" in printed
    assert table_rows(printed) == ["agent", "student", "TWAP", "Oracle"]


def test_train_student_with_the_oracle(saved_market, tmp_path, capsys):
    out = tmp_path / "oracle_student"  # no suffix: SB3 saves oracle_student.zip, and loads it by either name
    assert main(["train", "student", "--data", str(saved_market), "--teacher", "oracle", "--out", str(out), *TINY]) == 0
    assert f"to {out}.zip" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--data", str(saved_market), "--baselines", "Oracle", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "(--algo DistillRecurrentPPO)" in printed
    assert table_rows(printed) == ["agent", "model", "TWAP", "Oracle"]  # TWAP, the reference, is always there


def test_train_ppo_continuous_to_the_default_path(saved_market, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    settings = ["--data", str(saved_market), "--action-type", "continuous", "--step-minutes", "60"]
    assert main(["train", "recurrent_ppo", *settings, *TINY]) == 0
    saved = tmp_path / "models" / "recurrent_ppo.zip"
    assert saved.is_file()
    # the control is the student's learner without a teacher
    assert "saved DistillRecurrentPPO (recurrent_ppo, 512 steps) to models/recurrent_ppo.zip" in capsys.readouterr().out
    argv = ["evaluate", "models/recurrent_ppo.zip", *settings, "--algo", "RecurrentPPO", "--baselines", "TWAP,AlmgrenChriss",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0  # sb3-contrib's class loads it too
    printed = capsys.readouterr().out
    assert "RecurrentPPO (--algo RecurrentPPO)" in printed
    assert "step_minutes=60 alpha=0.01 penalty_per=minute action_type=continuous" in printed
    assert table_rows(printed) == ["agent", "model", "TWAP", "AlmgrenChriss"]
    assert main(["evaluate", "models/recurrent_ppo.zip", *settings, "--no-progress"]) == 0
    assert "DistillRecurrentPPO (--algo DistillRecurrentPPO)" in capsys.readouterr().out  # told apart from the saved policy
    # a continuous model on the default (discrete) env: told which settings to use
    assert main(["evaluate", "models/recurrent_ppo.zip", "--data", str(saved_market), "--no-progress"]) == 1
    assert "--action-type continuous" in capsys.readouterr().err


def test_train_and_evaluate_errors(teacher_zip, saved_market, tmp_path, capsys):
    data = ["--data", str(saved_market)]
    assert main(["train", "recurrent_ppo", *data, "--teacher", "oracle", *TINY]) == 2
    assert "'train student' only" in capsys.readouterr().err
    assert main(["train", "student", *data, "--teacher", str(tmp_path / "missing.zip"), *TINY]) == 1
    assert capsys.readouterr().err.startswith("error:")
    assert main(["evaluate", str(tmp_path / "missing.zip"), *data]) == 1
    assert "no model at" in capsys.readouterr().err
    not_a_model = tmp_path / "bars.zip"
    not_a_model.write_text("not a zip")
    assert main(["evaluate", str(not_a_model), *data]) == 1
    assert "not a model saved by SB3" in capsys.readouterr().err
    assert main(["evaluate", str(teacher_zip), *data, "--algo", "DQN"]) == 1
    assert "check --algo" in capsys.readouterr().err
    assert main(["evaluate", str(teacher_zip), *data, "--baselines", "TWAP,Nobody"]) == 2
    assert "unknown baselines ['Nobody']" in capsys.readouterr().err
    assert main(["evaluate", str(teacher_zip), *data, "--name", "Oracle"]) == 2
    assert "is a baseline's name" in capsys.readouterr().err


def test_the_gym_package_never_imports_sb3_distill(saved_market):
    """With sb3_distill made unimportable, every module of order_exec_gym imports and order-exec's own commands run;
    the commands sb3_distill adds are reported unavailable."""
    script = f"""
import importlib, pkgutil, sys
sys.modules["sb3_distill"] = None  # any import of it now fails
import order_exec_gym
for module in pkgutil.walk_packages(order_exec_gym.__path__, "order_exec_gym."):
    importlib.import_module(module.name)
assert not any(name.startswith("sb3_distill") for name in sys.modules if sys.modules[name] is not None)
from order_exec_gym.cli import main
sys.exit(main(["baselines", "--data", {str(saved_market)!r}, "--n-orders", "5", "--agents", "TWAP", "--no-progress"]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "│ TWAP" in done.stdout
    assert "order-exec command 'train' (sb3_distill.cli:add_train) is unavailable" in done.stderr


@pytest.mark.parametrize(
    ("algorithm", "action_type"),
    [("A2C", "discrete"), ("TRPO", "discrete"), ("QRDQN", "discrete"), ("SAC", "continuous"), ("TD3", "continuous")],
)
def test_evaluate_tells_any_sb3_algorithm_or_refuses_to_guess(saved_market, small_market, tmp_path, capsys, algorithm, action_type):
    """An A2C zip was reported as PPO, a SAC zip had no --algo that fitted; TD3 and DDPG cannot be told apart."""
    from sb3_distill.cli import ALGORITHMS
    from sb3_distill.vec_env import OrderExecutionVecEnv

    cls = ALGORITHMS[algorithm]
    extra = dict(learning_starts=0, buffer_size=64) if algorithm in ("QRDQN", "SAC", "TD3") else {}
    env = OrderExecutionVecEnv(2, data=small_market, action_type=action_type)
    cls("MultiInputPolicy", env, policy_kwargs=dict(net_arch=[8]), **extra).save(tmp_path / algorithm)
    argv = ["evaluate", str(tmp_path / f"{algorithm}.zip"), "--data", str(saved_market), "--action-type", action_type,
            "--n-orders", "8", "--baselines", "TWAP", "--no-progress"]  # fmt: skip
    if algorithm == "TD3":
        assert main(argv) == 1
        assert "a TD3 or a DDPG model" in capsys.readouterr().err
        argv += ["--algo", "TD3"]
    assert main(argv) == 0
    assert f"{algorithm} (--algo {algorithm})" in capsys.readouterr().out


# ---------------------------------------------------------------------------- what a newcomer reads (issue 22)

HELP_COMMANDS = [["--help"], ["data", "--help"], ["data", "check", "--help"], ["data", "summary", "--help"],
                 ["baselines", "--help"], ["train", "--help"], ["evaluate", "--help"]]  # fmt: skip


def help_text(argv: list[str], capsys) -> str:
    """The help of ``argv``, its whitespace runs (wraps) made single spaces."""
    with pytest.raises(SystemExit):
        main(argv)
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("argv", HELP_COMMANDS, ids=lambda argv: " ".join(argv[:-1]) or "order-exec")
def test_help_texts_are_clean(argv, capsys):
    """No doubled percent signs, no Python reprs as defaults, no snake_case metavars left to guess."""
    text = help_text(argv, capsys)
    assert "%%" not in text and "%(" not in text
    assert not re.search(r"default: [(\[]", text), text  # no tuple or list repr
    metavars = set(re.findall(r"--[a-z-]+ ([A-Z][A-Z_|a-z,.0-9]*)", text)) - {"MODEL_PATH"}
    assert not [metavar for metavar in metavars if "_" in metavar], metavars  # e.g. PLOT_ORDER, N_ORDERS
    if argv[0] in ("baselines", "train", "evaluate"):
        assert "--levels L0,L1,... discrete levels, in units of level_unit (>= 0) (default: 0,0.5,1,1.5,2)" in text
        assert "--paper" in text and "--signal S" in text
    if argv[0] == "baselines":
        assert "paired bootstrap 95% interval" in text


def test_train_help_names_the_networks_and_the_kinds(capsys):
    text = help_text(["train", "--help"], capsys)
    assert "--network {lstm,gru}" in text and "gru: the paper's" in text and "(default: lstm; gru with --paper)" in text
    for kind in ("teacher", "student", "recurrent_ppo", "ppo", "dqn"):
        assert f"{kind}: " in text
    assert "LSTM)" not in text  # the student is not called an LSTM whatever its network


def test_paper_starts_from_paper_config_and_given_settings_override_it():
    from order_exec_gym import PAPER_CONFIG
    from order_exec_gym.cli import config_from_args

    parser = build_parser()
    assert config_from_args(parser.parse_args(["baselines", "--paper"])) == PAPER_CONFIG
    given = config_from_args(parser.parse_args(["baselines", "--paper", "--levels", "0,1", "--no-market-features"]))
    assert given == PAPER_CONFIG.replace(levels=(0.0, 1.0), market_features=False)
    # an option given with its default value still overrides the paper's
    assert config_from_args(parser.parse_args(["baselines", "--paper", "--level-unit", "twap"])).level_unit == "twap"
    assert config_from_args(parser.parse_args(["baselines", "--levels", "0,1"])).level_unit == "twap"  # no --paper
    assert config_from_args(parser.parse_args(["train", "teacher", "--paper", "--window-minutes", "None"])) == PAPER_CONFIG


def test_baselines_on_the_paper_settings_and_the_signal_market(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["baselines", "--paper", "--signal", "2", "--n-orders", "12", "--agents", "Oracle,PublicBound", "--out", str(out),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("synthetic(n_symbols=30, n_days=100, seed=0, signal=2) split=test orders=12")
    assert "levels=(0.0, 0.25, 0.5, 0.75, 1.0) level_unit=order lookback=30 history=session market_features=True" in printed
    assert table_rows(printed) == ["agent", "TWAP", "Oracle", "PublicBound"]  # PublicBound applies to a signal market
    assert "PublicBound: knows the synthetic market's model" in printed
    assert main(["baselines", "--data", "ashare-1min", "--signal", "2"]) == 2
    assert "--signal sets the synthetic market's signal; it does not apply to --data ashare-1min" in capsys.readouterr().err
    assert main(["baselines", "--signal", "-1", "--n-orders", "2", "--no-progress"]) == 1
    assert "error: signal must be finite and >= 0" in capsys.readouterr().err
    assert main(["data", "summary", "--signal", "2"]) == 0
    assert "signal=2" in capsys.readouterr().out


def test_the_table_prints_whole_with_a_legend_and_the_csv_names_its_columns_the_same(saved_market, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["baselines", "--data", str(saved_market), "--n-orders", "20", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "…" not in printed  # nothing truncated
    lines = printed.splitlines()
    header = next(line for line in lines if line.startswith("│ agent"))
    columns = [cell.strip() for cell in header.strip("│").split("┆")]
    table = pl.read_csv(out / "comparison.csv")
    assert columns == table.columns == ["agent", "mean_reward_bps", "pa_mean", "pa_std", "glr", "n_orders", "pa_diff",
                                        "ci_low", "ci_high"]  # fmt: skip
    assert len({len(line) for line in lines if line[:1] in "┌│╞└"}) == 1  # no wrapped cell: every row one line
    assert table_rows(printed) == ["agent", *AGENTS]
    # the screen shows the CSV's values, in bps (the reward too), to two decimals
    twap_vwap = [line for line in lines if line.startswith(("│ VWAP", "│ Oracle"))]
    for line, row in zip(twap_vwap, table.filter(pl.col("agent").is_in(["VWAP", "Oracle"])).iter_rows(named=True)):
        assert f"┆ {row['mean_reward_bps']:.2f}" in line and f"┆ {row['pa_mean']:.2f}" in line
    oracle = table.row(AGENTS.index("Oracle"), named=True)
    assert 1 < oracle["mean_reward_bps"] <= oracle["pa_mean"]  # bps, less the penalty
    legend = " ".join(printed[printed.index("└") :].split())  # lines wrapped at 118 characters, joined
    assert "mean_reward_bps: mean episode reward x 1e4, in bps" in legend
    assert "glr: gain-loss ratio" in legend and "inf: no order lost" in legend and "NaN: no order gained or lost" in legend
    assert "mean PA minus TWAP's on the same orders, and its paired bootstrap 95% interval" in legend


def test_the_pictures_of_an_evaluation_say_what_they_show(saved_market, tmp_path, monkeypatch):
    """schedule.png names how its order was chosen; pa_distribution.png names the market, the split, the orders."""
    import order_exec_gym.plots as plots

    titles = []
    save = plots._save

    def keep_titles(figure, path):
        titles.append(" ".join(axes.get_title() for axes in figure.axes))
        return save(figure, path)

    monkeypatch.setattr(plots, "_save", keep_titles)
    argv = ["baselines", "--data", str(saved_market), "--n-orders", "20", "--plot-order", "3", "--out", str(tmp_path),
            "--split", "valid", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    schedule, distribution = titles
    assert "order 3 of the 20 evaluated orders, chosen with --plot-order" in schedule
    assert "Price advantage of 20 orders" in distribution and "valid split" in distribution
    assert "synthetic(n_symbols=4, n_days=20, seed=7)" in distribution  # the saved market's source


def test_train_recurrent_ppo_with_the_gru_network_and_the_paper_settings(saved_market, tmp_path, capsys):
    from sb3_distill import DistillRecurrentPPO
    from sb3_distill.policies import StudentGruPolicy, StudentLstmPolicy

    gru, lstm = tmp_path / "gru.zip", tmp_path / "lstm.zip"
    assert main(["train", "recurrent_ppo", "--data", str(saved_market), "--network", "gru", "--out", str(gru), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "train recurrent_ppo: DistillRecurrentPPO with the GRU network (StudentGruPolicy)" in printed
    assert type(DistillRecurrentPPO.load(gru).policy) is StudentGruPolicy
    assert main(["train", "recurrent_ppo", "--data", str(saved_market), "--out", str(lstm), *TINY]) == 0
    assert "with the LSTM network (StudentLstmPolicy)" in capsys.readouterr().out
    assert type(DistillRecurrentPPO.load(lstm).policy) is StudentLstmPolicy
    # --paper: the paper's settings and its GRU network, unless --network says otherwise
    assert main(["train", "student", "--paper", "--signal", "1", "--out", str(tmp_path / "paper.zip"), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "train student: DistillRecurrentPPO with the GRU network (StudentGruPolicy), teacher oracle;" in printed
    assert "on synthetic(n_symbols=30, n_days=100, seed=0, signal=1) split=train" in printed
    assert "level_unit=order lookback=30 history=session market_features=True" in printed
    assert main(["evaluate", str(tmp_path / "paper.zip"), "--paper", "--signal", "1", "--n-orders", "8", "--no-progress"]) == 0
    assert table_rows(capsys.readouterr().out)[1] == "model"  # a student drops the privileged key: no label
    assert main(["train", "teacher", "--data", str(saved_market), "--network", "gru", *TINY]) == 2
    assert "--network applies to 'train student' and 'train recurrent_ppo' only, not to 'teacher'" in capsys.readouterr().err


def test_train_shows_progress_by_default_without_rich(saved_market, tmp_path, monkeypatch, capsys):
    """A tqdm bar on stderr up to the end of the last whole rollout (4 orders x 256 steps), with the reward in bps
    whatever the reward_scale; SB3's own bar would need rich, which is not installed with us."""
    monkeypatch.setitem(sys.modules, "rich", None)  # importing rich fails, as where it is not installed
    rewards = []
    for scale in ("1", "100"):
        argv = ["train", "teacher", "--data", str(saved_market), "--steps", "256", "--n-envs", "4", "--reward-scale", scale,
                "--out", str(tmp_path / f"teacher{scale}.zip")]  # fmt: skip
        assert main(argv) == 0
        bar = capsys.readouterr().err
        assert "teacher: 100%" in bar and "1024/1024" in bar
        rewards.append(re.findall(r"reward_bps=(-?\d+\.\d+)", bar)[-1])
    assert rewards[0] == rewards[1]  # one rollout, the same episodes: reward_scale undone
