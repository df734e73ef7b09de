"""``order-exec train`` and ``order-exec evaluate MODEL``: the commands this package adds to ``order-exec``.

::

    order-exec train {teacher,student,recurrent_ppo,ppo,dqn} [...]   train a model (sb3_distill.training), save it
    order-exec evaluate MODEL_PATH [...]                             compare a saved model with the baselines

Registered in the ``order_exec_gym.commands`` entry-point group (see :mod:`order_exec_gym.cli`).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from sb3_contrib import ARS, TQC, TRPO, CrossQ, MaskablePPO, QRDQN, RecurrentPPO
from stable_baselines3 import A2C, DDPG, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.save_util import load_from_zip_file

from order_exec_gym.cli import (
    UsageError,
    add_config_arguments,
    add_data_argument,
    add_evaluation_arguments,
    baseline_names,
    config_from_args,
    run_evaluation,
)
from sb3_distill.distill_ppo import DistillRecurrentPPO
from sb3_distill.training import RECIPES, train

#: The algorithms ``order-exec evaluate`` loads, by class name (``--algo``): every Stable-Baselines3 and sb3-contrib
#: algorithm, and ours.
ALGORITHMS: dict[str, type[BaseAlgorithm]] = {
    cls.__name__: cls
    for cls in (PPO, A2C, DQN, SAC, TD3, DDPG, RecurrentPPO, MaskablePPO, TRPO, QRDQN, TQC, CrossQ, ARS, DistillRecurrentPPO)
}
EVAL_BASELINES = ("TWAP", "VWAP", "AlmgrenChriss", "Oracle")


# ------------------------------------------------------------------------------------------------------ train


def add_train(subparsers: argparse._SubParsersAction) -> None:
    """``order-exec train KIND``, one kind per recipe of :data:`sb3_distill.training.RECIPES`."""
    parser = subparsers.add_parser(
        "train",
        help="train the PPO teacher, the distilled student or a baseline without distillation, and save it",
        description="Train a model with sb3_distill.training on OrderExec-v0 orders of a split and save it with SB3's "
        "model.save. teacher: PPO with the TeacherPolicy on the privileged observation; student: DistillRecurrentPPO "
        "distilled from --teacher; recurrent_ppo: its control, the same learner and network without a teacher "
        "(DistillRecurrentPPO at mu=0); "
        "ppo: feed-forward PPO on the public observation; dqn: DQN.",
    )
    parser.add_argument("kind", choices=tuple(RECIPES), help="what to train: %(choices)s")
    add_data_argument(parser)
    parser.add_argument("--split", default="train", help="split whose orders are trained on (default: train)")
    parser.add_argument("--steps", type=int, default=100_000, help="env steps (decisions) to train for (default: 100000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the model and the env (default: 0)")
    parser.add_argument("--n-envs", type=int, default=16, help="orders stepped in parallel (default: 16)")
    add_config_arguments(parser, exclude=("privileged",))  # the recipe decides
    student = parser.add_argument_group("student only")
    student.add_argument("--mu", type=float, default=None, help="distillation coefficient mu (default: DistillRecurrentPPO's)")
    student.add_argument(
        "--teacher", default=None, metavar="PATH_OR_oracle",
        help="a teacher saved by 'order-exec train teacher' (loaded with PPO.load), or 'oracle' for the "
        "perfect-information OracleTeacher (default: oracle)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="where to save the model (default: models/KIND.zip)")
    parser.add_argument("--tensorboard", metavar="DIR", help="write tensorboard logs here (needs tensorboard)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Train one model, save it, print where and how long it took."""
    if args.kind != "student" and (args.teacher is not None or args.mu is not None):
        raise UsageError("--teacher and --mu apply to 'train student' only")
    if args.tensorboard is not None and importlib.util.find_spec("tensorboard") is None:
        raise ValueError("--tensorboard needs the tensorboard package (pip install tensorboard)")
    env_kwargs = {"data": args.data, "split": args.split, **config_from_args(args)}
    kwargs = {}
    if args.kind == "student":
        kwargs["teacher"] = "oracle" if args.teacher in (None, "oracle") else PPO.load(args.teacher)
        if args.mu is not None:
            kwargs["distill_coef"] = args.mu
    out = args.out if args.out is not None else Path("models") / f"{args.kind}.zip"
    if not out.suffix:
        out = out.with_name(out.name + ".zip")  # where SB3's save writes a path without suffix
    started = time.perf_counter()
    model = train(
        args.kind, env_kwargs, total_timesteps=args.steps, seed=args.seed, n_envs=args.n_envs,
        progress_bar=not args.no_progress, tensorboard_log=args.tensorboard, **kwargs,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    print(f"saved {type(model).__name__} ({args.kind}, {model.num_timesteps} steps) to {out}")
    print(f"training {seconds:.1f} s")
    return 0


# --------------------------------------------------------------------------------------------------- evaluate


def add_evaluate(subparsers: argparse._SubParsersAction) -> None:
    """``order-exec evaluate MODEL_PATH``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="compare a saved model with the baselines on a split",
        description="Load a model saved by SB3 (e.g. by 'order-exec train'), evaluate it deterministically and the "
        "baselines on the same orders of a split, and print the table of 'order-exec baselines'. Use the env "
        "settings (--step-minutes, --action-type, ...) the model was trained with.",
    )
    parser.add_argument("model", metavar="MODEL_PATH", type=Path, help="the model's .zip, as written by model.save")
    parser.add_argument(
        "--algo", default="auto", choices=("auto", *ALGORITHMS),
        help="the model's algorithm; auto reads the policy class saved in the zip (default: auto)",
    )  # fmt: skip
    parser.add_argument("--name", default="model", help="the model's row in the table (default: model)")
    add_evaluation_arguments(parser)
    parser.add_argument(
        "--baselines", default=",".join(EVAL_BASELINES),
        help="comma-separated baselines to compare with; TWAP, the reference, is always added (default: %(default)s)",
    )  # fmt: skip
    parser.set_defaults(handler=run_evaluate)


def saved_algorithm(path: Path) -> str:
    """The :data:`ALGORITHMS` name of the model saved at ``path``, from the policy class SB3 recorded in the zip and,
    where policies are shared, the hyperparameters only one algorithm saves (a recurrent policy with a
    ``distill_coef`` is DistillRecurrentPPO's; an actor-critic with ``cg_max_steps`` TRPO's, with ``clip_range``
    PPO's, else A2C's). TD3 and DDPG save the same policy and settings: they are not guessed."""
    from sb3_contrib.ars.policies import ARSPolicy
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
    from sb3_contrib.crossq.policies import CrossQPolicy
    from sb3_contrib.qrdqn.policies import QRDQNPolicy
    from sb3_contrib.tqc.policies import TQCPolicy
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.dqn.policies import DQNPolicy
    from stable_baselines3.sac.policies import SACPolicy
    from stable_baselines3.td3.policies import TD3Policy

    try:
        data = load_from_zip_file(path, device="cpu")[0]
    except ValueError as error:
        raise ValueError(f"{path} is not a model saved by SB3 ({error})") from None
    policy = (data or {}).get("policy_class")
    if not isinstance(policy, type):
        raise ValueError(f"{path} is not a model saved by SB3 (it records no policy class)")
    if issubclass(policy, RecurrentActorCriticPolicy):
        return "DistillRecurrentPPO" if "distill_coef" in data else "RecurrentPPO"
    if issubclass(policy, MaskableActorCriticPolicy):
        return "MaskablePPO"
    if issubclass(policy, ActorCriticPolicy):
        return "TRPO" if "cg_max_steps" in data else "PPO" if "clip_range" in data else "A2C"
    for family, name in ((QRDQNPolicy, "QRDQN"), (DQNPolicy, "DQN"), (TQCPolicy, "TQC"), (CrossQPolicy, "CrossQ"),
                         (SACPolicy, "SAC"), (ARSPolicy, "ARS")):  # fmt: skip
        if issubclass(policy, family):
            return name
    if issubclass(policy, TD3Policy):
        raise ValueError(f"{path} is a TD3 or a DDPG model (both save a {policy.__name__}): pass --algo TD3 or DDPG")
    raise ValueError(f"cannot tell the algorithm of {path} from its policy {policy.__name__}: pass --algo, one of "
                     f"{', '.join(ALGORITHMS)}")  # fmt: skip


def load_model(path: Path, algo: str = "auto") -> tuple[BaseAlgorithm, str]:
    """Load a saved SB3 model with ``algo``'s class (:data:`ALGORITHMS`), or the class :func:`saved_algorithm`
    reads from the zip; returns ``(model, algo)``."""
    if not path.exists() and path.with_name(path.name + ".zip").exists():
        path = path.with_name(path.name + ".zip")
    if not path.is_file():
        raise FileNotFoundError(f"no model at {path}")
    if algo == "auto":
        algo = saved_algorithm(path)
    try:
        return ALGORITHMS[algo].load(path, device="cpu"), algo
    except Exception as error:  # a wrong --algo fails anywhere in SB3's load, with any exception
        raise ValueError(f"cannot load {path} as {algo} ({type(error).__name__}: {error}): check --algo") from error


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a saved model and the baselines on the same orders, print the table, optionally write outputs."""
    from gymnasium import spaces

    from order_exec_gym.baselines import BASELINES

    names = baseline_names(args.baselines)
    if args.name in BASELINES:
        raise UsageError(f"--name {args.name!r} is a baseline's name")
    if "TWAP" not in names:
        names.insert(0, "TWAP")
    started = time.perf_counter()
    model, algo = load_model(args.model, args.algo)
    print(f"{args.model}: {type(model).__name__} (--algo {algo}), {model.num_timesteps} training steps, "
          f"loaded in {time.perf_counter() - started:.1f} s")  # fmt: skip
    discrete = isinstance(model.action_space, spaces.Discrete)
    if discrete != (args.action_type == "discrete"):
        raise ValueError(
            f"the model acts in {model.action_space}: evaluate it with --action-type "
            f"{'discrete' if discrete else 'continuous'} (the settings it was trained with)"
        )
    return run_evaluation(args, {args.name: model, **{name: name for name in names}}, "TWAP")
