"""Throw-away databases on a real server, for tests and benchmarks (never mocks)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from intraday_jules.db.engine import create_db_engine, normalise_url

DEFAULT_TEST_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def temporary_pg_database(server_url: str = DEFAULT_TEST_PG_URL,
                          prefix: str = "ij_test") -> Iterator[str]:
    """Create a uniquely named database on the server, yield its URL, drop it afterwards."""
    admin_url = normalise_url(server_url)
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = create_db_engine(str(admin_url.render_as_string(hide_password=False)),
                             isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = make_url(str(admin_url.render_as_string(hide_password=False))).set(database=name)
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
