"""``order-exec train`` and ``order-exec evaluate MODEL``: the commands this package adds to ``order-exec``.

::

    order-exec train {teacher,student,recurrent_ppo,ppo,dqn} [...]   train a model (sb3_distill.training), save it
    order-exec evaluate MODEL_PATH [...]                             compare a saved model with the baselines

Registered in the ``order_exec_gym.commands`` entry-point group (see :mod:`order_exec_gym.cli`). A model that reads
the privileged observation (the teacher) is labelled as such in the tables (:func:`sees_the_future`).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
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
    market_data,
    run_evaluation,
)
from sb3_distill.distill_ppo import DistillRecurrentPPO
from sb3_distill.policies import PRIVILEGED_KEY, StudentLstmPolicy
from sb3_distill.training import NETWORKS, RECIPES, train

#: The algorithms ``order-exec evaluate`` loads, by class name (``--algo``): every Stable-Baselines3 and sb3-contrib
#: algorithm, and ours.
ALGORITHMS: dict[str, type[BaseAlgorithm]] = {
    cls.__name__: cls
    for cls in (PPO, A2C, DQN, SAC, TD3, DDPG, RecurrentPPO, MaskablePPO, TRPO, QRDQN, TQC, CrossQ, ARS, DistillRecurrentPPO)
}
EVAL_BASELINES = ("TWAP", "VWAP", "AlmgrenChriss", "Oracle")
#: What each kind of ``order-exec train`` trains (its help).
KINDS = {
    "teacher": "PPO with the TeacherPolicy on the privileged observation, which sees the whole window, future included",
    "student": "DistillRecurrentPPO on public information, distilled from --teacher",
    "recurrent_ppo": "the student's control, the same learner and network without a teacher: DistillRecurrentPPO at "
    "mu=0",
    "ppo": "feed-forward PPO on the public observation",
    "dqn": "DQN on the public observation, discrete actions only",
}
#: The recurrent networks of ``--network`` (:data:`sb3_distill.training.NETWORKS`), in words.
NETWORK_HELP = {
    "lstm": "an LSTM over the decisions, on the flattened observation",
    "gru": "the paper's: a GRU over the public bars, then a GRU over the decisions",
}
#: The kinds of model that have a recurrent network to choose (``--network``).
RECURRENT_KINDS = ("student", "recurrent_ppo")
#: DistillRecurrentPPO's default distillation coefficient mu (``--mu``'s default).
DISTILL_COEF = inspect.signature(DistillRecurrentPPO).parameters["distill_coef"].default
#: The label :func:`run_evaluate` adds to a model that reads the privileged observation.
PRIVILEGED_LABEL = "(privileged: sees the future)"


# ------------------------------------------------------------------------------------------------------ train


def add_train(subparsers: argparse._SubParsersAction) -> None:
    """``order-exec train KIND``, one kind per recipe of :data:`sb3_distill.training.RECIPES`."""
    kinds = "; ".join(f"{kind}: {what}" for kind, what in KINDS.items())
    networks = "; ".join(f"{name}: {what}" for name, what in NETWORK_HELP.items())
    parser = subparsers.add_parser(
        "train",
        help="train the PPO teacher, the distilled student or a baseline without distillation, and save it",
        description=f"Train a model with sb3_distill.training on OrderExec-v0 orders of a split and save it with SB3's "
        f"model.save. KIND is what to train: {kinds}. A progress bar on stderr shows the steps and the mean episode "
        "reward in bps. Evaluate the model with 'order-exec evaluate' and the settings it was trained with "
        "(--signal, --paper, ...).",
    )
    parser.add_argument("kind", choices=tuple(RECIPES), metavar="KIND", help=f"what to train: {', '.join(RECIPES)}")
    add_data_argument(parser)
    parser.add_argument("--split", default="train", help="split whose orders are trained on (default: train)")
    parser.add_argument(
        "--steps", type=int, default=100_000, metavar="N", help="env steps (decisions) to train for (default: 100000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the model and the env (default: 0)")
    parser.add_argument("--n-envs", type=int, default=16, metavar="N", help="orders stepped in parallel (default: 16)")
    add_config_arguments(parser, exclude=("privileged",))  # the recipe decides
    recurrent = parser.add_argument_group("student and recurrent_ppo only")
    recurrent.add_argument(
        "--network", choices=tuple(NETWORKS), default=None,
        help=f"the recurrent network ({networks}) (default: lstm; gru with --paper)",
    )  # fmt: skip
    student = parser.add_argument_group("student only")
    student.add_argument(
        "--mu", type=float, default=None,
        help=f"distillation coefficient mu (default: DistillRecurrentPPO's, {DISTILL_COEF})",
    )  # fmt: skip
    student.add_argument(
        "--teacher", default=None, metavar="PATH|oracle",
        help="a teacher saved by 'order-exec train teacher' (loaded with PPO.load), or 'oracle' for the "
        "perfect-information OracleTeacher (default: oracle)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, metavar="PATH", help="where to save the model (default: models/KIND.zip)")
    parser.add_argument("--tensorboard", metavar="DIR", help="write tensorboard logs here (needs tensorboard)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (default: one, on stderr)")
    parser.set_defaults(handler=run_train)


def network_of(args: argparse.Namespace) -> str:
    """The recurrent network of ``--network`` (:data:`~sb3_distill.training.NETWORKS`): lstm by default, the
    paper's gru with ``--paper``; refused for a kind without one."""
    if args.network is not None and args.kind not in RECURRENT_KINDS:
        raise UsageError(f"--network applies to 'train student' and 'train recurrent_ppo' only, not to {args.kind!r}")
    if args.network is not None:
        return args.network
    return "gru" if args.paper else "lstm"


def run_train(args: argparse.Namespace) -> int:
    """Train one model, say what is trained on what, save it, print where and how long it took."""
    if args.kind != "student" and (args.teacher is not None or args.mu is not None):
        raise UsageError("--teacher and --mu apply to 'train student' only")
    if args.tensorboard is not None and importlib.util.find_spec("tensorboard") is None:
        raise ValueError("--tensorboard needs the tensorboard package (pip install tensorboard)")
    network = network_of(args)
    config = config_from_args(args)
    data = market_data(args)
    env_kwargs = {"data": data, "split": args.split, **config}
    kwargs = {}
    recipe = RECIPES[args.kind]
    what = recipe.algorithm.__name__
    if args.kind in RECURRENT_KINDS:
        kwargs["network"] = network
        what += f" with the {network.upper()} network ({NETWORKS[network][0].__name__})"
    if args.kind == "student":
        kwargs["teacher"] = "oracle" if args.teacher in (None, "oracle") else PPO.load(args.teacher)
        what += f", teacher {args.teacher or 'oracle'}"
        if args.mu is not None:
            kwargs["distill_coef"] = args.mu
            what += f", mu={args.mu}"
    out = args.out if args.out is not None else Path("models") / f"{args.kind}.zip"
    if not out.suffix:
        out = out.with_name(out.name + ".zip")  # where SB3's save writes a path without suffix
    market = getattr(data, "source", data)
    settings = " ".join(f"{name}={value}" for name, value in config.items() if name != "privileged")
    print(f"train {args.kind}: {what}; {args.steps:,} steps on {market} split={args.split} {settings}")
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
        "baselines on the same orders of a split, and print the table of 'order-exec baselines'. Use the market "
        "and env settings the model was trained with (--signal, --paper, --step-minutes, --action-type, ...). A "
        f"model that reads the privileged observation (a teacher) is labelled {PRIVILEGED_LABEL!r}.",
    )
    parser.add_argument("model", metavar="MODEL_PATH", type=Path, help="the model's .zip, as written by model.save")
    parser.add_argument(
        "--algo", default="auto", choices=("auto", *ALGORITHMS), metavar="ALGO",
        help=f"the model's algorithm, one of {', '.join(ALGORITHMS)}; auto reads the policy class saved in the zip "
        "(default: auto)",
    )  # fmt: skip
    parser.add_argument(
        "--name", default=None,
        help=f"the model's row in the table (default: model, or teacher for a model that reads the privileged "
        f"observation; either way followed by {PRIVILEGED_LABEL!r} for such a model)",
    )  # fmt: skip
    add_evaluation_arguments(parser)
    parser.add_argument(
        "--baselines", default=",".join(EVAL_BASELINES), metavar="NAMES",
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


def sees_the_future(model: BaseAlgorithm) -> bool:
    """Whether ``model`` acts on the privileged observation (the whole window, future included): its observation
    space has the privileged key and its policy is not a student's, which drops it
    (:class:`~sb3_distill.policies.StudentLstmPolicy`)."""
    keys = getattr(model.observation_space, "spaces", {})
    return PRIVILEGED_KEY in keys and not isinstance(model.policy, StudentLstmPolicy)


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
    privileged = sees_the_future(model)
    label = args.name or ("teacher" if privileged else "model")
    notes = {}
    if privileged:
        label = f"{label} {PRIVILEGED_LABEL}"
        notes[label] = (f"{label}: reads the privileged observation, the whole window with its future prices, as the "
                        "OPD teacher does: a bound for the students, not a strategy one could trade")  # fmt: skip
    return run_evaluation(args, {label: model, **{name: name for name in names}}, "TWAP", notes)
