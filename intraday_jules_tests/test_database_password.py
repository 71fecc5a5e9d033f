"""Issue 16 item 1: the ``database_password`` secret (env override, keyring or vault) fills in the
password of a PostgreSQL URL written without one, at connect time, and never shows.

Against a private PostgreSQL cluster with scram-sha-256 authentication (the shared test server
trusts everyone, so it cannot tell a right password from none): ``scram_pg_cluster`` runs
initdb/pg_ctl, on a free port, once for this module."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa

from intraday_jules.db.engine import DatabaseUnreachable, create_db_engine, mask_url
from intraday_jules.secrets import VaultKeyring, set_secret
from intraday_jules.testing.pg_cluster import PgCluster, PgClusterUnavailable, scram_pg_cluster

# Characters a URL would need encoded (@ : / % space quote): the secret never goes into a URL.
DB_PASSWORD = "pg pw@CANARY:'7q/%zX"
WRONG_PASSWORD = "wrong-pw-CANARY-5k2"
VAULT_PW = "vault master 31 CANARY"
REAL_TIME_COST, REAL_MEMORY_COST = VaultKeyring.time_cost, VaultKeyring.memory_cost
CLI = [sys.executable, "-m", "intraday_jules.cli"]
SECRET_ENV = ("INTRADAY_JULES_DATABASE_PASSWORD", "INTRADAY_JULES_VAULT_PASSWORD",
              "INTRADAY_JULES_SECRETS_BACKEND", "INTRADAY_JULES_DATABASE_URL",
              "INTRADAY_JULES_HOME", "PGPASSWORD", "PGPASSFILE")


def traces(password: str) -> list[str]:
    """The password as written and in every encoding a URL or a repr could carry."""
    return sorted({password, quote(password, safe=""), quote_plus(password), repr(password)[1:-1]})


def assert_no_trace(text: str, *passwords: str) -> None:
    for password in passwords:
        for trace in traces(password):
            assert trace not in text, f"a form of the password ({trace!r}) leaked"


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    try:
        with scram_pg_cluster(DB_PASSWORD) as running:
            yield running
    except PgClusterUnavailable as exc:
        if os.environ.get("INTRADAY_JULES_REQUIRE_PG", "") == "1":
            pytest.fail(f"INTRADAY_JULES_REQUIRE_PG=1 but no scram PostgreSQL cluster: {exc}")
        pytest.skip(f"no throw-away PostgreSQL cluster: {exc}")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No inherited secret or libpq password can make a test pass; a home of its own; a cheap
    vault key derivation in this process (the CLI subprocesses run the real one)."""
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INTRADAY_JULES_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    monkeypatch.setattr(VaultKeyring, "time_cost", 1)
    monkeypatch.setattr(VaultKeyring, "memory_cost", 2**10)


def current_user(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT current_user")).scalar())


def vault_env(home: Path) -> dict[str, str]:
    return {"INTRADAY_JULES_HOME": str(home), "INTRADAY_JULES_SECRETS_BACKEND": "vault",
            "INTRADAY_JULES_VAULT_PASSWORD": VAULT_PW}


def cli_set_database_password(home: Path, value: str) -> None:
    """``intraday-jules secrets set database_password`` (stdin), with the real vault cost, so
    that CLI subprocesses can open the vault too."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    stored = subprocess.run([*CLI, "secrets", "set", "database_password"], input=value,
                            env={**env, **vault_env(home)}, capture_output=True, text=True,
                            timeout=120)
    assert stored.returncode == 0, stored.stderr
    assert_no_trace(stored.stdout + stored.stderr, value, VAULT_PW)
    assert value.encode() not in (home / "secrets.vault").read_bytes()


def test_a_url_without_password_connects_with_the_env_override_and_the_url_stays_bare(
        cluster: PgCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTRADAY_JULES_DATABASE_PASSWORD", DB_PASSWORD)
    engine = create_db_engine(cluster.url_without_password)
    try:
        assert current_user(engine) == cluster.user
        assert engine.url.password is None  # handed to the driver, never written into the URL
        shown = " ".join([repr(engine), str(engine.url), mask_url(engine.url),
                          engine.url.render_as_string(hide_password=False), repr(engine.pool)])
        assert_no_trace(shown, DB_PASSWORD)
        engine.dispose()  # a new connection after the pool is emptied gets the password again
        assert current_user(engine) == cluster.user
    finally:
        engine.dispose()


def test_a_url_without_password_connects_with_the_vault_password_set_through_the_cli(
        cluster: PgCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "vault-home"
    cli_set_database_password(home, DB_PASSWORD)
    monkeypatch.setattr(VaultKeyring, "time_cost", REAL_TIME_COST)  # the CLI's vault
    monkeypatch.setattr(VaultKeyring, "memory_cost", REAL_MEMORY_COST)
    engine = create_db_engine(cluster.url_without_password, environ=vault_env(home), home=home,
                              check=False)
    try:
        assert current_user(engine) == cluster.user
    finally:
        engine.dispose()


def test_without_the_vault_password_the_connection_error_names_the_locked_vault(
        cluster: PgCluster, tmp_path: Path) -> None:
    home = tmp_path / "locked-home"
    set_secret("database_password", DB_PASSWORD, home=home, environ=vault_env(home))
    locked = {"INTRADAY_JULES_HOME": str(home), "INTRADAY_JULES_SECRETS_BACKEND": "vault"}
    with pytest.raises(DatabaseUnreachable) as info:
        create_db_engine(cluster.url_without_password, environ=locked, home=home)
    message = str(info.value)
    assert "database_password secret could not be read" in message
    assert "INTRADAY_JULES_VAULT_PASSWORD" in message
    assert_no_trace(message, DB_PASSWORD, VAULT_PW)


def test_a_password_in_the_url_wins_over_the_database_password_secret(
        cluster: PgCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTRADAY_JULES_DATABASE_PASSWORD", WRONG_PASSWORD)
    engine = create_db_engine(cluster.url_with_password())
    try:
        assert current_user(engine) == cluster.user
    finally:
        engine.dispose()
    monkeypatch.setenv("INTRADAY_JULES_DATABASE_PASSWORD", DB_PASSWORD)
    with pytest.raises(DatabaseUnreachable):  # and the other way round: the URL's wrong one
        create_db_engine(cluster.url_with_password(WRONG_PASSWORD))


def test_a_wrong_database_password_is_database_unreachable_naming_its_source_not_its_value(
        cluster: PgCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTRADAY_JULES_DATABASE_PASSWORD", WRONG_PASSWORD)
    with pytest.raises(DatabaseUnreachable) as info:
        create_db_engine(cluster.url_without_password)
    message = str(info.value)
    assert "password authentication failed" in message
    assert "database_password secret, from env" in message
    assert mask_url(cluster.url_without_password) in message
    assert_no_trace(message, WRONG_PASSWORD, DB_PASSWORD)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # nothing chained


def test_no_password_anywhere_is_an_error_saying_how_to_set_the_secret(
        cluster: PgCluster) -> None:
    with pytest.raises(DatabaseUnreachable) as info:
        create_db_engine(cluster.url_without_password)
    message = str(info.value)
    assert "no password supplied" in message
    assert "intraday-jules secrets set database_password" in message
    assert "INTRADAY_JULES_DATABASE_PASSWORD" in message


def test_debug_logs_of_connecting_querying_and_failing_contain_no_password(
        cluster: PgCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    names = ("", "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "psycopg",
             "intraday_jules", "alembic")
    levels = {name: logging.getLogger(name).level for name in names}
    root.addHandler(handler)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        monkeypatch.setenv("INTRADAY_JULES_DATABASE_PASSWORD", DB_PASSWORD)
        from intraday_jules.market_data.store import BarStore

        store = BarStore.open(cluster.url_without_password)  # connects and migrates
        store.close()
        monkeypatch.setenv("INTRADAY_JULES_DATABASE_PASSWORD", WRONG_PASSWORD)
        with pytest.raises(DatabaseUnreachable):
            create_db_engine(cluster.url_without_password)
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    text = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}"
                     for r in records)
    assert any(r.levelno == logging.DEBUG and r.name.startswith("sqlalchemy")
               for r in records), "the capture must really have been at DEBUG"
    assert_no_trace(text, DB_PASSWORD, WRONG_PASSWORD)


@pytest.fixture(scope="module")
def cli_vault_home(cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose vault holds the database password, stored with the real CLI."""
    home = tmp_path_factory.mktemp("cli") / "home"
    cli_set_database_password(home, DB_PASSWORD)
    return home


def run_cli(args: list[str], home: Path, url: str,
            **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env.update(vault_env(home), INTRADAY_JULES_DATABASE_URL=url,
               INTRADAY_JULES_LOG_LEVEL="DEBUG", PGPASSFILE=str(home / "no-pgpass"), **extra)
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=300)


def test_config_status_and_ingest_json_use_the_vault_password_and_never_print_it(
        cluster: PgCluster, cli_vault_home: Path, sim_minute_file: Path) -> None:
    url = cluster.url_without_password
    config = run_cli(["config", "--json"], cli_vault_home, url)
    assert config.returncode == 0, config.stderr
    assert json.loads(config.stdout)["database_url"] == url
    ingest = run_cli(["ingest", "--symbols", "NVDA", "--start", "2025-01-02", "--end",
                      "2025-01-03", "--source", "replay", "--replay-path", str(sim_minute_file),
                      "--json"], cli_vault_home, url)
    assert ingest.returncode == 0, ingest.stderr
    ingested = json.loads(ingest.stdout)
    assert ingested["symbols"]["NVDA"]["inserted"] == 2 * 390  # really written over the link
    assert ingested["backend"] == "postgresql"
    status = run_cli(["status", "--json"], cli_vault_home, url)
    assert status.returncode == 0, status.stderr
    screen = json.loads(status.stdout)
    assert "error" not in screen, screen.get("error")
    assert any(row["symbol"] == "NVDA" and row["rows"] == 2 * 390
               for row in screen["freshness"]), screen["freshness"]
    for proc in (config, ingest, status):
        assert_no_trace(proc.stdout + proc.stderr, DB_PASSWORD, VAULT_PW)


def test_cli_with_a_wrong_vault_database_password_fails_in_one_line_without_the_password(
        cluster: PgCluster, tmp_path: Path) -> None:
    home = tmp_path / "wrong-home"
    cli_set_database_password(home, WRONG_PASSWORD)
    proc = run_cli(["ingest", "--symbols", "NVDA", "--start", "2025-01-02", "--end",
                    "2025-01-02", "--json"], home, cluster.url_without_password)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "password authentication failed" in proc.stderr
    assert "database_password secret, from vault" in proc.stderr
    assert_no_trace(proc.stdout + proc.stderr, WRONG_PASSWORD, DB_PASSWORD, VAULT_PW)
