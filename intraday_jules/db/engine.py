"""Engines for the three supported backends, created so that failures are fast and readable.

- SQLite (the embedded default): WAL journal, foreign keys on, a busy timeout so the Dagster
  daemon, the UI and the CLI can share one file.
- PostgreSQL (psycopg 3): a short connect timeout, so an unreachable server fails in seconds
  with the URL (password masked) in the message. A URL without a password gets the
  ``database_password`` secret (env override, keyring or vault; ``intraday_jules.secrets``) at
  connect time; it never enters the URL, so no repr, log line or error can show it.
- TimescaleDB: PostgreSQL with the ``timescaledb`` extension; detected, never assumed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

if TYPE_CHECKING:
    from intraday_jules.secrets import SecretValue

from intraday_jules.url_masking import (  # re-exported: callers import them from here
    MASK,
    _ambiguous_userinfo,
    mask_url,
    mask_urls_in_text,
    url_secret_values,
)

log = logging.getLogger(__name__)

Backend = Literal["timescaledb", "postgresql", "sqlite"]
PG_CONNECT_TIMEOUT_S = 5
#: The secret that supplies the password of a PostgreSQL URL written without one.
PASSWORD_SECRET = "database_password"  # noqa: S105  # a secret's name, not a secret


class DatabaseUnreachable(RuntimeError):
    """The database at a URL could not be reached (message carries the masked URL)."""


def normalise_url(url: str) -> URL:
    """Pin the driver: bare ``postgresql://`` URLs use psycopg 3, not psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "timescaledb"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def url_lacks_password(url: str | URL) -> bool:
    """True for a PostgreSQL URL with no password (userinfo or ``?password=``): the one case
    in which ``create_db_engine`` fills in the ``database_password`` secret."""
    parsed = normalise_url(url) if isinstance(url, str) else url
    return (parsed.get_backend_name() == "postgresql" and not parsed.password
            and not any(k.strip().lower() == "password" for k in parsed.query))


def database_password(environ: Mapping[str, str] | None = None,
                      home: Path | None = None) -> tuple[SecretValue | None, str | None]:
    """The ``database_password`` secret (``INTRADAY_JULES_DATABASE_PASSWORD``, else the keyring
    or the vault of ``home``) and, if it could not be read, why (never a secret itself).

    ``environ`` defaults to ``os.environ``, ``home`` to its ``INTRADAY_JULES_HOME`` as
    ``Settings`` resolves it. Never prompts: a locked vault is a reason, not a question.
    """
    from intraday_jules.secrets import SecretsError, SecretStore, home_from_env

    env = os.environ if environ is None else environ
    store_home = home if home is not None else home_from_env(env)
    problem = None
    try:
        return SecretStore(store_home, env).get(PASSWORD_SECRET), None
    except SecretsError as exc:  # VaultLocked, VaultPasswordWrong, no keychain: say which
        hint = f"; {exc.hint}" if exc.hint else ""
        problem = f"the {PASSWORD_SECRET} secret could not be read: {exc}{hint}"
    log.debug("no database password from the secrets store: %s", problem)
    return None, problem


def create_db_engine(url: str, *, check: bool = True, environ: Mapping[str, str] | None = None,
                     home: Path | None = None, **kwargs: Any) -> Engine:
    """Create an engine and (by default) prove it connects, failing fast with a masked URL.

    A PostgreSQL URL without a password connects with the ``database_password`` secret
    (``database_password(environ, home)``), handed to the driver at each connect and never
    written into ``engine.url``; a password in the URL wins over the secret.
    """
    parsed = normalise_url(url)
    secret: SecretValue | None = None
    secret_problem: str | None = None
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed, **kwargs)
    elif parsed.get_backend_name() == "postgresql":
        if url_lacks_password(parsed):
            secret, secret_problem = database_password(environ, home)
        connect_args = {"connect_timeout": PG_CONNECT_TIMEOUT_S, **kwargs.pop("connect_args", {})}
        engine = sa.create_engine(parsed, connect_args=connect_args, pool_pre_ping=True, **kwargs)
        if secret is not None:
            _supply_password(engine, secret)
    else:
        raise ValueError(
            f"unsupported database {mask_url(url)}: use sqlite:///PATH or postgresql://..."
        )
    if check:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:
            engine.dispose()
            shown = mask_url(url)
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else ""
            hidden = url_secret_values(parsed) + ([secret.reveal()] if secret else [])
            for value in hidden:  # a driver may echo what it was given
                reason = reason.replace(value, MASK)
            reason = mask_urls_in_text(reason)
            if _ambiguous_userinfo(str(url), parsed):
                reason = ("the password holds a raw '@' (write it URL-encoded, as %40); "
                          "driver message withheld")
            reason += _password_note(parsed, secret, secret_problem, reason)
            raise DatabaseUnreachable(
                f"cannot connect to database {shown}: {reason}"
            ) from None
    return engine


def _supply_password(engine: Engine, secret: SecretValue) -> None:
    """Give the driver the secret at every new connection (``engine.url`` stays without it)."""
    @sa.event.listens_for(engine, "do_connect")
    def _password(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams.setdefault("password", secret.reveal())  # connect_args' own password wins


def _password_note(parsed: URL, secret: SecretValue | None, problem: str | None,
                   reason: str) -> str:
    """Where the password came from (or why there was none), for a failed PostgreSQL connect."""
    if parsed.get_backend_name() != "postgresql":
        return ""
    if secret is not None:
        return f" (password: the {PASSWORD_SECRET} secret, from {secret.source})"
    if problem is not None:
        return f" ({problem})"
    if url_lacks_password(parsed) and "password" in reason.lower():
        return (f" (the URL has no password and the {PASSWORD_SECRET} secret is not set: run "
                f"`intraday-jules secrets set {PASSWORD_SECRET}` or set "
                "INTRADAY_JULES_DATABASE_PASSWORD)")
    return ""


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


