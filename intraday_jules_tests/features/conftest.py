"""Feature-test fixtures: realistic 1-minute NVDA/MSFT bars (the seeded simulator; regular hours
in ``rth_bars``), 5-minute bars built from them, and small builders."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intraday_jules.domain.calendar import NEW_YORK, session_window
from intraday_jules_tests.conftest import write_simulated_minutes


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
def all_hours_bars(sim_minute_file: Path) -> pd.DataFrame:
    """Realistic NVDA + MSFT 1-minute bars of 2025-01-02..2025-02-28, extended hours included
    (39 sessions, 2 symbols; the seeded simulator)."""
    return read_replay_csv(sim_minute_file)


@pytest.fixture(scope="session")
def rth_bars(all_hours_bars: pd.DataFrame) -> pd.DataFrame:
    """The 1-minute file restricted to regular hours: 390 bars x 39 sessions x 2 symbols."""
    return regular_hours(all_hours_bars)


def to_five_minutes(frame: pd.DataFrame) -> pd.DataFrame:
    """1-minute bars aggregated to 5-minute bars (start-labelled), per symbol."""
    bucket = frame["ts"].dt.floor("5min")
    grouped = frame.groupby([frame["symbol"], bucket], sort=True)
    out = grouped.agg(open=("open", "first"), high=("high", "max"), low=("low", "min"),
                      close=("close", "last"), volume=("volume", "sum"))
    return out.reset_index()[["symbol", "ts", "open", "high", "low", "close", "volume"]]


@pytest.fixture(scope="session")
def five_minute_bars(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Regular-hours NVDA + MSFT 5-minute bars of 2025-07-02, 2025-07-03 (half day, 13:00 ET
    close), 2025-10-31 (EDT) and 2025-11-03 (EST), from the seeded simulator's minutes."""
    folder = tmp_path_factory.mktemp("five_minute")
    minutes = pd.concat(
        [read_replay_csv(write_simulated_minutes(folder / f"{first}.csv", first, last,
                                                 extended_hours=False))
         for first, last in (("2025-07-02", "2025-07-03"), ("2025-10-31", "2025-11-03"))],
        ignore_index=True)
    return to_five_minutes(minutes.sort_values(["symbol", "ts"], kind="stable"))


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
