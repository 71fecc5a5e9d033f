"""A seeded, realistic two-asset 1-minute market for any XNYS session.

Same seed, same bars, on any machine: every random draw comes from ``numpy.random.Generator``
(PCG64) seeded by ``SeedSequence([seed, ...])``, and prices are rounded to cents.

The model, per session:
- Daily level: log price = a steady trend through today's levels (NVDA ~$138, MSFT ~$420 on
  2025-01-02) plus a mean-reverting (AR(1)) deviation, one draw per business day over a fixed
  range (2010-2040), so any date is reachable without simulating minutes in between and the
  draws never depend on the calendar's horizon. A two-state volatility regime (calm /
  turbulent) persists for days (a Markov chain).
- Intraday: correlated (rho ~0.6) Gaussian minute returns with a U-shaped volatility profile
  (high at the open and into the close) scaled by the day's regime, a small overnight gap at the
  open, and occasional volatility bursts.
- Volume: U-shaped intraday profile times lognormal noise, larger when |return| is large.
- OHLC: open = previous close (+ gap on the first bar); high/low extend beyond open/close by a
  half-normal excursion proportional to the minute's volatility.

``pattern`` (default "none": the market above, bit for bit): "planted" adds the positive
control's documented, tradable pattern and "destroyed" the same market with it shuffled in
time (``market_data.planted``); the sources are named "simulated-planted" and
"simulated-destroyed".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from intraday_jules.domain.bars import TS_DTYPE, validate_bars
from intraday_jules.domain.calendar import session_window
from intraday_jules.market_data.planted import (
    PLANT_STREAM,
    SHUFFLE_STREAM,
    Pattern,
    check_pattern,
    plant,
    shuffle_in_time,
)
from intraday_jules.market_data.source import BarRequest, SourceRequestError

PATH_START = date(2010, 1, 1)
PATH_END = date(2040, 12, 31)
TREND_ANCHOR = date(2025, 1, 2)
DEVIATION_PERSISTENCE = 0.99  # AR(1) coefficient of the daily deviation from trend


@dataclass(frozen=True, slots=True)
class SimulatedAsset:
    """Parameters of one simulated stock."""

    symbol: str
    anchor_price: float  # trend price on TREND_ANCHOR
    daily_drift: float  # trend log return per business day
    daily_vol: float  # daily log-return volatility in the calm regime
    shares_per_day: float  # typical regular-hours volume


DEFAULT_ASSETS: tuple[SimulatedAsset, ...] = (
    SimulatedAsset("NVDA", anchor_price=138.0, daily_drift=0.0006, daily_vol=0.028,
                   shares_per_day=190e6),
    SimulatedAsset("MSFT", anchor_price=420.0, daily_drift=0.0003, daily_vol=0.015,
                   shares_per_day=20e6),
)
CORRELATION = 0.6
TURBULENT_VOL_MULTIPLIER = 2.2
P_ENTER_TURBULENT = 0.05
P_LEAVE_TURBULENT = 0.25
EXTENDED_HOURS_VOLUME_SHARE = 0.02


@lru_cache(maxsize=8)
def _daily_path(seed: int, assets: tuple[SimulatedAsset, ...]) -> pd.DataFrame:
    """Open price and regime for every business day in [PATH_START, PATH_END]."""
    days = pd.bdate_range(PATH_START, PATH_END)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    n, k = len(days), len(assets)
    switches = rng.random(n)
    shocks = rng.standard_normal((n, k)) @ np.linalg.cholesky(_corr(k)).T
    regime = np.zeros(n, dtype=bool)
    for i in range(1, n):
        stay = switches[i] >= (P_LEAVE_TURBULENT if regime[i - 1] else P_ENTER_TURBULENT)
        regime[i] = regime[i - 1] if stay else not regime[i - 1]
    vol = np.array([a.daily_vol for a in assets]) * np.where(regime, TURBULENT_VOL_MULTIPLIER,
                                                               1.0)[:, None]
    deviation = np.zeros((n, k))
    for i in range(1, n):
        deviation[i] = DEVIATION_PERSISTENCE * deviation[i - 1] + vol[i] * shocks[i]
    age = (days - pd.Timestamp(TREND_ANCHOR)).days.to_numpy() * (5 / 7)
    trend = np.log([a.anchor_price for a in assets]) + np.outer(age, [a.daily_drift for a in
                                                                        assets])
    frame = pd.DataFrame(np.exp(trend + deviation), index=days.date,
                         columns=[a.symbol for a in assets])
    frame["turbulent"] = regime
    return frame


def _corr(k: int) -> np.ndarray:
    corr = np.full((k, k), CORRELATION)
    np.fill_diagonal(corr, 1.0)
    return corr


def _u_shape(n: int) -> np.ndarray:
    """Intraday profile: ~2.5x at the open, ~1.6x into the close, 1x at midday."""
    x = np.linspace(0.0, 1.0, n)
    return 1.0 + 1.5 * np.exp(-x / 0.06) + 0.6 * np.exp(-(1.0 - x) / 0.05)


class SimulatedSource:
    """Deterministic simulated NVDA + MSFT bars (or other configured assets)."""

    name: str = "simulated"  # the instance's: source_name(pattern)

    def __init__(self, seed: int = 7, assets: tuple[SimulatedAsset, ...] = DEFAULT_ASSETS,
                 pattern: str = "none") -> None:
        self.seed = seed
        self.assets = assets
        self.pattern: Pattern = check_pattern(pattern)
        self.name = source_name(self.pattern)
        self._by_symbol = {a.symbol: a for a in assets}

    def __repr__(self) -> str:
        planted = "" if self.pattern == "none" else f", pattern={self.pattern!r}"
        return f"SimulatedSource(seed={self.seed}, symbols={list(self._by_symbol)}{planted})"

    def fetch_session(self, request: BarRequest) -> pd.DataFrame:
        if request.symbol not in self._by_symbol:
            raise SourceRequestError(self.name, request, f"unknown symbol {request.symbol!r}; "
                                     f"simulated symbols: {', '.join(self._by_symbol)}")
        frame = self.session_frame(request.session, request.extended_hours)
        return frame[frame["symbol"] == request.symbol].reset_index(drop=True)

    def session_frame(self, session: date, extended_hours: bool = False) -> pd.DataFrame:
        """All assets' bars for one session (validated, with a ``source`` column)."""
        return _simulate_session(self.seed, self.assets, session, extended_hours,
                                 self.pattern).copy()

    def close(self) -> None:
        """Nothing to release."""


@lru_cache(maxsize=16)
def _simulate_session(seed: int, assets: tuple[SimulatedAsset, ...], session: date,
                      extended_hours: bool, pattern: Pattern = "none") -> pd.DataFrame:
    window = session_window(session)  # raises for non-sessions
    daily = _daily_path(seed, assets)
    day = daily.loc[session]
    starts = window.bar_starts(extended=extended_hours)
    regular = (starts >= window.open) & (starts < window.close)
    rng = np.random.default_rng(np.random.SeedSequence([seed, session.toordinal()]))
    n, k = len(starts), len(assets)
    profile = np.ones(n)
    profile[regular] = _u_shape(int(regular.sum()))
    minute_vol = np.array([a.daily_vol for a in assets]) / np.sqrt(390.0)
    minute_vol = minute_vol * (TURBULENT_VOL_MULTIPLIER if day["turbulent"] else 1.0)
    burst = np.where(rng.random(n) < 0.01, 3.0, 1.0)
    sigma = profile[:, None] * burst[:, None] * minute_vol[None, :]
    sigma[~regular] *= 0.4  # thin, quiet extended hours
    shocks = rng.standard_normal((n, k)) @ np.linalg.cholesky(_corr(k)).T
    increments = sigma * shocks
    surge = np.ones((n, k))
    if pattern != "none":  # the pattern's own streams: the draws above and below are unchanged
        plant(increments, surge, regular, _pattern_rng(seed, session, PLANT_STREAM))
    activity = np.abs(increments)  # volume follows the planted bar, shuffled or not
    if pattern == "destroyed":
        shuffle_in_time(increments, regular, _pattern_rng(seed, session, SHUFFLE_STREAM))
    log_close = np.log(day[[a.symbol for a in assets]].to_numpy(dtype=float))[None, :] + np.cumsum(
        increments, axis=0)
    close = np.round(np.exp(log_close), 2)
    open_ = np.vstack([np.round(np.exp(log_close[0] - increments[0]), 2), close[:-1]])
    excursion = np.abs(rng.standard_normal((2, n, k))) * sigma * 0.6
    high = np.round(np.maximum(open_, close) * np.exp(excursion[0]), 2)
    low = np.round(np.minimum(open_, close) * np.exp(-excursion[1]), 2)
    shares = np.array([a.shares_per_day for a in assets]) / 390.0
    vol_profile = np.where(regular, profile, EXTENDED_HOURS_VOLUME_SHARE)
    noise = rng.lognormal(0.0, 0.35, (n, k)) * (1.0 + 20.0 * activity)
    volume = np.maximum(1, np.round(vol_profile[:, None] * shares[None, :] * noise * surge)
                        ).astype(np.int64)
    label = source_name(pattern)
    frames = [
        pd.DataFrame({"symbol": a.symbol, "ts": pd.DatetimeIndex(starts).astype(TS_DTYPE),
                      "open": open_[:, j], "high": high[:, j], "low": low[:, j],
                      "close": close[:, j], "volume": volume[:, j], "source": label})
        for j, a in enumerate(assets)
    ]
    return validate_bars(pd.concat(frames, ignore_index=True), f"{label} session {session}")


def _pattern_rng(seed: int, session: date, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, session.toordinal(), stream]))


def source_name(pattern: Pattern) -> str:
    """The source's name (and provenance label): "simulated", "simulated-planted" or
    "simulated-destroyed"."""
    return "simulated" if pattern == "none" else f"simulated-{pattern}"
