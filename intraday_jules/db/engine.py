"""Engines for the three supported backends, created so that failures are fast and readable.

- SQLite (the embedded default): WAL journal, foreign keys on, a busy timeout so the Dagster
  daemon, the UI and the CLI can share one file.
- PostgreSQL (psycopg 3): a short connect timeout, so an unreachable server fails in seconds
  with the URL (password masked) in the message.
- TimescaleDB: PostgreSQL with the ``timescaledb`` extension; detected, never assumed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

log = logging.getLogger(__name__)

Backend = Literal["timescaledb", "postgresql", "sqlite"]
PG_CONNECT_TIMEOUT_S = 5


class DatabaseUnreachable(RuntimeError):
    """The database at a URL could not be reached (message carries the masked URL)."""


def mask_url(url: str | URL) -> str:
    """The URL with any password replaced by ***, safe for logs, errors and metadata."""
    try:
        parsed = make_url(str(url)) if not isinstance(url, URL) else url
    except Exception:  # an unparsable URL may itself contain a secret: show nothing of it
        return "<unparsable database URL>"
    return parsed.render_as_string(hide_password=True)


def normalise_url(url: str) -> URL:
    """Pin the driver: bare ``postgresql://`` URLs use psycopg 3, not psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "timescaledb"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_db_engine(url: str, *, check: bool = True, **kwargs: Any) -> Engine:
    """Create an engine and (by default) prove it connects, failing fast with a masked URL."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed, **kwargs)
    elif parsed.get_backend_name() == "postgresql":
        connect_args = {"connect_timeout": PG_CONNECT_TIMEOUT_S, **kwargs.pop("connect_args", {})}
        engine = sa.create_engine(parsed, connect_args=connect_args, pool_pre_ping=True, **kwargs)
    else:
        raise ValueError(
            f"unsupported database {mask_url(parsed)}: use sqlite:///PATH or postgresql://..."
        )
    if check:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:
            engine.dispose()
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else ""
            raise DatabaseUnreachable(
                f"cannot connect to database {mask_url(parsed)}: {reason}"
            ) from None
    return engine


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


def backend_of(engine: Engine) -> Backend:
    """Which backend an engine talks to; TimescaleDB only if the extension is installed."""
    if engine.dialect.name == "sqlite":
        return "sqlite"
    with engine.connect() as conn:
        installed = conn.execute(
            sa.text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        ).scalar()
    return "timescaledb" if installed else "postgresql"


def timescaledb_available(conn: sa.Connection) -> bool:
    """True if the server offers the timescaledb extension (installed or installable)."""
    return bool(
        conn.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
        ).scalar()
    )
