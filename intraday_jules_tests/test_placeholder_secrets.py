"""The application refuses to start with a ``change-me...`` placeholder of docker/.env.example
as a secret (the Python side; docker/refuse-placeholders.sh guards the containers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from intraday_jules.settings import Settings, SettingsError, placeholder_secrets

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / "docker" / ".env.example"


def example_placeholders() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {k: v for k, v in pairs if v.startswith("change-me")}


@pytest.mark.parametrize("env", [
    {"INTRADAY_JULES_DATABASE_URL": "postgresql://ij:change-me-db@timescaledb:5432/ij"},
    {"INTRADAY_JULES_DATABASE_URL": "postgresql://ij@timescaledb/ij?password=change-me-db"},
    {"DAGSTER_PG_PASSWORD": "change-me-dagster"},
    {"INTRADAY_JULES_ALPHA_VANTAGE_KEY": "change-me"},
    {"INTRADAY_JULES_SERVICE_TOKEN": "change-me-service-token"},
    {"INTRADAY_JULES_VAULT_PASSWORD": "change-me-vault"},
])
def test_settings_when_a_secret_is_a_change_me_placeholder_refuse_naming_it(
        env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="placeholder") as caught:
        Settings.from_env({"INTRADAY_JULES_HOME": str(tmp_path), **env})
    assert next(iter(env)) in str(caught.value)
    assert "change-me-" not in str(caught.value)  # names the variable, never echoes values


def test_settings_when_every_example_secret_is_set_refuse_each_of_them() -> None:
    placeholders = example_placeholders()
    assert {"INTRADAY_JULES_DATABASE_PASSWORD", "DAGSTER_PG_PASSWORD"} <= set(placeholders)
    assert placeholder_secrets(placeholders) == sorted(placeholders)


def test_settings_when_secrets_are_real_or_change_me_is_no_secret_start(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "INTRADAY_JULES_HOME": str(tmp_path),
        "INTRADAY_JULES_DATABASE_URL": "postgresql://ij:s3cure-pw@db/ij?application_name=change-me",
        "DAGSTER_PG_PASSWORD": "real-dagster-pw", "INTRADAY_JULES_SERVICE_TOKEN": "tok-123456",
        "INTRADAY_JULES_REPLAY_PATH": "change-me.csv"})
    assert settings.database_url.startswith("postgresql://ij:s3cure-pw@")


def test_cli_when_the_database_password_is_the_placeholder_refuses_with_a_clear_error(
        tmp_path: Path) -> None:
    env = {**os.environ, "INTRADAY_JULES_HOME": str(tmp_path),
           "INTRADAY_JULES_DATABASE_URL": "postgresql://ij:change-me-db@127.0.0.1:1/ij"}
    proc = subprocess.run([sys.executable, "-m", "intraday_jules.cli", "config", "--json"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    answer = json.loads(proc.stdout)  # under --json the error is one JSON object on stdout too
    assert "INTRADAY_JULES_DATABASE_URL" in answer["error"] and "placeholder" in answer["error"]
    assert "change-me-db" not in proc.stdout + proc.stderr
    assert "INTRADAY_JULES_DATABASE_URL" in proc.stderr and "placeholder" in proc.stderr
    assert "hint:" in proc.stderr
