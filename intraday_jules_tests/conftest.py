"""Shared fixtures: real databases (SQLite file and a throw-away PostgreSQL database), the vendor
captures in intraday_jules_tests/fixtures, the recorded market data in ../shared (tests marked
``recorded_data`` only), simulated bars, and a deterministic clock. Never mocks of the
database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# Two cores: keep BLAS/torch from oversubscribing when tests run beside other work.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# Great Expectations and tqdm must not spray progress bars into test output.
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("INTRADAY_JULES_SHARED_DIR", REPO_ROOT.parent / "shared"))
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _require_pg() -> bool:
    return os.environ.get("INTRADAY_JULES_REQUIRE_PG", "") == "1"


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of the PostgreSQL server under test; skips (or fails, in CI) if unreachable."""
    from intraday_jules.db.engine import DatabaseUnreachable, create_db_engine

    url = os.environ.get("INTRADAY_JULES_TEST_PG_URL", DEFAULT_PG_URL)
    try:
        create_db_engine(url).dispose()
    except DatabaseUnreachable as exc:
        if _require_pg():
            pytest.fail(f"INTRADAY_JULES_REQUIRE_PG=1 but PostgreSQL is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable (set INTRADAY_JULES_TEST_PG_URL): {exc}")
    return url


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from intraday_jules.testing.databases import temporary_pg_database

    with temporary_pg_database(pg_server_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'intraday_jules.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on SQLite and on the real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'intraday_jules.db'}"
        return
    server = request.getfixturevalue("pg_server_url")
    from intraday_jules.testing.databases import temporary_pg_database

    with temporary_pg_database(server) as url:
        yield url


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url`` (SQLite and PostgreSQL) migrated to head, disposed after."""
    from intraday_jules.db import create_db_engine, upgrade_to_head

    engine = create_db_engine(db_url)
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


#: The vendor captures (Alpha Vantage responses, the IB wire trace) that the repository carries,
#: MIT-licensed; each folder has its LICENSE notice and SOURCES.md gives every file's origin.
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
#: Fixtures that read ../shared. A test that uses one (directly or through another fixture)
#: must carry ``@pytest.mark.recorded_data``; collection fails otherwise (see below).
RECORDED_DATA_FIXTURES = frozenset({"shared_dir", "market_dir"})
RECORDED_DATA_MARKER = "recorded_data"


def recorded_data_skip_reason() -> str | None:
    """Why recorded_data tests skip here, or None when the recorded bars are present."""
    market = SHARED_DIR / "data" / "market"
    if market.is_dir():
        return None
    return (f"recorded market bars {market} are absent: they have no licence to be in the "
            "repository and ship with the dev setup only (INTRADAY_JULES_SHARED_DIR names the "
            "folder holding data/market)")


@pytest.hookimpl(tryfirst=True)  # before ``-m``/``-k`` deselect: the rule covers every test
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Enforce the recorded-data rule and skip those tests, by marker, without ../shared.

    A test whose fixtures reach ``shared_dir``/``market_dir`` without the ``recorded_data``
    marker fails the collection (a usage error): otherwise a fresh clone would skip it silently
    and nobody would count it. Every marked test is skipped with the reason when the recorded
    bars are absent, so ``-m recorded_data --collect-only`` counts what a fresh clone skips."""
    unmarked = [item.nodeid for item in items
                if RECORDED_DATA_FIXTURES.intersection(getattr(item, "fixturenames", ()))
                and item.get_closest_marker(RECORDED_DATA_MARKER) is None]
    if unmarked:
        listed = "\n  ".join(unmarked)
        raise pytest.UsageError(
            f"{len(unmarked)} test(s) use {'/'.join(sorted(RECORDED_DATA_FIXTURES))} (the "
            f"recorded data in ../shared) without @pytest.mark.{RECORDED_DATA_MARKER}: mark "
            f"them, or use the simulated bars (sim_minute_file):\n  {listed}")
    reason = recorded_data_skip_reason()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker(RECORDED_DATA_MARKER) is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared data folder {SHARED_DIR} is absent (it ships with the dev setup only)")
    return SHARED_DIR


@pytest.fixture(scope="session")
def market_dir(shared_dir: Path) -> Path:
    """The recorded market bars (no licence: never in the repository). Only for tests marked
    ``recorded_data``, whose point is that data itself."""
    market = shared_dir / "data" / "market"
    reason = recorded_data_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    return market


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The vendor captures carried by the repository (intraday_jules_tests/fixtures)."""
    return FIXTURES_DIR


# --- realistic bars without ../shared ------------------------------------------------------
#: The simulated stand-in for the recorded Jan-Feb 2025 minute file: same symbols, same
#: sessions (39 XNYS sessions), regular and extended hours, from the seeded simulator. Tests
#: that need "realistic NVDA/MSFT minutes" use it; only tests whose point is the recorded data
#: itself read ``market_dir`` and carry the ``recorded_data`` marker.
SIM_FIRST_SESSION = "2025-01-02"
SIM_LAST_SESSION = "2025-02-28"
SIM_MINUTE_FILE = "sim_nvda_msft_1min_2025-01-02_2025-02-28.csv"


def write_simulated_minutes(path: Path, first: str = SIM_FIRST_SESSION,
                            last: str = SIM_LAST_SESSION, *, seed: int = 7,
                            extended_hours: bool = True) -> Path:
    """Write the simulator's NVDA+MSFT bars for the sessions first..last as a replay CSV."""
    from datetime import date

    import pandas as pd

    from intraday_jules.domain.calendar import sessions_in_range
    from intraday_jules.market_data.simulated import SimulatedSource

    source = SimulatedSource(seed=seed)
    days = sessions_in_range(date.fromisoformat(first), date.fromisoformat(last))
    frame = pd.concat([source.session_frame(d, extended_hours) for d in days],
                      ignore_index=True).drop(columns=["source"])
    frame = frame.sort_values(["ts", "symbol"], kind="stable")
    frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def sim_minute_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A replay CSV of simulated NVDA+MSFT minutes, 2025-01-02..2025-02-28 (39 sessions,
    04:00-20:00 ET), written once per test run."""
    return write_simulated_minutes(tmp_path_factory.mktemp("sim_market") / SIM_MINUTE_FILE)


@pytest.fixture(scope="session")
def sim_regular_minute_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """As ``sim_minute_file``, regular hours only (09:30-16:00 ET)."""
    return write_simulated_minutes(tmp_path_factory.mktemp("sim_market_rth") / SIM_MINUTE_FILE,
                                   extended_hours=False)
