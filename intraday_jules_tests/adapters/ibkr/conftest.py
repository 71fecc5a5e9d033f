"""Fixtures: the fake TWS gateway on a real loopback socket, a simulated clock for pacing, and
``IbkrSource``s wired to both. Nothing of ib_async is mocked."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from intraday_jules.adapters.ibkr import IbkrConfig, IbkrSource
from intraday_jules.testing.fake_tws import FakeTwsThread, ReplayBars, SimulatedClock
from intraday_jules_tests.conftest import write_simulated_minutes

# After the data ends: every session in the file is over, so coverage checks apply.
SIM_START = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)

SourceFactory = Callable[..., IbkrSource]


@pytest.fixture(scope="session")
def replay_path(sim_minute_file: Path) -> Path:
    """Realistic NVDA + MSFT minutes of 2025-01-02..2025-02-28, all hours (seeded simulator)."""
    return sim_minute_file


@pytest.fixture(scope="session")
def replay_frame(replay_path: Path) -> pd.DataFrame:
    raw = pd.read_csv(replay_path, dtype={"symbol": str, "ts": str})
    raw["ts"] = pd.to_datetime(raw["ts"], utc=True, format="ISO8601").dt.as_unit("us")
    return raw


@pytest.fixture(scope="session")
def replay(replay_frame: pd.DataFrame) -> ReplayBars:
    return ReplayBars(replay_frame)


@pytest.fixture
def sim_clock() -> SimulatedClock:
    return SimulatedClock(SIM_START)


@pytest.fixture
def gateway(replay: ReplayBars, sim_clock: SimulatedClock) -> Iterator[FakeTwsThread]:
    with FakeTwsThread(replay, clock=sim_clock.now, enforce_pacing=True) as gw:
        yield gw


@pytest.fixture
def make_source(gateway: FakeTwsThread, sim_clock: SimulatedClock) -> Iterator[SourceFactory]:
    """Build IbkrSources against the gateway (simulated clock for pacing and backoff)."""
    made: list[IbkrSource] = []

    def make(**overrides: Any) -> IbkrSource:
        settings: dict[str, Any] = {"port": gateway.port, "client_id": 11 + len(made),
                                    "connect_timeout_s": 5.0, "request_timeout_s": 5.0,
                                    "restore_timeout_s": 5.0}
        settings.update(overrides)
        source = IbkrSource(IbkrConfig(**settings), clock=sim_clock.now, sleep=sim_clock.sleep)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll for something the gateway receives asynchronously (a cancel, a reconnect)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def replay_session(frame: pd.DataFrame, symbol: str, start: datetime,
                   end: datetime) -> pd.DataFrame:
    """The replay file's bars of one symbol in [start, end), as a plain bars frame."""
    rows = frame[(frame["symbol"] == symbol) & (frame["ts"] >= start) & (frame["ts"] < end)]
    return rows.sort_values("ts").reset_index(drop=True)


RECORDED_SESSION = date(2025, 2, 3)


@pytest.fixture(scope="session")
def recorded_session(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Realistic NVDA + MSFT bars of 2025-02-03, all hours (the seeded simulator), as the fake
    gateway's replay."""
    day_iso = RECORDED_SESSION.isoformat()
    path = write_simulated_minutes(tmp_path_factory.mktemp("session") / f"{day_iso}.csv",
                                   day_iso, day_iso)
    raw = pd.read_csv(path, dtype={"symbol": str, "ts": str})
    raw["ts"] = pd.to_datetime(raw["ts"], utc=True, format="ISO8601").dt.as_unit("us")
    day = raw["ts"].dt.tz_convert("America/New_York").dt.date == RECORDED_SESSION
    return raw[day].reset_index(drop=True)
