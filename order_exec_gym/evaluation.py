"""Evaluate agents on a replayable set of orders, all at once on one batched simulator.

:func:`evaluate` runs one agent over every episode of a split (or ``n_orders`` seeded draws) with one
:class:`~order_exec_gym.task.ExecutionTask` of N slots: each step asks the agent for the actions of every slot,
and steps the simulator with a mask of the orders still running, until all are complete. It accepts

- Stable-Baselines3 models and the :mod:`~order_exec_gym.baselines` (anything with SB3's ``predict``): called as
  ``predict(obs, state=state, episode_start=episode_start, deterministic=deterministic)``, so recurrent policies
  (``sb3_contrib.RecurrentPPO``) carry their LSTM state, and feed-forward ones ignore it;
- a baseline name from :data:`~order_exec_gym.baselines.BASELINES` (built on the evaluation's task, calibrated on
  the same market);
- a plain callable ``actions = agent(obs)``.

An agent whose ``observation_space`` has a ``"privileged"`` key, or with ``needs_privileged = True``, gets
privileged observations. An agent with a ``plan(task, orders)`` method (every baseline) starts from the ``state``
it returns for the evaluated orders (see :meth:`~order_exec_gym.baselines.Baseline.plan`).

:func:`compare` evaluates several agents on the same orders and tabulates the metrics of
:mod:`~order_exec_gym.metrics`, with the paired bootstrap interval of each agent's PA difference to a reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from order_exec_gym.baselines import BASELINES, make_baseline
from order_exec_gym.config import ExecutionConfig
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.data.market import Market, members
from order_exec_gym.data.resolve import open_market
from order_exec_gym.metrics import paired_bootstrap_ci, summarize
from order_exec_gym.orders import SIDES, Orders, sample_orders
from order_exec_gym.task import ExecutionTask

ORDER_KEYS = ("episode", "side", "start", "length")


@dataclass
class EvaluationResult:
    """One agent's evaluation.

    :param orders: one row per order: episode, symbol, date, side, start, length (bars), n_steps,
        benchmark_price, exec_price (average execution price), price_advantage (bps), reward (unscaled episode
        reward), forced (the last step executed more than the agent asked)
    :param summary: :func:`~order_exec_gym.metrics.summarize` of the orders
    :param schedules: executed ratio of every step, ``(N, max T)``, zero after an order is complete
    :param step_prices: execution price of every step, ``(N, max T)``, NaN after an order's last step
    :param step_minutes: minutes per step
    :param bar_minutes: minutes per bar of the data (``length`` is in bars)
    """

    orders: pl.DataFrame
    summary: dict[str, float | int]
    schedules: np.ndarray
    step_prices: np.ndarray
    step_minutes: int
    bar_minutes: int


def step_pa(runs: list[EvaluationResult]) -> np.ndarray | None:
    """Each order's PA (bps) had it executed everything at each step, ``(N, T)``, from the step prices of ``runs``.

    Every run prices every step of its orders whatever it trades (the price does not depend on the schedule), so the
    runs must hold the same orders with the same step and benchmark prices: a run evaluated with other settings or
    data raises ``ValueError``. None where the orders differ in their number of steps (no price after the shorter
    ones' last step).
    """
    first = runs[0]
    for index, run in enumerate(runs[1:], start=1):
        check_same_orders(run, first, f"run {index}", "run 0")
        same = run.step_prices.shape == first.step_prices.shape and np.allclose(
            run.step_prices, first.step_prices, rtol=1e-12, atol=0.0, equal_nan=True
        ) and np.allclose(run.orders["benchmark_price"], first.orders["benchmark_price"], rtol=1e-12, atol=0.0)
        if not same:
            raise ValueError(f"run {index} has other step or benchmark prices than run 0 on the same orders: it was "
                             "evaluated with other settings or data")  # fmt: skip
    if not np.isfinite(first.step_prices).all():
        return None
    side = first.orders["side"].replace_strict(SIDES, return_dtype=pl.Float64).to_numpy()[:, None]
    return 1e4 * side * (first.step_prices / first.orders["benchmark_price"].to_numpy()[:, None] - 1.0)


def needs_privileged(agent: Any) -> bool:
    """True for an agent with ``needs_privileged = True``, or whose ``observation_space`` has ``"privileged"``."""
    if getattr(agent, "needs_privileged", False):
        return True
    space = getattr(agent, "observation_space", None)
    return "privileged" in getattr(space, "spaces", {})


def evaluation_orders(
    lengths: np.ndarray, bar_minutes: int, config: ExecutionConfig, n_orders: int | None, seed: int = 0
) -> Orders:
    """The orders an evaluation replays on a split whose sessions have ``lengths`` bars: every episode once
    (``n_orders=None``; whole sessions, or a seeded window with ``window_minutes``), or ``n_orders`` drawn uniformly.
    Random sides and window starts come from a generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    episode = None if n_orders is not None else np.arange(len(lengths))
    window_bars = config.in_bars(bar_minutes).window_bars
    return sample_orders(lengths, n_orders, rng, config.side, window_bars, episode)


def check_spaces(agent: Any, task: ExecutionTask) -> None:
    """Refuse, with a ``ValueError`` naming the key and both shapes, an agent whose ``observation_space`` or
    ``action_space`` (an SB3 model's) does not fit the task's: a model trained with other settings (``history``,
    ``lookback``, ``market_features``, ``action_type``, ``levels``) would otherwise fail deep in its network or act
    on misread observations."""
    spaces_of = getattr(getattr(agent, "observation_space", None), "spaces", None)
    hint = "the agent was trained with other settings (history, lookback, market_features, ...): evaluate it with those"
    for key, space in (spaces_of or {}).items():
        if key not in task.observation_space.spaces:
            raise ValueError(f"the agent reads observation {key!r}, which the env does not have ({hint})")
        if space.shape != task.observation_space[key].shape:
            shape = task.observation_space[key].shape
            raise ValueError(f"the agent reads observation {key!r} of shape {space.shape}, the env's is {shape} ({hint})")
    action_space = getattr(agent, "action_space", None)
    if action_space is not None and spaces_of is not None and action_space != task.action_space:
        raise ValueError(
            f"the agent's actions are {action_space}, the env's {task.action_space}: evaluate it with the "
            "action_type and levels it was trained with"
        )


def _policy(agent: Any, deterministic: bool) -> Callable:
    if hasattr(agent, "predict"):
        return lambda obs, state, start: agent.predict(obs, state=state, episode_start=start, deterministic=deterministic)
    if callable(agent):
        return lambda obs, state, start: (agent(obs), state)
    raise TypeError(
        f"cannot evaluate {type(agent).__name__}: expected an SB3-style predict(), a baseline name or a callable"
    )


def evaluate(
    agent: Any,
    data: Market | str | Path | None = None,
    split: str = "test",
    n_orders: int | None = None,
    seed: int = 0,
    deterministic: bool = True,
    config: ExecutionConfig | Mapping[str, Any] | None = None,
    progress: bool = False,
    batch_size: int | None = None,
    workers: int | None = None,
) -> EvaluationResult:
    """Run ``agent`` on the orders of a split, in batches of orders stepped at once.

    The orders are drawn over the split's episodes of the whole market; each partition of the market (the dataset
    itself in memory, or each shard of a market sharded on disk, memory-mapped and never loaded whole) runs its own
    orders, in batches, and the results come back in the orders' order: the same, order for order, however the
    market is stored, for every agent but VWAP and AlmgrenChriss (which calibrate on each partition's training
    days) and Random (whose draws follow the batches).

    :param agent: an SB3 model or baseline (``predict``), a name from :data:`~order_exec_gym.baselines.BASELINES`,
        or a callable returning a batch of actions for a batch of observations
    :param data: the market: a dataset or a sharded market (:class:`~order_exec_gym.data.shards.ShardedMarket`), a
        preset name, a saved or sharded directory; None for the synthetic market (see
        :func:`~order_exec_gym.data.resolve.open_market`)
    :param split: the split whose episodes are traded
    :param n_orders: None for every episode of the split once (whole session, or a seeded window with
        ``window_minutes``); otherwise that many orders drawn with ``seed``
    :param seed: seed of the orders (random sides, windows, draws)
    :param deterministic: passed to ``predict``
    :param config: the env settings: an :class:`~order_exec_gym.config.ExecutionConfig` or a mapping of its fields
        (side, step_minutes, alpha, action_type, levels, ...)
    :param progress: show a progress bar over the batches
    :param batch_size: orders stepped at once (None: a partition's orders, or with ``workers`` an equal share of
        them per worker): bounds the memory of large evaluations. Each order's result is the same whatever the
        batches, for every agent whose actions depend on its own row only (SB3 models, the baselines but
        ``Random``, whose draws follow the batches)
    :param workers: evaluate the batches as Ray tasks, this many at a time; Ray is started if it is not running
        (:func:`start_ray`: a local cluster of ``workers`` CPUs, or the one ``RAY_ADDRESS`` names); None: in this
        process
    """
    config = ExecutionConfig.from_kwargs(config)
    if n_orders is not None and n_orders < 1:
        raise ValueError(f"n_orders must be >= 1 or None, got {n_orders}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 or None, got {batch_size}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1 or None, got {workers}")
    config = config.replace(privileged=config.privileged or needs_privileged(agent))
    market = open_market(data)
    rows = market.split_rows(split)
    orders = evaluation_orders(market.lengths[rows], market.bar_minutes, config, n_orders, seed)
    size = batch_size or (-(-len(orders) // workers) if workers else len(orders))
    picks, jobs = _batches(market, rows[orders.episode], orders, size)
    jobs = [(partition, batch, config, deterministic) for partition, batch in jobs]
    if workers is None:
        bar = tqdm(jobs, desc="orders", unit="batch", disable=not progress, leave=False)
        results = [evaluate_partition(agent, market, *job) for job in bar]
    else:  # the market goes to Ray's object store once (a ShardedMarket as its directory)
        results = _on_ray(evaluate_partition, jobs, workers, agent, market)
    combined = concatenate(results)
    order = np.argsort(np.concatenate(picks), kind="stable")
    if not np.array_equal(order, np.arange(len(order))):
        combined = take(combined, order)
    combined.orders = combined.orders.with_columns(pl.Series("episode", orders.episode))
    return combined


def _batches(market: Market, episodes: np.ndarray, orders: Orders, size: int) -> tuple[list[np.ndarray], list[tuple[int, Orders]]]:
    """The orders on the market's ``episodes`` (index rows) as batches of at most ``size`` orders of one partition
    each, addressed to the partition's rows: ``(picks, [(partition, orders)])``, ``picks[b]`` the positions in
    ``orders`` of batch b's orders."""
    partition, row = (values[episodes] for values in market.partition_rows())
    picks, jobs = [], []
    for part, mine in enumerate(members(partition, market.n_partitions)):
        for first in range(0, len(mine), size):
            pick = mine[first : first + size]
            picks.append(pick)
            jobs.append((int(part), Orders(row[pick], orders.side[pick], orders.start[pick], orders.length[pick])))
    return picks, jobs


def evaluate_partition(
    agent: Any, market: Market, partition: int, orders: Orders, config: ExecutionConfig, deterministic: bool = True
) -> EvaluationResult:
    """:func:`evaluate_orders` on one partition of ``market`` (a shard is opened here, e.g. on a Ray worker),
    ``orders`` on its rows."""
    return evaluate_orders(agent, market.partition(partition), "all", orders, config, deterministic)


def evaluate_orders(
    agent: Any,
    market: MarketDataset,
    split: str,
    orders: Orders,
    config: ExecutionConfig,
    deterministic: bool = True,
) -> EvaluationResult:
    """Run ``agent`` on the given ``orders`` of ``market``'s ``split``, all at once (see :func:`evaluate`)."""
    task = ExecutionTask(market, split, config, len(orders))
    if isinstance(agent, str):
        agent = make_baseline(agent, task)
    check_spaces(agent, task)
    policy = _policy(agent, deterministic)

    task.reset(orders)
    state = agent.plan(task, orders) if callable(getattr(agent, "plan", None)) else None
    sim = task.sim
    n = sim.num_orders
    width = int(sim.n_steps.max())
    schedules = np.zeros((n, width))
    forced = np.zeros(n, dtype=bool)
    active = np.ones(n, dtype=bool)
    episode_start = np.ones(n, dtype=bool)
    for step in range(width):
        actions, state = policy(task.observe(), state, episode_start)
        actions = np.asarray(actions)
        if actions.shape[:1] != (n,):
            raise ValueError(f"the agent returned actions of shape {actions.shape} for a batch of {n} observations")
        idle = np.zeros((), dtype=actions.dtype)
        actions = np.where(active.reshape((n,) + (1,) * (actions.ndim - 1)), actions, idle)
        result = sim.step(task.ratios(actions), active)
        schedules[:, step] = result.executed
        forced |= result.forced
        active &= ~result.done
        episode_start = np.zeros(n, dtype=bool)
    if active.any():
        raise RuntimeError(f"{int(active.sum())} orders did not complete within their steps")

    pa = sim.price_advantage()
    rewards = sim.total_reward.copy()
    prices = sim.step_prices()[:, :width]
    dataset = task.dataset
    table = pl.DataFrame(
        {
            "episode": orders.episode,
            "symbol": dataset.symbols[orders.episode],
            "date": dataset.dates[orders.episode],
            "side": np.where(orders.side > 0, "sell", "buy"),
            "start": orders.start,
            "length": orders.length,
            "n_steps": sim.n_steps.copy(),
            "benchmark_price": sim.benchmark_price.copy(),
            "exec_price": sim.value.copy(),
            "price_advantage": pa,
            "reward": rewards,
            "forced": forced,
        }
    )
    minutes = dataset.bar_minutes
    return EvaluationResult(table, summarize(pa, rewards), schedules, prices, config.step_minutes, minutes)


def concatenate(results: Sequence[EvaluationResult]) -> EvaluationResult:
    """One result from the results of consecutive batches of orders (schedules and step prices padded to the
    longest batch's steps), with the summary of all the orders."""
    width = max(result.schedules.shape[1] for result in results)

    def stack(name: str, fill: float) -> np.ndarray:
        arrays = [getattr(result, name) for result in results]
        return np.vstack([np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=fill) for a in arrays])

    orders = pl.concat([result.orders for result in results])
    summary = summarize(orders["price_advantage"].to_numpy(), orders["reward"].to_numpy())
    first = results[0]
    return EvaluationResult(orders, summary, stack("schedules", 0.0), stack("step_prices", np.nan), first.step_minutes, first.bar_minutes)


def take(result: EvaluationResult, index: np.ndarray) -> EvaluationResult:
    """The orders of ``result`` at ``index``, in that order."""
    orders = result.orders[index]
    summary = summarize(orders["price_advantage"].to_numpy(), orders["reward"].to_numpy())
    return EvaluationResult(orders, summary, result.schedules[index], result.step_prices[index], result.step_minutes, result.bar_minutes)


def start_ray(workers: int, address: str | None = None) -> None:
    """Connect to Ray: the cluster at ``address`` (e.g. ``"auto"``), or the one ``RAY_ADDRESS`` names if it is set,
    else a new local cluster of ``workers`` CPUs; nothing if Ray is running."""
    import ray

    if not ray.is_initialized():
        local = address is None and not os.environ.get("RAY_ADDRESS")
        ray.init(address=address, num_cpus=workers if local else None, include_dashboard=False, log_to_driver=False)


def _on_ray(function: Callable, jobs: list[tuple], workers: int, *shared: Any) -> list[Any]:
    """``function(*shared, *job)`` for every job as Ray tasks of one CPU, at most ``workers`` at a time, in the jobs'
    order; ``shared`` (the agent, the market) is put in Ray's object store once (arrays are read there without
    copies)."""
    import ray

    start_ray(workers)
    run = ray.remote(num_cpus=1)(function)
    references = [ray.put(value) for value in shared]
    pending, results = {}, {}
    for index, job in enumerate(jobs):
        if len(pending) >= workers:
            done, _ = ray.wait(list(pending), num_returns=1)
            results[pending.pop(done[0])] = ray.get(done[0])
        pending[run.remote(*references, *job)] = index
    for reference, index in pending.items():
        results[index] = ray.get(reference)
    return [results[index] for index in range(len(jobs))]


def evaluate_agents(
    agents: dict[str, Any],
    data: Market | str | Path | None = None,
    split: str = "test",
    n_orders: int | None = None,
    seed: int = 0,
    config: ExecutionConfig | Mapping[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, EvaluationResult]:
    """:func:`evaluate` each agent (deterministically) on the same orders; ``{name: result}``."""
    market = open_market(data)
    results = {}
    bar = tqdm(agents.items(), desc="agents", total=len(agents), disable=not progress)
    for name, agent in bar:
        bar.set_postfix_str(name)
        results[name] = evaluate(agent, market, split, n_orders, seed, True, config)
    return results


def check_same_orders(result: EvaluationResult, other: EvaluationResult, name: str, other_name: str) -> None:
    """Raise ``ValueError`` unless both results hold the same orders (:data:`ORDER_KEYS`), in the same order."""
    for key in ORDER_KEYS:
        if not (result.orders[key] == other.orders[key]).all():
            raise ValueError(f"{name!r} and {other_name!r} were evaluated on different orders ({key} differs)")


#: The polars display settings under which a table prints whole: every row and column, strings uncut, no column
#: wrapped (65535 characters: the widest polars takes, a bound and not a width to fill).
WHOLE_TABLE: dict[str, Any] = dict(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=65535, fmt_str_lengths=1000)


class ComparisonTable(pl.DataFrame):
    """The :class:`polars.DataFrame` of :func:`comparison_table`, which prints whole: ``print(compare(...))`` shows
    every row and column, unwrapped, whatever polars' display settings (:data:`WHOLE_TABLE`; the float format stays
    yours). In every other respect it is a DataFrame (frames derived from it are plain ones: print them with
    :func:`format_table`)."""

    def __str__(self) -> str:
        with pl.Config(**WHOLE_TABLE):
            return super().__str__()

    def __repr__(self) -> str:
        return self.__str__()

    def _repr_html_(self, **kwargs: Any) -> str:  # notebooks
        with pl.Config(**WHOLE_TABLE):
            return super()._repr_html_(**kwargs)


def table_legend(table: pl.DataFrame, confidence: float = 0.95, reference: str | None = None) -> str:
    """What the columns of a comparison ``table`` (those it has) mean, with its NaN and inf: one line each
    (``confidence`` and ``reference``: those of the ``pa_diff`` interval, as given to :func:`comparison_table`)."""
    lines = {
        "mean_reward": "mean_reward: mean episode reward, PA / 1e4 less the impact penalty",
        "mean_reward_bps": "mean_reward_bps: mean episode reward x 1e4, in bps: PA less the impact penalty x 1e4",
        "pa_mean": "pa_mean, pa_std: mean and standard deviation of the price advantage (PA) over the benchmark price, "
        "in bps (> 0: executed better than the benchmark)",
        "glr": "glr: gain-loss ratio, mean PA of the orders that gained / |mean PA of those that lost|; inf: no order "
        "lost; NaN: no order gained or lost (every PA 0, as TWAP's against the mean price)",
        "pa_diff": f"pa_diff [ci_low, ci_high]: mean PA minus {reference or 'the reference'}'s on the same orders, "
        f"and its paired bootstrap {confidence:.0%} interval (resampling orders)",
    }
    shown = [line for column, line in lines.items() if column in table.columns]
    return "\n".join(textwrap.fill(line, 118, subsequent_indent="  ") for line in shown)


def format_table(
    table: pl.DataFrame,
    decimals: int | None = 2,
    legend: bool = True,
    confidence: float = 0.95,
    reference: str | None = None,
) -> str:
    """``table`` as text, whole (:data:`WHOLE_TABLE`: every row and column, unwrapped), without its shape and column
    types, floats to ``decimals`` (None: polars' format; a value that rounds to zero shows as 0, never -0), followed by
    :func:`table_legend` when ``legend`` (``confidence``, ``reference``: the interval's, as given to
    :func:`comparison_table`)."""
    if decimals is not None:
        rounded = {name: pl.col(name).round(decimals) for name, kind in table.schema.items() if kind.is_float()}
        table = table.with_columns(pl.when(v == 0).then(0.0).otherwise(v).alias(name) for name, v in rounded.items())
    hidden = dict(tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True)
    with pl.Config(**WHOLE_TABLE, **hidden, float_precision=decimals):
        text = pl.DataFrame.__str__(table)
    return f"{text}\n{table_legend(table, confidence, reference)}" if legend else text


def reward_in_bps(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` with its ``mean_reward`` in basis points (x 1e4), renamed ``mean_reward_bps``: the unit of the PA
    columns, in which rewards of ~1e-4 show."""
    return table.with_columns(pl.col("mean_reward") * 1e4).rename({"mean_reward": "mean_reward_bps"})


def comparison_table(
    results: dict[str, EvaluationResult],
    reference: str | None = "TWAP",
    confidence: float = 0.95,
    seed: int = 0,
) -> ComparisonTable:
    """One row per agent: mean_reward, pa_mean, pa_std, glr, n_orders, and ``pa_diff`` (mean PA minus the
    reference's, on the same orders) with its paired bootstrap interval ``ci_low``, ``ci_high`` (null without a
    reference). A :class:`ComparisonTable`: ``print`` shows it whole; :func:`format_table` adds the legend.

    - ``mean_reward``: the mean unscaled episode reward, PA / 1e4 less the impact penalty (~1e-4: x 1e4 it is in
      bps, :func:`reward_in_bps`);
    - ``pa_mean``, ``pa_std``: the price advantage's mean and (population) standard deviation, in bps;
    - ``glr``: the gain-loss ratio, the mean PA of the orders that gained over the absolute mean PA of those that
      lost (:func:`~order_exec_gym.metrics.gain_loss_ratio`): ``inf`` when no order lost, ``0`` when none gained,
      ``NaN`` when none did either (every PA is 0, as TWAP's against the window's mean price); ``pa_mean`` and
      ``pa_std`` are ``NaN`` for no orders;
    - ``pa_diff``, ``ci_low``, ``ci_high``: the mean paired difference to the reference and its ``confidence``
      percentile bootstrap interval, resampling orders with ``seed``
      (:func:`~order_exec_gym.metrics.paired_bootstrap_ci`).
    """
    if reference is not None and reference not in results:
        raise KeyError(f"reference agent {reference!r} is not among the results {list(results)}")
    rows = []
    for name, result in results.items():
        row: dict[str, Any] = {"agent": name, **result.summary, "pa_diff": None, "ci_low": None, "ci_high": None}
        if reference is not None:
            base = results[reference]
            check_same_orders(result, base, name, reference)
            pa, pa_ref = result.orders["price_advantage"].to_numpy(), base.orders["price_advantage"].to_numpy()
            row["pa_diff"], row["ci_low"], row["ci_high"] = paired_bootstrap_ci(pa, pa_ref, confidence, seed=seed)
        rows.append(row)
    schema = {
        "agent": pl.String, "mean_reward": pl.Float64, "pa_mean": pl.Float64, "pa_std": pl.Float64,
        "glr": pl.Float64, "n_orders": pl.Int64, "pa_diff": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
    }  # fmt: skip
    return ComparisonTable(rows, schema=schema)


def compare(
    agents: dict[str, Any],
    data: Market | str | Path | None = None,
    split: str = "test",
    n_orders: int | None = None,
    seed: int = 0,
    config: ExecutionConfig | Mapping[str, Any] | None = None,
    reference: str | None = "TWAP",
    progress: bool = False,
) -> ComparisonTable:
    """Evaluate ``agents`` (``{name: agent or baseline name}``) on the same orders and tabulate them
    (:func:`comparison_table`: ``print`` shows the table whole). A ``reference`` that is not among the agents but is
    a baseline name is evaluated too and listed first."""
    agents = dict(agents)
    if reference is not None and reference not in agents:
        if reference not in BASELINES:
            raise KeyError(f"reference {reference!r} is neither one of the agents {list(agents)} nor a baseline name")
        agents = {reference: reference, **agents}
    results = evaluate_agents(agents, data, split, n_orders, seed, config, progress)
    return comparison_table(results, reference)
