"""Shared fixtures: real databases (SQLite file and a throw-away PostgreSQL database), the
shared recorded data, and a deterministic clock. Never mocks of the database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared data folder {SHARED_DIR} is absent (it ships with the dev setup only)")
    return SHARED_DIR


@pytest.fixture(scope="session")
def market_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "market"


@pytest.fixture(scope="session")
def fixtures_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures"
