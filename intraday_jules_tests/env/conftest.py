"""Fixtures for the env tests: small seeded synthetic market arrays (no recorded data needed)."""

from __future__ import annotations

import pytest

from intraday_jules.env.data import MarketArrays
from intraday_jules.env.synthetic import synthetic_market_arrays


@pytest.fixture(scope="session")
def arrays() -> MarketArrays:
    """Three 390-bar sessions of NVDA and MSFT."""
    return synthetic_market_arrays(n_sessions=3, seed=7)


@pytest.fixture(scope="session")
def short_sessions() -> MarketArrays:
    """Six 80-bar sessions: many session closes in few steps."""
    return synthetic_market_arrays(n_sessions=6, bars_per_session=80, seed=11)
