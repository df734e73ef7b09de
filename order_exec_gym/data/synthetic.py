"""The embedded synthetic market: the default data when the user has none.

A seeded generator of one-minute bars with the features that make execution interesting:

- an A-share-like session (09:31-11:30 and 13:01-15:00, 240 bars, bar END times);
- stochastic volatility: a daily log-volatility AR(1) per instrument, times an intraday U-shaped profile;
- an efficient log price (random walk with a small per-day drift) plus mean-reverting microstructure noise
  (a discrete Ornstein-Uhlenbeck process), so prices overshoot and come back: a price-aware trader can beat TWAP;
- U-shaped intraday volume, lognormal noise, more volume on larger moves;
- with ``signal > 0``, a public predictable component: the **opening gap fades** during the session;
- with ``market_volatility > 0``, a **market factor** that every instrument follows with its own beta, and with
  ``reversal > 0`` a second public predictable component: the **afternoon reverses each instrument's own morning
  move** (its move net of the market's), public only from the market context and paid only in the afternoon.

The model, for instrument ``i`` on day ``d`` and bar ``m = 0 .. M - 1`` (bar ``m`` ends ``m + 1`` minutes into the
session, M = 240; the morning is bars ``0 .. M/2 - 1``)::

    log close[d, m] = log open[d] + e[d, m] + u[d, m] + f[d, m] + beta_i X[d, m] + r[d, m]
    e[d, m]  = sum_{n <= m} (mu[d] + sigma[d, n] z[d, n])     efficient price: day drift mu[d], t(5) shocks z
    u[d, m]  = phi u[d, m - 1] + innovation                   microstructure noise, AR(1) with half-life h
    g[d]     = log open[d] - log close[d - 1, M - 1]          the overnight gap (g[0] = 0)
    f[d, m]  = -signal * g[d] * F(m),  F(m) = (1 - exp(-(m + 1) / tau)) / (1 - exp(-M / tau))
    X[d, m]  = sum_{n <= m} market_volatility / sqrt(M) * w[d, n],  w ~ N(0, 1)   the market factor, one per day
    beta_i   ~ U(1 - beta_spread, 1 + beta_spread)                                each instrument's beta
    r[d, m]  = -reversal * e[d, M/2 - 1] * H(m),  H(m) = max(0, (m + 1 - M/2) / (M/2))

**The opening-gap fade** (``signal``, ``fade_minutes``): by the close the session has reversed ``signal`` times its
overnight gap, most of it in the first ``tau`` minutes (``fade_minutes``): ``E[log close[d, M - 1] - log open[d] |
g[d]] = -signal * g[d]`` (the day drift and the shocks have mean zero). The gap is public from the open (the previous
session's close and today's open are in the env's ``history="session"`` observation), so a trader who knows the model
expects the path ``-signal * g[d] * F(m)`` from the open on; the Oracle sees the whole path. Gaps are ``0.005 * N(0,
1) - u[d - 1, M - 1]``, about 51 bps standard deviation, whatever the options are (the next open follows the close,
fade, factor and reversal included), so ``signal = 1`` makes an expected intraday move of ``E|g|`` = 41 bps.
:data:`WEAK_SIGNAL` is the level where this public signal is worth 5-10% of the Oracle's gain.

**The market factor and the afternoon reversal** (``market_volatility``, ``beta_spread``, ``reversal``): every
instrument follows the day's market factor ``X`` (a Gaussian random walk from each open, ``market_volatility`` per
session, the same for every instrument of the market) with its own beta, and the afternoon (bars ``M/2 ..``, from
13:01) takes back, linearly to the close, ``reversal`` times the instrument's own morning move ``Y[d] = e[d, M/2 -
1]``, the efficient price's move over the morning, net of the factor; the market's move stays. So at a decision bar
``b``, with the morning seen up to bar ``c = min(b, M/2) - 1``, ``E[log p[m] - log p[M/2 - 1] | public] =
-reversal * E[Y | public] * H(m)`` for afternoon bars ``m``, and ``E[Y | public]`` is about the instrument's return
since the open less ``beta_i`` times the market's at bar ``c`` (the rest of the morning's moves have mean zero). The
instrument's return is in the observation's price column, the market's (the cross-sectional mean return since the
open, which averages the other instruments' own moves away) in its market-context columns with
``market_features=True``; the beta can be learnt from the two. The information grows through the morning and is
paid in the afternoon, over several features and instruments; a trader with the instrument's own return only sees
``Y`` blurred by ``beta_i X``. :data:`AFTERNOON_REVERSAL` is the calibrated regime. The factor and betas are drawn
from generators of their own (``factor_seed`` for the path, so that markets generated in groups of instruments can
share it), so the other draws stay those of ``seed``.

With every one of these options at its default (``signal = 0``, ``market_volatility = 0``, ``reversal = 0``) the
generator draws nothing more and gives the same bars, bit for bit, as the market without the options. What a public
trader can still predict besides the components above is small: the noise's mean reversion (8 bps, 10-minute
half-life) and the day drift ``mu[d]`` learnt from the session so far. The ``PublicBound`` baseline
(:mod:`order_exec_gym.baselines`) plans on the model's expectations from public information; ``docs/REGIMES.md``
has the regimes' calibration.

The output follows the canonical schema (:mod:`order_exec_gym.data.schema`); the execution price of a bar is
the mean of open, high, low and close (the synthetic market has no trade amounts).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from order_exec_gym.data.schema import ASHARE_SESSION, BarTable

BARS_PER_SESSION = len(ASHARE_SESSION)
#: Tags of the generators of the market factor's path and of the instruments' betas (kept apart from ``seed``'s).
FACTOR_STREAM, BETA_STREAM = 0xFAC7, 0xBE7A
#: The weak regime: the opening-gap fade at which the PublicBound earns 5-10% of the Oracle's price advantage (7.7% on
#: the test days of the 30-instrument x 200-day market of seed 0 with the paper's settings; docs/REGIMES.md).
WEAK_SIGNAL = 0.6
#: The afternoon-reversal regime: a market factor of 2% a session (betas 0.5 .. 1.5) and afternoons that take back
#: each instrument's whole own morning move; the PublicBound earns about a fifth of the Oracle (docs/REGIMES.md).
AFTERNOON_REVERSAL: dict[str, float] = {"market_volatility": 0.02, "reversal": 1.0}
#: The named harder regimes, as options of :func:`synthetic_bars` (``MarketDataset.synthetic(**REGIMES[name])``).
REGIMES: dict[str, dict[str, float]] = {"weak-fade": {"signal": WEAK_SIGNAL}, "afternoon-reversal": AFTERNOON_REVERSAL}


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


def afternoon_profile(n_bars: int) -> np.ndarray:
    """``H(m)``, the share of the afternoon reversal done by the end of bar ``m``: 0 through the morning (bars
    ``0 .. n_bars / 2 - 1``), then rising linearly to 1 at the close."""
    half = n_bars // 2
    return np.clip((np.arange(n_bars) - half + 1) / (n_bars - half), 0.0, 1.0)


def factor_betas(n_symbols: int, seed: int, beta_spread: float) -> np.ndarray:
    """Each instrument's beta to the market factor, uniform on ``[1 - beta_spread, 1 + beta_spread]``, from a
    generator of its own (so the other draws of ``seed`` stay those of the market without a factor)."""
    return 1.0 + beta_spread * np.random.default_rng([seed, BETA_STREAM]).uniform(-1.0, 1.0, n_symbols)


def factor_paths(
    n_symbols: int, n_days: int, seed: int, market_volatility: float, beta_spread: float, factor_seed: int | None = None
) -> np.ndarray:
    """``beta_i * F[d, m]``, each instrument's log price from the market factor, shape ``(n_symbols, n_days, M)``:
    ``F`` a Gaussian random walk from each open, ``market_volatility`` per session (see the module docstring)."""
    n_bars = BARS_PER_SESSION
    rng = np.random.default_rng([seed if factor_seed is None else factor_seed, FACTOR_STREAM])
    walk = np.cumsum(market_volatility / np.sqrt(n_bars) * rng.standard_normal((n_days, n_bars)), axis=1)
    return factor_betas(n_symbols, seed, beta_spread)[:, None, None] * walk[None]


def check_options(
    signal: float,
    fade_minutes: float,
    market_volatility: float,
    beta_spread: float,
    factor_seed: int | None,
    reversal: float,
) -> None:
    """Raise ``ValueError`` naming the first option of :func:`synthetic_bars`'s model that is out of its range."""
    if not (np.isfinite(signal) and signal >= 0):
        raise ValueError(f"signal must be finite and >= 0, got {signal}")
    if not (np.isfinite(fade_minutes) and fade_minutes > 0):
        raise ValueError(f"fade_minutes must be finite and > 0, got {fade_minutes}")
    if not (np.isfinite(market_volatility) and market_volatility >= 0):
        raise ValueError(f"market_volatility must be finite and >= 0, got {market_volatility}")
    if not (np.isfinite(beta_spread) and 0 <= beta_spread <= 1):
        raise ValueError(f"beta_spread must be in [0, 1] (betas stay >= 0), got {beta_spread}")
    if factor_seed is not None and (isinstance(factor_seed, bool) or not isinstance(factor_seed, (int, np.integer))):
        raise ValueError(f"factor_seed must be an int or None, got {factor_seed!r}")
    if not (np.isfinite(reversal) and 0 <= reversal <= 1):
        raise ValueError(f"reversal must be in [0, 1] (the share of the own morning move taken back), got {reversal}")


def synthetic_bars(
    n_symbols: int = 30,
    n_days: int = 100,
    seed: int = 0,
    daily_volatility: float = 0.02,
    noise_bps: float = 8.0,
    noise_half_life: float = 10.0,
    signal: float = 0.0,
    fade_minutes: float = 60.0,
    market_volatility: float = 0.0,
    beta_spread: float = 0.5,
    factor_seed: int | None = None,
    reversal: float = 0.0,
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
    :param market_volatility: standard deviation of the market factor's move over a session, which every instrument
        follows with its own beta (0.02 = 2%; >= 0, 0 for no factor), see the module docstring
    :param beta_spread: the instruments' betas to the factor are uniform on ``[1 - beta_spread, 1 + beta_spread]``
        (in [0, 1]; used with a factor only)
    :param factor_seed: the seed of the factor's path (None: ``seed``); markets generated in groups of instruments
        with seeds of their own share one factor only if they share this seed
    :param reversal: share of each instrument's own (idiosyncratic) morning move that its afternoon reverses (the
        afternoon reversal; in [0, 1], 0 for none), see the module docstring
    """
    check_options(signal, fade_minutes, market_volatility, beta_spread, factor_seed, reversal)
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
    factor = None
    if market_volatility > 0:  # the market factor; the next session opens from its close
        factor = factor_paths(n_symbols, n_days, seed, market_volatility, beta_spread, factor_seed)
        daily_returns = daily_returns + factor[..., -1]
    reverse = None
    if reversal > 0:  # the afternoon takes back reversal x the instrument's own morning move; the next open follows
        reverse = -reversal * efficient[..., n_bars // 2 - 1, None] * afternoon_profile(n_bars)
        daily_returns = daily_returns + reverse[..., -1]
    day_open = start_price[:, None] * np.exp(np.cumsum(daily_returns, axis=1) - daily_returns)
    log_close = np.log(day_open)[..., None] + efficient + noise
    if fade is not None:
        log_close = log_close + fade
    if factor is not None:
        log_close = log_close + factor
    if reverse is not None:
        log_close = log_close + reverse
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
    source = f"synthetic(n_symbols={n_symbols}, n_days={n_days}, seed={seed}"
    source += f", signal={signal:g}" if signal else ""
    if market_volatility > 0:
        source += f", market_volatility={market_volatility:g}, beta_spread={beta_spread:g}"
        source += "" if factor_seed is None else f", factor_seed={factor_seed}"
    if reversal > 0:
        source += f", reversal={reversal:g}"
    source += ")"
    return BarTable(frame, bar_minutes=1, source=source, session=ASHARE_SESSION)
