"""Issue 7: a secret set through the vault is used by ingestion (the Alpha Vantage key) and
never appears in captured output, the database files, or Dagster's event log and run storage,
with DEBUG logging everywhere."""

import os
import subprocess
import sys
from pathlib import Path

from intraday_jules.testing.alpha_vantage_server import AlphaVantageServer

SECRET = "AVK3Y-LEAKCANARY-93XQ"
SCRIPT = """
import dagster as dg
from intraday_jules.definitions import build_definitions
from intraday_jules.instance import ensure_dagster_home
from intraday_jules.observability.logging import configure_logging
from intraday_jules.settings import Settings

settings = Settings.from_env()
configure_logging("DEBUG")
ensure_dagster_home(settings)
defs = build_definitions(settings)
debug = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}
with dg.DagsterInstance.get() as instance:
    for symbol in ("NVDA", "MSFT"):
        result = defs.resolve_job_def("ingest_bars_job").execute_in_process(
            instance=instance, partition_key=f"2025-02-03|{symbol}", run_config=debug)
        assert result.success
    trade = defs.resolve_job_def("trade_session_job").execute_in_process(
        instance=instance, run_config={**debug, "ops": {"trade_session": {"config": {
            "session": "2025-02-03", "feed": "replay", "policy": "random"}}}})
    assert trade.success
print("done")
"""


def _files(root: Path):
    for path in root.rglob("*"):
        if path.is_file():
            yield path


def test_a_vault_secret_used_by_ingestion_and_trading_never_leaks(tmp_path, sim_minute_file):
    home = tmp_path / "home"
    env = {**os.environ, "INTRADAY_JULES_HOME": str(home),
           "INTRADAY_JULES_VAULT_PASSWORD": "vault-pass-1", "INTRADAY_JULES_SECRETS_BACKEND":
           "vault", "INTRADAY_JULES_LOG_LEVEL": "DEBUG",
           "INTRADAY_JULES_AV_CALLS_PER_MINUTE": "100", "INTRADAY_JULES_AV_CALLS_PER_DAY": "100"}
    env.pop("INTRADAY_JULES_ALPHA_VANTAGE_KEY", None)
    stored = subprocess.run([sys.executable, "-m", "intraday_jules.cli", "secrets", "set",
                             "alpha_vantage_key"], input=SECRET, env=env, capture_output=True,
                            text=True, timeout=120)
    assert stored.returncode == 0, stored.stderr
    with AlphaVantageServer.from_replay_file(sim_minute_file, api_key=SECRET) as server:
        env.update({"INTRADAY_JULES_MARKET_SOURCE": "alpha_vantage",
                    "INTRADAY_JULES_AV_BASE_URL": server.base_url})
        run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                             text=True, timeout=600)
        used_key = [r.params.get("apikey") for r in server.requests]
    assert run.returncode == 0, run.stderr[-3000:]
    assert used_key, "the key must actually have been used against the vendor"
    output = run.stdout + run.stderr + stored.stdout + stored.stderr
    assert "DEBUG" in output  # the logs were really this verbose
    assert SECRET not in output
    leaking = [str(p) for p in _files(home) if SECRET.encode() in p.read_bytes()]
    assert not leaking, f"secret found in {leaking}"
    vault = home / "secrets.vault"
    assert vault.exists() and SECRET.encode() not in vault.read_bytes()
    assert any((home / "dagster").rglob("*.db")), "Dagster's event log must have been checked"
