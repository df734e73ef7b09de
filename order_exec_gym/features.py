"""Observation features, computed once per market and gathered per decision with index arithmetic.

Per bar ``m`` of an episode (known once bar ``m`` has ended), four features, in percent:

0. price relative to the order's reference price: ``100 * log(p_m / p_ref)``, where ``p_ref`` is the last
   price before the window (the previous bar's price, or the session's open when the window starts the session);
1. log volume relative to its trailing mean over the last 30 bars (bars that did not trade count as zero);
2. return ``100 * log(p_m / p_{m-1})`` (0 on the first bar of the session);
3. range ``100 * log(high_m / low_m)``.

With ``market_features=True``, the three columns of :mod:`order_exec_gym.data.context` follow: the cross-sectional
context of each date and bar, from every instrument of the market on that date, from bars up to ``m`` only (mean and
dispersion of the returns since the open, market volume relative to its trailing mean).

``public`` holds, with ``history="lookback"``, the last ``lookback`` bars before the decision bar, zero-padded
before the session starts; with ``history="session"``, the instrument's previous session (rows ``0 .. M - 1``,
``M`` = the market's bars per session) and every bar of the current session before the decision bar (rows
``M .. 2M - 1``; later bars zero), plus a last column that is 1 on the rows that hold a bar (0 for the future,
for padding, and for a previous session the market does not have). ``privileged`` holds the order's whole window,
future included, zero-padded after it ends, plus a fifth column that is 1 on the window's bars.

:meth:`FeatureBuilder.public` builds observations from scratch (the definition). With ``history="session"`` the
task builds each order's observation once, when it starts, and then :meth:`FeatureBuilder.reveal` writes only the
bars each step reveals, which gives the same arrays bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from order_exec_gym.data.context import FEATURE_CLIP, relative_log_volume
from order_exec_gym.data.dataset import MarketDataset

#: The columns of the ``private`` observation: share of the order left, steps taken t / T, side (+1 sell, -1 buy),
#: TWAP rate 1 / T.
PRIVATE_FIELDS = ("remaining", "elapsed", "side", "twap_rate")
FEATURE_NAMES = ("price", "log_volume", "return", "range")
N_FEATURES = len(FEATURE_NAMES)
N_PRIVILEGED = N_FEATURES + 1


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
    features = np.empty(price.shape + (N_FEATURES,), dtype=np.float32)
    features[..., 0] = log_price
    features[..., 1] = relative_log_volume(dataset.bars["volume"])
    features[..., 2] = np.diff(log_price, axis=1, prepend=log_price[:, :1])
    features[..., 3] = 100.0 * np.log(dataset.bars["high"].astype(np.float64) / dataset.bars["low"])
    np.clip(features[..., 1:], -FEATURE_CLIP, FEATURE_CLIP, out=features[..., 1:])
    return features


def row_items(array: np.ndarray) -> np.ndarray:
    """A C-contiguous array as a flat vector of its last-axis rows, one opaque item each (a view, so writes reach
    ``array``): a whole row is gathered or scattered by one index, far faster than indexing its elements."""
    if not array.flags.c_contiguous:
        raise ValueError("row_items needs a C-contiguous array")
    return array.view(np.dtype((np.void, array.shape[-1] * array.itemsize))).reshape(-1)


class FeatureBuilder:
    """Gathers ``public`` and ``privileged`` observations for batches of orders of one market.

    Episodes are rows of the market (the task maps its split's episodes to them), so the previous session of an
    episode is found even when it lies in another split.

    :param market: the whole dataset
    :param lookback: bars of history in ``public`` with ``history="lookback"`` (None with ``"session"``)
    :param history: ``"lookback"`` or ``"session"`` (see the module docstring)
    :param market_features: add the three columns of :func:`market_context`
    """

    def __init__(
        self, market: MarketDataset, lookback: int | None, history: str = "lookback", market_features: bool = False
    ):
        self.market = market
        self.lookback = lookback
        self.history = history
        self.market_features = market_features
        self.max_bars = market.max_bars
        features = bar_features(market)
        if market_features:  # (a shard of a larger market carries the whole market's context)
            features = np.concatenate([features, market.market_context().of(market.dates)], axis=2)
        self.n_features = features.shape[2]
        self.log_price = features[..., 0].copy()  # absolute: the price column of observations is relative to p_ref
        self.log_open = (100.0 * np.log(market.bars["open"][:, 0].astype(np.float64))).astype(np.float32)
        self._window = np.arange(self.max_bars)
        if history == "session":
            # A last column of ones (a shown bar's mask), so gathered bars land in the observation's layout.
            self.features = np.concatenate([features, np.ones(features.shape[:2] + (1,), np.float32)], axis=2)
            self.lengths = market.lengths
            self.previous = market.previous_sessions()
            self.shape = (2 * self.max_bars, self.n_features + 1)
            self._rows = row_items(self.features)
            return
        # ``lookback`` zero rows in front: row ``lookback + m`` holds bar m, rows before it are "before the session".
        self.padded = np.concatenate([np.zeros((len(market), lookback, self.n_features), np.float32), features], axis=1)
        self.features = self.padded[:, lookback:]  # a view: every bar's features, for privileged
        # Every run of ``lookback`` consecutive rows as one flat vector: a public observation is one row of this view.
        flat = self.padded.reshape(len(market), -1)
        width = lookback * self.n_features
        self._history = np.lib.stride_tricks.sliding_window_view(flat, width, axis=1)[:, :: self.n_features]
        self._offsets = np.arange(lookback)
        self.shape = (lookback, self.n_features)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its market and settings (a few times smaller than its tables, whose sliding-window view would
        pickle as a full copy) and made again, once per market, where it is unpickled."""
        return FeatureBuilder.shared, (self.market, self.lookback, self.history, self.market_features)

    @classmethod
    def shared(
        cls, market: MarketDataset, lookback: int | None, history: str = "lookback", market_features: bool = False
    ) -> FeatureBuilder:
        """The builder of ``market`` and these settings, made once per market and shared by every env on it (it holds
        no per-order state)."""
        return market.derived(("features", lookback, history, market_features), lambda: cls(market, lookback, history, market_features))

    def reference(self, episode: np.ndarray, start: np.ndarray) -> np.ndarray:
        """``100 * log(p_ref)`` of each order: previous bar's price, or the session open."""
        previous = self.log_price[episode, np.maximum(start - 1, 0)]
        return np.where(start > 0, previous, self.log_open[episode])

    def public(self, episode: np.ndarray, decision_bar: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """The ``public`` observation of each order (shape :attr:`shape`), from the bars before ``decision_bar``,
        built from scratch."""
        if self.history == "session":
            return self._session(episode, decision_bar, reference)
        out = self._history[episode, decision_bar].reshape(len(episode), *self.shape)
        early = decision_bar < self.lookback
        if early.any():  # rows before the session stay zero
            out[..., 0] -= np.where(decision_bar[:, None] + self._offsets < self.lookback, 0.0, reference[:, None])
        else:
            out[..., 0] -= reference[:, None]
        return out

    def _session(self, episode: np.ndarray, decision_bar: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Previous session (rows ``0 .. M - 1``) and the current one up to the decision (rows ``M .. 2M - 1``),
        from scratch: every row is gathered, then multiplied by its mask (so a hidden row is a signed zero)."""
        previous = self.previous[episode]
        known = np.maximum(previous, 0)
        shown = np.stack([np.where(previous >= 0, self.lengths[known], 0), decision_bar], axis=1)
        out = self.features[np.stack([known, episode], axis=1)].reshape(len(episode), *self.shape)
        out[..., 0] -= reference[:, None]
        out.reshape(len(episode), 2, self.max_bars, -1)[...] *= (self._window < shown[..., None])[..., None]
        return out

    def reveal(
        self,
        public: np.ndarray,
        episode: np.ndarray,
        since: np.ndarray,
        decision_bar: np.ndarray,
        reference: np.ndarray,
    ) -> None:
        """Bring session observations ``public`` (N, 2M, F + 1) of the decision bars ``since`` up to ``decision_bar``
        in place (``since <= decision_bar``), as :meth:`public` would build them: write the current session's bars
        ``since .. decision_bar - 1`` (rows ``M + bar``), the only rows that differ."""
        new = decision_bar - since
        slot = np.flatnonzero(new)
        if len(slot) == 0:
            return
        m, count = self.max_bars, new[slot, None]
        # Each slot's new bars, its last one repeated up to the most new bars (a row written twice gets one value).
        bar = since[slot, None] + np.minimum(np.arange(count.max()), count - 1)
        rows = np.take(self._rows, episode[slot, None] * m + bar)
        rows.view(np.float32).reshape(*bar.shape, -1)[..., 0] -= reference[slot, None]
        np.put(row_items(public), (slot * (2 * m) + m)[:, None] + bar, rows)

    def privileged(self, episode: np.ndarray, start: np.ndarray, length: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """``(N, max_bars, 5)``: every bar of each order's window, future included, zero after its end; the
        fifth column is 1 on the window's bars (so a flat bar is told apart from padding)."""
        inside = self._window < length[:, None]
        rows = np.minimum(start[:, None] + self._window, self.max_bars - 1)
        out = np.empty((len(episode), self.max_bars, N_PRIVILEGED), np.float32)
        out[..., :N_FEATURES] = self.features[episode[:, None], rows, :N_FEATURES]
        out[..., 0] -= reference[:, None]
        out[..., N_FEATURES] = 1.0
        out *= inside[..., None]
        return out
