"""The cross-sectional market context of every date and bar, from every instrument traded that date.

Per date and bar ``m`` (bars up to ``m`` only, so an observation at the decision bar reads nothing later):

0. the mean over the date's instruments of the return since their open, ``100 * log(p_im / open_i)``;
1. its dispersion, the standard deviation over the instruments;
2. the log market volume (summed over the instruments) relative to its trailing mean over the last 30 bars.

:class:`ContextSums` accumulates what they need one group of episodes at a time, so a market larger than memory gets
the same context as in memory (:mod:`order_exec_gym.data.shards`); a dataset's own is
:meth:`~order_exec_gym.data.dataset.MarketDataset.market_context`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from order_exec_gym.data.dataset import MarketDataset

MARKET_FEATURE_NAMES = ("market_return", "market_dispersion", "market_log_volume")
#: Bars of the trailing mean of a relative log volume.
VOLUME_WINDOW = 30
#: Features of returns, ranges and relative volumes are clipped to [-FEATURE_CLIP, FEATURE_CLIP] (percent).
FEATURE_CLIP = 50.0


def relative_log_volume(volume: np.ndarray) -> np.ndarray:
    """``log1p(v_m) - log1p(mean(v_{m-29} .. v_m))`` along the last axis (the trailing mean of up to 30 bars)."""
    volume = np.asarray(volume, dtype=np.float64)
    cum = np.cumsum(np.pad(volume, ((0, 0), (1, 0))), axis=1)
    m = np.arange(volume.shape[1])
    lo = np.maximum(m + 1 - VOLUME_WINDOW, 0)
    return np.log1p(volume) - np.log1p((cum[:, m + 1] - cum[:, lo]) / (m + 1 - lo))


class ContextSums:
    """Per date and bar, over the episodes added so far: bars inside a session, the return since the open and its
    square, and the volume; bars past a session's end are left out.

    :param max_bars: bars per session
    """

    def __init__(self, max_bars: int):
        self.days = np.empty(0, dtype="datetime64[D]")  # in the order first seen
        self.sums = np.zeros((4, 0, max_bars))

    def add(self, dataset: MarketDataset) -> None:
        """Add every episode of ``dataset``, in its order."""
        days, day = np.unique(dataset.dates, return_inverse=True)
        new = np.setdiff1d(days, self.days)
        if len(new):
            self.days = np.concatenate([self.days, new])
            self.sums = np.concatenate([self.sums, np.zeros((4, len(new), self.sums.shape[2]))], axis=1)
        sorter = np.argsort(self.days)
        rows = sorter[np.searchsorted(self.days, days, sorter=sorter)][day]
        inside = np.arange(dataset.max_bars)[None, :] < dataset.lengths[:, None]
        since_open = 100.0 * np.log(dataset.bars["price"].astype(np.float64) / dataset.bars["open"][:, :1])
        count, total, squares, volume = self.sums
        np.add.at(count, rows, inside)
        np.add.at(total, rows, np.where(inside, since_open, 0.0))
        np.add.at(squares, rows, np.where(inside, since_open**2, 0.0))
        np.add.at(volume, rows, np.where(inside, dataset.bars["volume"], 0.0))

    def context(self) -> tuple[np.ndarray, np.ndarray]:
        """``(dates, context)``: the dates in order and their ``(D, max_bars, 3)`` float32 context."""
        order = np.argsort(self.days)
        count, total, squares, volume = self.sums[:, order]
        count = np.maximum(count, 1.0)
        mean = total / count
        context = np.empty(count.shape + (len(MARKET_FEATURE_NAMES),), dtype=np.float32)
        context[..., 0] = mean
        context[..., 1] = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
        context[..., 2] = relative_log_volume(volume)
        np.clip(context, -FEATURE_CLIP, FEATURE_CLIP, out=context)
        return self.days[order], context
