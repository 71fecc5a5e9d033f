"""Seeded synthetic ``MarketArrays``: random-walk prices on real XNYS session dates.

For tests, smoke training and benchmarks that must not depend on recorded data or on the
feature pipeline. Feature 0 is the bar's own log return (scaled), so a policy has something
causal to look at; the rest is noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np

from intraday_jules.domain.calendar import session_window, sessions_in_range
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.env.data import MarketArrays

DEFAULT_START_PRICES = {"NVDA": 130.0, "MSFT": 420.0}
BAR_VOLATILITY = 0.001  # ~0.1% per minute, about NVDA's typical 1-minute move


def synthetic_market_arrays(*, n_sessions: int = 5, bars_per_session: int = 390,
                            symbols: Sequence[str] = DEFAULT_SYMBOLS, n_features: int = 12,
                            seed: int = 0, first_session: date = date(2025, 1, 2)
                            ) -> MarketArrays:
    """``n_sessions`` consecutive XNYS sessions from ``first_session``, ``bars_per_session``
    one-minute bars each from the regular open, for ``symbols``; deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    days = sessions_in_range(first_session, first_session + timedelta(days=2 * n_sessions + 10))
    days = days[:n_sessions]
    n_bars, n_assets = n_sessions * bars_per_session, len(symbols)
    minute = np.timedelta64(60_000_000, "us")
    ts = np.concatenate([
        np.datetime64(session_window(d).open.replace(tzinfo=None), "us")
        + minute * np.arange(bars_per_session) for d in days])
    start = np.array([DEFAULT_START_PRICES.get(s, 100.0) for s in symbols])
    returns = rng.normal(0.0, BAR_VOLATILITY, size=(n_bars, n_assets))
    gaps = rng.normal(0.0, BAR_VOLATILITY / 3, size=(n_bars, n_assets))
    close = start * np.exp(np.cumsum(returns + gaps, axis=0))
    open_ = close * np.exp(-returns)
    features = rng.normal(0.0, 1.0, size=(n_bars, n_assets, n_features)).astype(np.float32)
    features[:, :, 0] = (returns / BAR_VOLATILITY).astype(np.float32)
    return MarketArrays(
        symbols=tuple(symbols), feature_names=tuple(f"f{i:02d}" for i in range(n_features)),
        features=features, open=open_, close=close, ts=ts,
        session=np.repeat(np.arange(n_sessions, dtype=np.int32), bars_per_session),
        session_dates=tuple(days), warmup=np.zeros(n_bars, dtype=bool))
