"""The embedded synthetic market: the default data when the user has none.

A seeded generator of one-minute bars with the features that make execution interesting:

- an A-share-like session (09:31-11:30 and 13:01-15:00, 240 bars, bar END times);
- stochastic volatility: a daily log-volatility AR(1) per instrument, times an intraday U-shaped profile;
- an efficient log price (random walk with a small per-day drift) plus mean-reverting microstructure noise
  (a discrete Ornstein-Uhlenbeck process), so prices overshoot and come back: a price-aware trader can beat TWAP;
- U-shaped intraday volume, lognormal noise, more volume on larger moves;
- with ``signal > 0``, a public predictable component: the **opening gap fades** during the session.

The model, for instrument ``i`` on day ``d`` and bar ``m = 0 .. M - 1`` (bar ``m`` ends ``m + 1`` minutes into the
session, M = 240)::

    log close[d, m] = log open[d] + e[d, m] + u[d, m] + f[d, m]
    e[d, m]  = sum_{n <= m} (mu[d] + sigma[d, n] z[d, n])     efficient price: day drift mu[d], t(5) shocks z
    u[d, m]  = phi u[d, m - 1] + innovation                   microstructure noise, AR(1) with half-life h
    g[d]     = log open[d] - log close[d - 1, M - 1]          the overnight gap (g[0] = 0)
    f[d, m]  = -signal * g[d] * F(m),  F(m) = (1 - exp(-(m + 1) / tau)) / (1 - exp(-M / tau))

so by the close the session has reversed ``signal`` times its overnight gap, most of it in the first ``tau``
minutes (``fade_minutes``): ``E[log close[d, M - 1] - log open[d] | g[d]] = -signal * g[d]`` (the day drift and the
shocks have mean zero). The gap is public from the open (the previous session's close and today's open are in the
env's ``history="session"`` observation), so a trader who knows the model expects the path ``-signal * g[d] * F(m)``
from the open on; the Oracle sees the whole path. Gaps are ``0.005 * N(0, 1) - u[d - 1, M - 1]``, about 51 bps
standard deviation, whatever ``signal`` is (the next open follows the faded close), so ``signal = 1`` makes an
expected intraday move of ``E|g|`` = 41 bps. ``signal = 0`` draws nothing more and gives the same bars, bit for
bit, as a market without the option. What a public trader can still predict besides the fade is small: the noise's
mean reversion (8 bps, 10-minute half-life) and the day drift ``mu[d]`` learnt from the session so far.

The output follows the canonical schema (:mod:`order_exec_gym.data.schema`); the execution price of a bar is
the mean of open, high, low and close (the synthetic market has no trade amounts).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from order_exec_gym.data.schema import ASHARE_SESSION, BarTable

BARS_PER_SESSION = len(ASHARE_SESSION)


def session_times() -> np.ndarray:
    """Bar end times of one session as minutes after midnight: 09:31..11:30 and 13:01..15:00."""
    return np.array([end.hour * 60 + end.minute for end in ASHARE_SESSION])


def trading_days(n_days: int, first: dt.date = dt.date(2023, 1, 2)) -> list[dt.date]:
    """The first ``n_days`` weekdays from ``first``."""
    days: list[dt.date] = []
    day = first
    while len(days) < n_days:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def intraday_profile(n_bars: int = BARS_PER_SESSION, depth: float = 0.6) -> np.ndarray:
    """A U shape over the session with mean 1: high at the open and the close, low at midday."""
    x = np.linspace(-1.0, 1.0, n_bars)
    profile = 1.0 - depth + depth * x**2 * 1.5
    profile[: n_bars // 16] *= 1.6  # opening burst
    return profile / profile.mean()


def fade_profile(n_bars: int, fade_minutes: float) -> np.ndarray:
    """``F(m)``, the share of the gap fade done by the end of bar ``m`` (0 .. 1 at the close), one-minute bars."""
    minutes = np.arange(1, n_bars + 1)
    return -np.expm1(-minutes / fade_minutes) / -np.expm1(-n_bars / fade_minutes)


def synthetic_bars(
    n_symbols: int = 30,
    n_days: int = 100,
    seed: int = 0,
    daily_volatility: float = 0.02,
    noise_bps: float = 8.0,
    noise_half_life: float = 10.0,
    signal: float = 0.0,
    fade_minutes: float = 60.0,
) -> BarTable:
    """Generate ``n_symbols`` x ``n_days`` sessions of one-minute bars, deterministic for ``seed``.

    :param n_symbols: number of instruments (named ``SYN000``, ``SYN001``, ...)
    :param n_days: number of trading days (weekdays from 2023-01-02)
    :param seed: the random seed; the same seed gives the same bars
    :param daily_volatility: typical daily volatility of the efficient price (0.02 = 2%)
    :param noise_bps: standard deviation of the mean-reverting microstructure noise, in basis points
    :param noise_half_life: half-life of the noise, in minutes
    :param signal: share of each session's overnight gap that the session reverses (the opening-gap fade; >= 0, 0 for
        none), see the module docstring
    :param fade_minutes: the fade's time constant tau, in minutes
    """
    if not (np.isfinite(signal) and signal >= 0):
        raise ValueError(f"signal must be finite and >= 0, got {signal}")
    if not (np.isfinite(fade_minutes) and fade_minutes > 0):
        raise ValueError(f"fade_minutes must be finite and > 0, got {fade_minutes}")
    rng = np.random.default_rng(seed)
    n_bars = BARS_PER_SESSION
    shape = (n_symbols, n_days)

    # Stochastic volatility: daily log-vol AR(1) per symbol, around a symbol-specific level.
    level = np.log(daily_volatility) + 0.3 * rng.standard_normal(n_symbols)
    log_vol = np.empty(shape)
    log_vol[:, 0] = level
    for d in range(1, n_days):
        log_vol[:, d] = level + 0.8 * (log_vol[:, d - 1] - level) + 0.25 * rng.standard_normal(n_symbols)
    minute_vol = np.exp(log_vol)[..., None] / np.sqrt(n_bars) * np.sqrt(intraday_profile(n_bars, 0.5))

    drift = 0.3 * np.exp(log_vol) * rng.standard_normal(shape) / n_bars
    shocks = minute_vol * rng.standard_t(df=5, size=(*shape, n_bars)) / np.sqrt(5 / 3)
    efficient = np.cumsum(drift[..., None] + shocks, axis=-1)

    # Mean-reverting microstructure noise (AR(1) = discrete Ornstein-Uhlenbeck), stationary start.
    phi = 0.5 ** (1.0 / noise_half_life)
    sigma = noise_bps * 1e-4
    innovations = sigma * np.sqrt(1 - phi**2) * rng.standard_normal((*shape, n_bars))
    noise = np.empty_like(innovations)
    noise[..., 0] = sigma * rng.standard_normal(shape)
    for m in range(1, n_bars):
        noise[..., m] = phi * noise[..., m - 1] + innovations[..., m]

    # Day opens: geometric random walk across days with overnight gaps.
    start_price = np.exp(rng.uniform(np.log(5.0), np.log(100.0), n_symbols))
    daily_returns = efficient[..., -1] + 0.005 * rng.standard_normal(shape)
    fade = None
    if signal > 0:  # the opening gap fades: each session reverses signal x its gap, and the next one opens from there
        gap = np.zeros(shape)
        gap[:, 1:] = daily_returns[:, :-1] - efficient[:, :-1, -1] - noise[:, :-1, -1]
        fade = -signal * gap[..., None] * fade_profile(n_bars, fade_minutes)
        daily_returns = daily_returns + fade[..., -1]
    day_open = start_price[:, None] * np.exp(np.cumsum(daily_returns, axis=1) - daily_returns)
    log_close = np.log(day_open)[..., None] + efficient + noise
    if fade is not None:
        log_close = log_close + fade
    close = np.exp(log_close)
    open_ = np.concatenate([day_open[..., None], close[..., :-1]], axis=-1)
    wick = np.exp(np.abs(rng.standard_normal((2, *shape, n_bars))) * 0.5 * minute_vol)
    high = np.maximum(open_, close) * wick[0]
    low = np.minimum(open_, close) / wick[1]
    price = (open_ + high + low + close) / 4.0

    returns = np.abs(np.diff(log_close, axis=-1, prepend=np.log(day_open)[..., None]))
    activity = 1.0 + 0.5 * returns / minute_vol
    base_volume = np.exp(rng.uniform(np.log(2e4), np.log(2e5), n_symbols))
    day_volume = base_volume[:, None] * np.exp(0.3 * rng.standard_normal(shape))
    volume = np.round(
        day_volume[..., None] * intraday_profile(n_bars) * activity * rng.lognormal(0.0, 0.4, (*shape, n_bars))
    )

    days = trading_days(n_days)
    day_start = np.array([np.datetime64(day, "us") for day in days])
    minutes = session_times().astype("timedelta64[m]").astype("timedelta64[us]")
    timestamps = np.broadcast_to(day_start[:, None] + minutes[None, :], shape + (n_bars,))
    symbols = np.repeat(np.array([f"SYN{i:03d}" for i in range(n_symbols)]), n_days * n_bars)
    frame = pl.DataFrame(
        {
            "symbol": symbols,
            "timestamp": timestamps.reshape(-1),
            "open": open_.reshape(-1),
            "high": high.reshape(-1),
            "low": low.reshape(-1),
            "close": close.reshape(-1),
            "volume": volume.reshape(-1),
            "price": price.reshape(-1),
        }
    )
    source = f"synthetic(n_symbols={n_symbols}, n_days={n_days}, seed={seed}" + (f", signal={signal:g})" if signal else ")")
    return BarTable(frame, bar_minutes=1, source=source, session=ASHARE_SESSION)
