"""Feature-test fixtures: the real 1-minute NVDA/MSFT bars (regular hours) and small builders."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intraday_jules.domain.calendar import NEW_YORK, session_window

ONE_MINUTE_FILE = "nvda_msft_1min_2025-01-02_2025-02-28.csv"
FIVE_MINUTE_FILE = "nvda_msft_5min_2025-05-12_2026-03-06.csv"


def read_replay_csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.as_unit("us")
    return frame


def regular_hours(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows whose bar starts 09:30 <= ET wall time < 16:00."""
    local = frame["ts"].dt.tz_convert(NEW_YORK)
    minutes = local.dt.hour * 60 + local.dt.minute
    return frame[(minutes >= 9 * 60 + 30) & (minutes < 16 * 60)].reset_index(drop=True)


@pytest.fixture(scope="session")
def all_hours_bars(market_dir: Path) -> pd.DataFrame:
    """The 1-minute file as recorded, extended hours included (39 sessions, 2 symbols)."""
    return read_replay_csv(market_dir / ONE_MINUTE_FILE)


@pytest.fixture(scope="session")
def rth_bars(all_hours_bars: pd.DataFrame) -> pd.DataFrame:
    """The 1-minute file restricted to regular hours: 390 bars x 39 sessions x 2 symbols."""
    return regular_hours(all_hours_bars)


@pytest.fixture(scope="session")
def five_minute_bars(market_dir: Path) -> pd.DataFrame:
    return read_replay_csv(market_dir / FIVE_MINUTE_FILE)


def synthetic_session(symbol: str, day: date, seed: int, n: int | None = None,
                      price: float = 100.0) -> pd.DataFrame:
    """A seeded random-walk regular session; volume starts at zero and has a flat stretch, so
    the VWAP and volume z-score fallbacks are exercised."""
    rng = np.random.default_rng(seed)
    starts = session_window(day).bar_starts()[: n]
    k = len(starts)
    close = price * np.exp(np.cumsum(0.001 * rng.standard_normal(k)))
    open_ = close * np.exp(0.0005 * rng.standard_normal(k))
    high = np.maximum(open_, close) * (1 + 0.001 * rng.random(k))
    low = np.minimum(open_, close) * (1 - 0.001 * rng.random(k))
    volume = rng.integers(100, 10_000, k)
    volume[:3] = 0
    volume[10:20] = 5_000
    return pd.DataFrame({"symbol": symbol, "ts": starts, "open": open_, "high": high,
                         "low": low, "close": close, "volume": volume})
