"""Shared fixtures and helpers: small synthetic markets, the path of the real data when present, dataset equality."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from order_exec_gym.data.dataset import MarketDataset

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def small_market() -> MarketDataset:
    """4 instruments x 20 days of synthetic one-minute bars (80 episodes of 240 bars)."""
    return MarketDataset.synthetic(n_symbols=4, n_days=20, seed=7)


def random_market(rng: np.random.Generator, n_episodes: int, n_bars: int, lengths: np.ndarray | None = None) -> MarketDataset:
    """A dataset of random positive bars built directly as arrays (no loader), for property tests."""
    price = np.exp(rng.normal(0, 0.01, (n_episodes, n_bars)).cumsum(axis=1)) * rng.uniform(5, 50, (n_episodes, 1))
    price = price.astype(np.float32)
    volume = rng.integers(0, 1000, (n_episodes, n_bars)).astype(np.float32)
    bars = {"open": price, "high": price * 1.001, "low": price * 0.999, "close": price, "volume": volume, "price": price}
    dates = np.datetime64("2024-01-01") + np.arange(n_episodes).astype("timedelta64[D]")
    return MarketDataset(
        symbols=np.array([f"R{i}" for i in range(n_episodes)]),
        dates=dates,
        lengths=np.full(n_episodes, n_bars, np.int32) if lengths is None else lengths.astype(np.int32),
        bars=bars,
        bar_minutes=1,
        splits={"train": (dates[0].astype(object), dates[-1].astype(object))},
        source="random",
    )


def same_data(a: MarketDataset, b: MarketDataset) -> bool:
    """Whether two datasets hold the same episodes, array for array, the same metadata and the same market
    context (when the version of the library gives datasets one)."""
    contexts = [getattr(dataset, "context", None) for dataset in (a, b)]
    if (contexts[0] is None) != (contexts[1] is None):
        return False
    if contexts[0] is not None and not all(
        np.array_equal(getattr(contexts[0], name), getattr(contexts[1], name)) for name in ("dates", "values")
    ):
        return False
    return (
        all(np.array_equal(getattr(a, name), getattr(b, name)) for name in ("symbols", "dates", "lengths"))
        and a.bars.keys() == b.bars.keys()
        and all(np.array_equal(a.bars[name], b.bars[name]) for name in a.bars)
        and all(getattr(a, name) == getattr(b, name) for name in ("bar_minutes", "splits", "source", "report", "model"))
    )
