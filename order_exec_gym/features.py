"""Observation features, computed once per dataset and gathered per decision with index arithmetic.

Per bar ``m`` of an episode (known once bar ``m`` has ended), four features, in percent:

0. price relative to the order's reference price: ``100 * log(p_m / p_ref)``, where ``p_ref`` is the last
   price before the window (the previous bar's price, or the session's open when the window starts the session);
1. log volume relative to its trailing mean over the last 30 bars (bars that did not trade count as zero);
2. return ``100 * log(p_m / p_{m-1})`` (0 on the first bar of the session);
3. range ``100 * log(high_m / low_m)``.

``public`` holds the last ``lookback`` bars before the decision bar, zero-padded before the session starts;
``privileged`` holds the whole window, future included, zero-padded after it ends, plus a fifth column that is 1
on the window's bars.
"""

from __future__ import annotations

import numpy as np

from order_exec_gym.data.dataset import MarketDataset

#: The columns of the ``private`` observation: share of the order left, steps taken t / T, side (+1 sell, -1 buy),
#: TWAP rate 1 / T.
PRIVATE_FIELDS = ("remaining", "elapsed", "side", "twap_rate")
FEATURE_NAMES = ("price", "log_volume", "return", "range")
N_FEATURES = len(FEATURE_NAMES)
N_PRIVILEGED = N_FEATURES + 1
VOLUME_WINDOW = 30
FEATURE_CLIP = 50.0


def read_private(private: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(T, t, remaining)`` from a batch of ``private`` observations: the order's steps, the steps taken and the
    share left (``T`` and ``t`` are whole numbers carried as the floats ``1 / T`` and ``t / T``)."""
    n_steps = np.rint(1.0 / private[:, 3]).astype(np.int64)
    t = np.rint(private[:, 1] * n_steps).astype(np.int64)
    return n_steps, t, private[:, 0]


def bar_features(dataset: MarketDataset) -> np.ndarray:
    """Features of every bar as float32 ``(E, max_bars, 4)``; column 0 holds ``100 * log(price)`` (absolute)."""
    price = dataset.bars["price"].astype(np.float64)
    log_price = 100.0 * np.log(price)
    volume = np.log1p(dataset.bars["volume"].astype(np.float64))
    cum = np.cumsum(np.pad(dataset.bars["volume"].astype(np.float64), ((0, 0), (1, 0))), axis=1)
    m = np.arange(price.shape[1])
    lo = np.maximum(m + 1 - VOLUME_WINDOW, 0)
    trailing = (cum[:, m + 1] - cum[:, lo]) / (m + 1 - lo)
    features = np.empty(price.shape + (N_FEATURES,), dtype=np.float32)
    features[..., 0] = log_price
    features[..., 1] = volume - np.log1p(trailing)
    features[..., 2] = np.diff(log_price, axis=1, prepend=log_price[:, :1])
    features[..., 3] = 100.0 * np.log(dataset.bars["high"].astype(np.float64) / dataset.bars["low"])
    np.clip(features[..., 1:], -FEATURE_CLIP, FEATURE_CLIP, out=features[..., 1:])
    return features


class FeatureBuilder:
    """Gathers ``public`` and ``privileged`` observations for batches of orders.

    :param dataset: the episodes
    :param lookback: bars of history in ``public``
    """

    def __init__(self, dataset: MarketDataset, lookback: int):
        self.lookback = lookback
        self.max_bars = dataset.max_bars
        features = bar_features(dataset)
        # ``lookback`` zero rows in front: row ``lookback + m`` holds bar m, rows before it are "before the session".
        self.padded = np.concatenate(
            [np.zeros((len(dataset), lookback, N_FEATURES), np.float32), features], axis=1
        )
        # Every run of ``lookback`` consecutive rows as one flat vector: a public observation is one row of this view.
        flat = self.padded.reshape(len(dataset), -1)
        self._history = np.lib.stride_tricks.sliding_window_view(flat, lookback * N_FEATURES, axis=1)[:, ::N_FEATURES]
        self.log_price = features[..., 0]
        self.log_open = (100.0 * np.log(dataset.bars["open"][:, 0].astype(np.float64))).astype(np.float32)
        self._offsets = np.arange(lookback)
        self._window = np.arange(self.max_bars)

    @classmethod
    def shared(cls, dataset: MarketDataset, lookback: int) -> FeatureBuilder:
        """The builder of ``dataset`` and ``lookback``, made once per dataset and shared by every env on it (it holds
        no per-order state)."""
        return dataset.derived(("features", lookback), lambda: cls(dataset, lookback))

    def reference(self, episode: np.ndarray, start: np.ndarray) -> np.ndarray:
        """``100 * log(p_ref)`` of each order: previous bar's price, or the session open."""
        previous = self.log_price[episode, np.maximum(start - 1, 0)]
        return np.where(start > 0, previous, self.log_open[episode])

    def public(self, episode: np.ndarray, decision_bar: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """``(N, lookback, 4)``: bars ``decision_bar - lookback .. decision_bar - 1`` of each episode."""
        out = self._history[episode, decision_bar].reshape(len(episode), self.lookback, N_FEATURES)
        early = decision_bar < self.lookback
        if early.any():  # rows before the session stay zero
            out[..., 0] -= np.where(decision_bar[:, None] + self._offsets < self.lookback, 0.0, reference[:, None])
        else:
            out[..., 0] -= reference[:, None]
        return out

    def privileged(self, episode: np.ndarray, start: np.ndarray, length: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """``(N, max_bars, 5)``: every bar of each order's window, future included, zero after its end; the
        fifth column is 1 on the window's bars (so a flat bar is told apart from padding)."""
        inside = self._window < length[:, None]
        rows = np.minimum(start[:, None] + self._window, self.max_bars - 1) + self.lookback
        out = np.empty((len(episode), self.max_bars, N_PRIVILEGED), np.float32)
        out[..., :N_FEATURES] = self.padded[episode[:, None], rows]
        out[..., 0] -= reference[:, None]
        out[..., N_FEATURES] = 1.0
        out *= inside[..., None]
        return out
