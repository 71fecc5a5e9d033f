"""Fixtures for the quality tests: realistic simulated bars (``sim_bars``, ``two_sessions``), the
recorded shared bars files and their manifests (``recorded_data`` tests only; read once per
session), and small helpers to seed defects into copies of clean data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from intraday_jules.domain.calendar import NEW_YORK, session_window, sessions_in_range
from intraday_jules.quality.base import CheckContext
from intraday_jules.quality.contracts import Contract, load_contract

ONE_MIN_PAIR = "nvda_msft_1min_2025-01-02_2025-02-28.csv"
FIVE_MIN_PAIR = "nvda_msft_5min_2025-05-12_2026-03-06.csv"
ONE_MIN_NVDA = "nvda_1min_2025-09-15_2026-03-06.csv"


def read_bars(path: Path) -> pd.DataFrame:
    """A shared CSV as a bars frame (ts tz-aware UTC, microseconds), file order."""
    frame = pd.read_csv(path)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.as_unit("us")
    frame["symbol"] = frame["symbol"].astype(object)
    return frame


def regular_hours(frame: pd.DataFrame) -> pd.DataFrame:
    """Only bars inside their session's regular hours (the session filter a caller applies)."""
    days = frame["ts"].dt.tz_convert(NEW_YORK).dt.date
    windows = {d: session_window(d) for d in set(days)}
    opens = pd.to_datetime(days.map(lambda d: windows[d].open), utc=True)
    closes = pd.to_datetime(days.map(lambda d: windows[d].close), utc=True)
    keep = (frame["ts"] >= opens) & (frame["ts"] < closes)
    return frame[keep.to_numpy()].reset_index(drop=True)


def sessions_of(frame: pd.DataFrame) -> list[date]:
    days = frame["ts"].dt.tz_convert(NEW_YORK).dt.date
    return sessions_in_range(days.min(), days.max())


@pytest.fixture(scope="session")
def market_contract() -> Contract:
    return load_contract("market_data")


@pytest.fixture(scope="session")
def bars_file(market_dir: Path) -> Callable[[str], pd.DataFrame]:
    cache: dict[str, pd.DataFrame] = {}

    def load(name: str) -> pd.DataFrame:
        if name not in cache:
            cache[name] = read_bars(market_dir / name)
        return cache[name].copy()

    return load


@pytest.fixture(scope="session")
def manifest(market_dir: Path) -> Callable[[str], pd.DataFrame]:
    def load(name: str) -> pd.DataFrame:
        frame = pd.read_csv(market_dir / f"manifest_{name}")
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
        return frame

    return load


@pytest.fixture(scope="session")
def sim_bars(sim_minute_file: Path) -> pd.DataFrame:
    """The seeded simulator's NVDA + MSFT minutes of 2025-01-02..2025-02-28, all hours (the
    stand-in for the recorded Jan-Feb pair; realistic, clean)."""
    return read_bars(sim_minute_file)


@pytest.fixture(scope="session")
def two_sessions(sim_bars: pd.DataFrame) -> pd.DataFrame:
    """Regular-hours NVDA + MSFT 1-minute bars of 2025-01-02 and 2025-01-03 (simulated, clean)."""
    frame = sim_bars
    days = frame["ts"].dt.tz_convert(NEW_YORK).dt.date
    frame = frame[days.isin([date(2025, 1, 2), date(2025, 1, 3)])]
    return regular_hours(frame.sort_values(["symbol", "ts"]).reset_index(drop=True))


@pytest.fixture
def ctx_for(market_contract: Contract) -> Callable[..., CheckContext]:
    def build(**kwargs: object) -> CheckContext:
        base: dict[str, object] = {"contract": market_contract, "symbols": ("MSFT", "NVDA"),
                                   "sessions": (date(2025, 1, 2), date(2025, 1, 3))}
        base.update(kwargs)
        return CheckContext(**base)  # type: ignore[arg-type]

    return build
