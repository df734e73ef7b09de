"""Observation features: values against a direct computation from the bars."""

from __future__ import annotations

import numpy as np

from order_exec_gym.data.context import VOLUME_WINDOW
from order_exec_gym.features import FeatureBuilder, bar_features


def test_bar_features_match_their_definitions(small_market):
    features = bar_features(small_market)
    e, m = 3, 57
    price = small_market.bars["price"][e].astype(np.float64)
    volume = small_market.bars["volume"][e].astype(np.float64)
    trailing = volume[m + 1 - VOLUME_WINDOW : m + 1].mean()
    assert features[e, m, 0] == np.float32(100 * np.log(price[m]))
    np.testing.assert_allclose(features[e, m, 1], np.log1p(volume[m]) - np.log1p(trailing), rtol=1e-5)
    np.testing.assert_allclose(features[e, m, 2], 100 * np.log(price[m] / price[m - 1]), atol=1e-4)
    high, low = small_market.bars["high"][e, m], small_market.bars["low"][e, m]
    np.testing.assert_allclose(features[e, m, 3], 100 * np.log(np.float64(high) / low), rtol=1e-4)
    assert features[e, 0, 2] == 0.0


def test_public_window_is_the_last_bars_before_the_decision(small_market):
    builder = FeatureBuilder(small_market, lookback=10)
    features = bar_features(small_market)
    episode, start = np.array([5, 5]), np.array([0, 100])
    reference = builder.reference(episode, start)
    price = small_market.bars["price"][5].astype(np.float64)
    np.testing.assert_allclose(reference, [100 * np.log(small_market.bars["open"][5, 0]), 100 * np.log(price[99])], rtol=1e-6)

    public = builder.public(episode, np.array([4, 130]), reference)
    assert public.shape == (2, 10, 4)
    assert not public[0, :6].any()  # before the session: zeros
    np.testing.assert_array_equal(public[0, 6:, 1:], features[5, :4, 1:])
    np.testing.assert_allclose(public[1, :, 0], 100 * np.log(price[120:130] / price[99]), atol=1e-4)
    np.testing.assert_array_equal(public[1, :, 1:], features[5, 120:130, 1:])


def test_market_context_matches_a_direct_computation(small_market):
    builder = FeatureBuilder(small_market, lookback=10, market_features=True)
    day = small_market.dates[9]
    same_day = np.flatnonzero(small_market.dates == day)
    m = 77
    price = small_market.bars["price"][same_day].astype(np.float64)
    since_open = 100 * np.log(price[:, m] / small_market.bars["open"][same_day, 0])
    volume = small_market.bars["volume"][same_day].astype(np.float64).sum(axis=0)
    trailing = volume[m + 1 - 30 : m + 1].mean()
    expected = [since_open.mean(), since_open.std(), np.log1p(volume[m]) - np.log1p(trailing)]
    for episode in same_day:  # every instrument of the day sees the same context
        np.testing.assert_allclose(builder.features[episode, m, 4:], expected, rtol=1e-5, atol=1e-5)
    public = builder.public(np.array([same_day[0]]), np.array([m + 1]), builder.reference(same_day[:1], np.array([0])))
    assert public.shape == (1, 10, 7)
    np.testing.assert_allclose(public[0, -1, 4:], expected, rtol=1e-5, atol=1e-5)


def test_session_history_holds_the_previous_session_and_today_so_far(small_market):
    builder = FeatureBuilder(small_market, lookback=10, history="session")
    features = bar_features(small_market)
    symbol = small_market.symbols[20]
    sessions = np.flatnonzero(small_market.symbols == symbol)
    first, second = sessions[0], sessions[1]
    episode, decision = np.array([second, first]), np.array([50, 3])
    reference = builder.reference(episode, np.array([0, 0]))
    public = builder.public(episode, decision, reference)
    assert public.shape == (2, 480, 5) and builder.shape == (480, 5)
    # the second session: yesterday whole, today's first 50 bars, then nothing
    np.testing.assert_allclose(public[0, :240, 0], features[first, :, 0] - reference[0], atol=1e-4)
    np.testing.assert_array_equal(public[0, :240, 1:4], features[first, :, 1:])
    np.testing.assert_array_equal(public[0, 240:290, 1:4], features[second, :50, 1:])
    assert public[0, :290, 4].all() and not public[0, 290:].any()
    # the instrument's first session: no previous one
    assert not public[1, :240].any() and public[1, 240:243, 4].all() and not public[1, 243:].any()
