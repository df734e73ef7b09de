"""OrderExecutionEnv: one order at a time, on the batched simulator with a single slot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from order_exec_gym.config import PAPER_LEVELS, ExecutionConfig
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.orders import Orders, whole_number
from order_exec_gym.task import ExecutionTask, check_options

#: The default settings: the env's keyword defaults are read from here, so they have one owner.
DEFAULTS = ExecutionConfig()

#: OrderExec-v1's market: the synthetic market whose sessions fade twice their opening gap (a public signal).
V1_DATA = "synthetic:signal=2"
#: OrderExec-v1's defaults, the keyword arguments it is registered with (``gym.spec("OrderExec-v1").kwargs``): its
#: market, the paper's order-sized levels, the session so far and the previous session as public history (where the
#: opening gap is seen), and rewards x100 (an episode's reward is PA / 100 less 100 times the penalty). Chosen by
#: benchmarks/default_task_learning.py: see the env's Version History.
V1_KWARGS: dict[str, Any] = {
    "data": V1_DATA, "levels": PAPER_LEVELS, "level_unit": "order", "history": "session", "reward_scale": 100.0,
}  # fmt: skip


class OrderExecutionEnv(gym.Env):
    """
    ## Description

    Execute one order of a whole quantity Q within a window of minute bars, as in "Universal Trading for Order
    Execution with Oracle Policy Distillation" (Fang et al., AAAI 2021). Each episode is one instrument-day
    (by default a whole session) cut into T = ceil(window / step_minutes) decision steps. At every step the
    agent chooses the share of the order to trade during that step; the quantity is spread evenly over the
    step's bars and fills at their mean price.

    Two ids: ``gym.make("OrderExec-v1")``, the learnable default task (a synthetic market with a documented public
    signal, rewards in units a plain PPO learns from: its defaults are the column "v1" of Arguments, see Version
    History), and ``gym.make("OrderExec-v0")``, whose defaults are the env's own (the signal-free synthetic market,
    rewards ~1e-4: flat for every learner).

    ## Action Space

    One semantics, two encodings (``action_type``): the ratio ``a_t`` of the original order to trade now.

    - ``"discrete"`` (default): ``Discrete(K)``; action ``i`` trades ``levels[i] / T`` with ``level_unit="twap"``
      (multiples of the TWAP rate; default levels (0, 0.5, 1, 1.5, 2): action 2 is TWAP), or ``levels[i]`` of the
      whole order with ``level_unit="order"`` (the paper code's ``PAPER_LEVELS`` (0, 0.25, 0.5, 0.75, 1): action 4
      trades everything that remains). Anything but an integer in [0, K) raises ``ValueError``.
    - ``"continuous"``: ``Box(0, 1, (1,))``, ``a_t`` directly. NaN or infinite raises ``ValueError``; finite
      values are clipped to [0, 1].

    The executed ratio is clipped to what remains (never oversell); at the last step whatever remains is
    executed whatever the action (``info["forced"]``). So executed ratios are >= 0 and sum to 1.

    ## Observation Space

    ``Dict``, float32, with no look-ahead outside ``privileged``:

    | key          | shape            | content                                                                |
    |--------------|------------------|------------------------------------------------------------------------|
    | private      | (4,)             | remaining ratio, elapsed share of the steps t/T, side (+1 sell, -1 buy), TWAP rate 1/T |
    | public       | (L, F)           | ``history="lookback"``: the last L = ``lookback // bar_minutes`` bars before the decision (``lookback`` is in minutes): price vs. reference, log volume vs. trailing mean, return, range (percent; zero before the session); F = 4, or 7 with ``market_features`` (mean and dispersion of the instruments' returns since the open, market volume vs. its trailing mean) |
    | public       | (2M, F + 1)      | ``history="session"``: the instrument's previous session (M = bars per session) and the current session up to the decision (later bars zero), plus a column that is 1 on rows holding a bar |
    | privileged   | (M, 5)           | only with ``privileged=True``: the 4 bar features over the whole window, future included, and a 1 on the window's bars (for an oracle teacher) |

    See :mod:`order_exec_gym.features` for the exact definitions.

    ## Rewards

    With s = +1 for a sell, -1 for a buy, ``p_exec`` the step's mean price, ``p_bench`` the window's mean price
    (``benchmark="mean"``) or VWAP (``"vwap"``) and ``m_t`` the step's length in minutes:
    ``R_t = reward_scale * (s * a_t * (p_exec / p_bench - 1) - alpha * a_t ** 2 / m_t)`` with the penalty charged per
    minute (``penalty_per="minute"``, the paper's code: each minute of the step trades ``a_t / m_t`` and pays
    ``alpha (a_t / m_t) ** 2``), or ``... - alpha * a_t ** 2`` per step (``"step"``). Summed over an episode:
    ``PA / 1e4 - alpha * sum(a_t ** 2 / m_t)`` (or ``sum(a_t ** 2)``), before scaling, where PA is the price
    advantage in basis points, reported in ``info["price_advantage"]`` at the end.

    ## Starting State

    ``reset()`` draws an order with the env's RNG: an episode of the split, the side, and (with
    ``window_minutes``) a window start. ``reset(options={"episode": i})`` trades episode ``i`` (side and window
    drawn as usual); ``reset(options={"order": Order(...)})`` replays a given order exactly.

    ## Episode End

    Terminated when the order is complete: nothing remains, or the last step was executed. Never truncated.

    ## Info

    ``reset``: ``episode_index`` (the instrument-day's row in the split), ``symbol``, ``date``, ``side``, ``start`` and
    ``length`` (bars of the window), ``n_steps``. ``step``: ``executed``, ``exec_price``, ``remaining``, ``forced``;
    at the episode's end also ``benchmark_price``, ``price_advantage`` (bps) and ``episode_reward`` (unscaled). No
    key is one that Gymnasium's or Stable-Baselines3's wrappers write (``episode``, ``final_obs``, ``final_info``,
    ``terminal_observation``, ``TimeLimit.truncated``, ...), so ``RecordEpisodeStatistics`` and ``Monitor`` work.

    ## Arguments

    | parameter      | type                     | default            | v1 (where it differs)   | description                         |
    |----------------|--------------------------|--------------------|-------------------------|-------------------------------------|
    | data           | MarketDataset, str, None | None               | "synthetic:signal=2"    | dataset, preset name or saved-dataset directory; None or "synthetic": the embedded synthetic market; "synthetic:name=value,...": it with those options (``data.resolve.load_dataset``) |
    | split          | str                      | "train"            |                         | date split: "train", "valid", "test" or "all" |
    | side           | str                      | "sell"             |                         | "sell", "buy" or "random" (a fair coin per order) |
    | step_minutes   | int                      | 30                 |                         | minutes per decision step (a multiple of the bar length) |
    | alpha          | float                    | 0.01               |                         | temporary-impact penalty on a_t ** 2 |
    | penalty_per    | str                      | "minute"           |                         | "minute" (alpha a_t ** 2 / m_t) or "step" (alpha a_t ** 2) |
    | action_type    | str                      | "discrete"         |                         | "discrete" or "continuous"          |
    | levels         | sequence of float        | (0, 0.5, 1, 1.5, 2)| (0, 0.25, 0.5, 0.75, 1) | discrete levels, in units of ``level_unit`` |
    | level_unit     | str                      | "twap"             | "order"                 | "twap" (a level is a multiple of 1/T) or "order" (a fraction of the order) |
    | lookback       | int                      | 30                 |                         | minutes of history in ``public`` with history="lookback" |
    | history        | str                      | "lookback"         | "session"               | "lookback" or "session" (this and the previous session) |
    | market_features| bool                     | False              |                         | add the cross-sectional market context to ``public`` |
    | privileged     | bool                     | False              |                         | add the ``privileged`` key (future of the window) |
    | reward_scale   | float                    | 1.0                | 100.0                   | multiplies the reward (metrics stay unscaled) |
    | benchmark      | str                      | "mean"             |                         | p_bench: "mean" bar price or "vwap" of the window |
    | window_minutes | int or None              | None               |                         | window length; None: the whole session |

    "default" is the env's (``OrderExecutionEnv(...)``, ``gym.make("OrderExec-v0")``); "v1" is
    ``gym.make("OrderExec-v1")``'s where it differs (:data:`V1_KWARGS`, the id's registered keyword arguments, which
    any keyword of ``gym.make`` overrides). Every argument but ``data`` and ``split`` is a field of
    :class:`~order_exec_gym.config.ExecutionConfig`, which owns its default and its check (invalid values raise
    ``ValueError`` naming the argument); the env keeps it as ``env.unwrapped.config``, and
    ``gym.make("OrderExec-v0", **config)`` takes a config as keyword arguments.

    ## Vectorized environment

    ``gym.make_vec("OrderExec-v1", num_envs=N, vectorization_mode="vector_entry_point")`` (or ``"OrderExec-v0"``)
    returns :class:`~order_exec_gym.vector.OrderExecutionVectorEnv`, which steps N orders in one numpy call on the
    same simulator; ``sb3_distill.vec_env.OrderExecutionVecEnv(N, env_id="OrderExec-v1")`` exposes it to
    Stable-Baselines3.

    ``order_exec_gym.PAPER_CONFIG`` holds the paper code's settings: ``gym.make("OrderExec-v0", **PAPER_CONFIG)``.

    ## Version History

    * v1: the learnable default task, registered with :data:`V1_KWARGS` (the column "v1" of Arguments); v0 is
      unchanged. On v0's defaults (the signal-free market, rewards ~1e-4) every SB3 and CleanRL run stays flat, so a
      broken set-up cannot be told from the expected result. Each v1 default was chosen by
      ``benchmarks/default_task_learning.py``: an unmodified CleanRL ``ppo.py`` through ``FlattenObservation`` and
      SB3's ``PPO("MultiInputPolicy", env)`` with its defaults, 60k steps; the figure is the mean PA of the orders that
      ended in the last tenth of the steps less that of the first tenth, CleanRL / SB3, seed 1, one setting changed:

      - ``data="synthetic:signal=2"``: the sessions fade twice their overnight gap, which is public from the open (the
        ``PublicBound`` earns +35 bps on the train days, +32 on the test days). At ``signal=1`` CleanRL stays flat
        (+2.3).
      - ``history="session"``: the previous session and the session so far, so the gap is in the first decision's
        observation. The 30-minute lookback (empty at the open): -5.8 / +10.9; the paper's state, market context
        included (``market_features=True``): +9.9 / +37.5.
      - ``levels=PAPER_LEVELS, level_unit="order"``: the paper code's levels, fractions of the whole order, so one
        decision can trade all of it before the fade. Levels in multiples of the TWAP rate: +6.4 / +18.0 (where the
        PublicBound earns +20 bps).
      - ``reward_scale=100``: an episode's return is PA / 100 less 100 times the penalty, of order 1. Unscaled:
        -1.6 / +27.7.

      With all four, seeds 1-3: CleanRL from +0.6 to +22.3 bps (+21.7; 19-33 s a run on 2 shared cores), SB3 from
      +2.8 to +45.1 (+42.3; 52-59 s); their final policies earn +27.3 and +19.8 bps on the test days (SB3's PPO, ten
      epochs a rollout, partly learns the training days by heart: +45 there, above the PublicBound's +35).
    * v0: initial version. Since 0.2 its reward charges the penalty per minute by default (``penalty_per="minute"``,
      the paper code's); ``penalty_per="step"`` gives the rewards of 0.1. The reset info's ``episode`` is
      ``episode_index`` (``episode`` is the key Gymnasium's and SB3's episode statistics write).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        data: MarketDataset | str | None = None,
        split: str = "train",
        side: str = DEFAULTS.side,
        step_minutes: int = DEFAULTS.step_minutes,
        alpha: float = DEFAULTS.alpha,
        penalty_per: str = DEFAULTS.penalty_per,
        action_type: str = DEFAULTS.action_type,
        levels: Sequence[float] = DEFAULTS.levels,
        level_unit: str = DEFAULTS.level_unit,
        lookback: int = DEFAULTS.lookback,
        history: str = DEFAULTS.history,
        market_features: bool = DEFAULTS.market_features,
        privileged: bool = DEFAULTS.privileged,
        reward_scale: float = DEFAULTS.reward_scale,
        benchmark: str = DEFAULTS.benchmark,
        window_minutes: int | None = DEFAULTS.window_minutes,
        render_mode: str | None = None,
    ):
        if render_mode is not None:
            raise ValueError(f"OrderExec has no render modes, got render_mode={render_mode!r}")
        config = ExecutionConfig(
            side=side, step_minutes=step_minutes, alpha=alpha, penalty_per=penalty_per, action_type=action_type,
            levels=levels, level_unit=level_unit, lookback=lookback, history=history, market_features=market_features,
            privileged=privileged, reward_scale=reward_scale, benchmark=benchmark, window_minutes=window_minutes,
        )  # fmt: skip
        self.task = ExecutionTask(data, split, config)
        self.config = config
        self.observation_space = self.task.observation_space
        self.action_space = self.task.action_space
        self._sim = self.task.sim
        self._done = True

    @property
    def dataset(self):
        """The split of the market the env samples orders from."""
        return self.task.dataset

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = check_options(options, ("order", "episode"))
        if "order" in options:
            orders = Orders.from_orders([options["order"]], self.dataset)
        elif "episode" in options:
            episode = whole_number(options["episode"], "reset option 'episode'")
            orders = self.task.sample(None, self.np_random, episode=np.array([episode]))
        else:
            orders = self.task.sample(1, self.np_random)
        self.task.reset(orders)
        self._done = False
        return self._observation(), self._reset_info()

    def step(self, action):
        if self._done:
            raise RuntimeError("step() called on a finished episode: call reset() first")
        task, sim = self.task, self._sim
        if self.config.action_type == "discrete":
            ratios = task.ratios(np.asarray(action).reshape(1))
        else:
            ratios = task.ratios(np.asarray(action).reshape(1, -1))
        result = sim.step(ratios)
        done = bool(result.done[0])
        self._done = done
        info = {
            "executed": float(result.executed[0]),
            "exec_price": float(result.exec_price[0]),
            "remaining": float(sim.remaining[0]),
            "forced": bool(result.forced[0]),
        }
        if done:  # the benchmark averages the whole window: known only once it is over
            info["benchmark_price"] = float(sim.benchmark_price[0])
            info["price_advantage"] = float(sim.price_advantage()[0])
            info["episode_reward"] = float(sim.total_reward[0])
        reward = float(result.reward[0]) * self.config.reward_scale
        return self._observation(), reward, done, False, info

    def _observation(self) -> dict[str, np.ndarray]:
        obs = {key: value[0] for key, value in self.task.observe().items()}
        if "privileged" in obs:  # the task shares its window between observations; Gymnasium wants new data
            obs["privileged"] = obs["privileged"].copy()
        return obs

    def _reset_info(self) -> dict[str, Any]:
        sim = self._sim
        return {
            "episode_index": int(sim.episode[0]),
            "symbol": str(self.dataset.symbols[sim.episode[0]]),
            "date": str(self.dataset.dates[sim.episode[0]]),
            "side": "sell" if sim.side[0] > 0 else "buy",
            "start": int(sim.start[0]),
            "length": int(sim.length[0]),
            "n_steps": int(sim.n_steps[0]),
        }
