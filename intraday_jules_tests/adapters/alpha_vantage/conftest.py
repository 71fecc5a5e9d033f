"""The loopback Alpha Vantage server over real sockets, a key that must never leak, sources."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from intraday_jules.adapters.alpha_vantage import AlphaVantageConfig, AlphaVantageSource
from intraday_jules.secrets import SecretValue
from intraday_jules.testing.alpha_vantage_server import AlphaVantageServer

# Recognisable, so a leak anywhere is found by a plain substring search.
API_KEY = "AVLEAK-CANARY-5Z8X"


@pytest.fixture(scope="session")
def av_fixtures(fixtures_dir: Path) -> Path:
    return fixtures_dir / "alpha_vantage"


@pytest.fixture(scope="session")
def jan_feb_bars(sim_minute_file: Path) -> pd.DataFrame:
    """Realistic NVDA + MSFT minutes of 2025-01-02..2025-02-28, all hours (the seeded simulator's
    stand-in for the recorded Jan-Feb file)."""
    from intraday_jules.market_data.replay import read_bars_file

    return read_bars_file(sim_minute_file)


@pytest.fixture
def server(jan_feb_bars: pd.DataFrame) -> Iterator[AlphaVantageServer]:
    with AlphaVantageServer(jan_feb_bars, api_key=API_KEY) as running:
        yield running


class FakeTime:
    """Monotonic seconds and a UTC wall clock that only move when slept on."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, tzinfo=UTC)) -> None:
        self.start = start
        self.now_s = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now_s += seconds

    def utc(self) -> datetime:
        return self.start + pd.Timedelta(seconds=self.now_s).to_pytimedelta()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


MakeSource = Callable[..., AlphaVantageSource]
DEFAULT_KEY = SecretValue(API_KEY, "alpha_vantage_key")


@pytest.fixture
def make_source(server: AlphaVantageServer, fake_time: FakeTime) -> Iterator[MakeSource]:
    """Sources against ``server``: generous limits, no retries, unless overridden."""
    made: list[AlphaVantageSource] = []

    def make(key: Any = DEFAULT_KEY, **overrides: Any) -> AlphaVantageSource:
        config = AlphaVantageConfig(base_url=server.base_url, calls_per_minute=1000,
                                    calls_per_day=1000, min_interval_s=0.0, max_retries=0,
                                    timeout_s=5.0)
        clock = overrides.pop("clock", fake_time.utc)
        source = AlphaVantageSource(replace(config, **overrides), key, clock=clock,
                                    monotonic=fake_time.monotonic, sleep=fake_time.sleep)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()
