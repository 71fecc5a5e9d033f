"""The installed ``intraday-jules`` command, run as a user would (subprocess)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from intraday_jules_tests.builders import session_bars, write_csv

CLI = [sys.executable, "-m", "intraday_jules.cli"]


def run(args, env_extra, timeout=300):
    env = {**os.environ, **env_extra}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def home_env(tmp_path):
    return {"INTRADAY_JULES_HOME": str(tmp_path / "home"),
            "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{tmp_path / 'home' / 'ij.db'}"}


def test_config_json_prints_every_setting_with_secrets_masked(home_env):
    env = {**home_env, "INTRADAY_JULES_DATABASE_URL": "postgresql://u:topsecret@db/ij"}
    proc = run(["config", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["database_url"] == "postgresql://u:***@db/ij"
    assert "topsecret" not in proc.stdout + proc.stderr
    assert data["market_sources"] == "simulated"


def test_ingest_replay_file_prints_per_symbol_counts_and_is_idempotent(home_env,
                                                                        sim_minute_file):
    path = sim_minute_file  # all hours: only the regular sessions' minutes are ingested
    args = ["ingest", "--symbols", "NVDA,MSFT", "--start", "2025-01-02", "--end", "2025-01-10",
            "--source", "replay", "--replay-path", str(path), "--json"]
    first = run(args, home_env)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["sessions"] == ["2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07",
                                "2025-01-08", "2025-01-10"]
    assert data["symbols"]["NVDA"]["rows"] == 6 * 390
    assert data["symbols"]["MSFT"]["inserted"] == 6 * 390
    assert data["symbols"]["MSFT"]["sources"] == ["replay"]
    again = json.loads(run(args, home_env).stdout)
    assert again["symbols"]["NVDA"]["unchanged"] == 6 * 390
    assert again["symbols"]["NVDA"]["inserted"] == 0


def test_ingest_bad_file_is_one_line_error_naming_the_bar_and_writes_nothing(home_env, tmp_path):
    bars = session_bars(n=20, source=None)
    bars.loc[12, "low"] = 500.0
    path = tmp_path / "bad.csv"
    write_csv(path, bars)
    proc = run(["ingest", "--start", "2025-01-03", "--end", "2025-01-03", "--symbols", "NVDA",
                "--source", "replay", "--replay-path", str(path)], home_env)
    assert proc.returncode == 1
    assert "symbol NVDA" in proc.stderr and "ts 2025-01-03T14:42:00Z" in proc.stderr
    assert "field low" in proc.stderr and "Traceback" not in proc.stderr
    count = run(["ingest", "--start", "2025-01-03", "--end", "2025-01-03", "--symbols", "NVDA",
                 "--json"], home_env)  # the simulated default still works afterwards
    assert json.loads(count.stdout)["symbols"]["NVDA"]["inserted"] == 390


def test_ingest_against_unreachable_database_fails_fast_with_hint(home_env):
    env = {**home_env, "INTRADAY_JULES_DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/x"}
    proc = run(["ingest", "--start", "2025-01-03", "--end", "2025-01-03"], env)
    assert proc.returncode == 1
    assert "u:***@127.0.0.1:1/x" in proc.stderr and ":pw@" not in proc.stderr
    assert "hint:" in proc.stderr


def test_ingest_range_without_sessions_is_a_clear_error(home_env):
    proc = run(["ingest", "--start", "2025-12-25", "--end", "2025-12-25"], home_env)
    assert proc.returncode == 1 and "no XNYS sessions" in proc.stderr


def test_demo_runs_through_dagster_and_reports_what_it_did(home_env, tmp_path):
    proc = run(["demo", "--sessions", "8", "--foundation-steps", "256", "--dual-steps", "256",
                "--json"], home_env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    assert len(data["sessions"]) == 8
    assert data["rows_per_symbol"]["NVDA"] >= 7 * 390
    assert Path(data["dagster_home"], "dagster.yaml").is_file()
    jobs = [r["job"] for r in data["runs"]]
    assert jobs.count("ingest_bars_job") == 16 and jobs.count("report_quality_job") == 8
    assert jobs[-2:] == ["train_models_job", "trade_session_job"]
    assert data["models"]["foundation"] and data["models"]["dual"]
    assert data["models"]["last_decision"]["decision"] in ("promoted", "rejected")
    assert data["trading"]["policy"] == ("promoted" if data["models"]["champion"] else "random")
    assert data["trading"]["session"] == data["sessions"][-1]
    assert data["trading"]["decisions"] > 0
    assert "make ui" in data["ui"]


def test_console_script_is_installed():
    assert shutil.which("intraday-jules") or Path(sys.executable).with_name(
        "intraday-jules").exists()


def test_quality_json_has_the_documented_shape_and_passes_on_clean_data(home_env,
                                                                        sim_minute_file):
    path = sim_minute_file  # realistic, clean bars (the real DeepSeek day: quality/test_real_data)
    proc = run(["quality", "--symbols", "NVDA,MSFT", "--start", "2025-01-27", "--end",
                "2025-01-31", "--source", "replay", "--replay-path", str(path), "--json"],
               home_env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) <= {"checks", "skipped"} and "checks" in data  # skipped: issue 11 f5
    for check in data["checks"]:
        assert set(check) == {"name", "severity", "passed", "status", "skipped_reason",
                              "failures"}  # status, skipped_reason: issue 16 (keys added)
        for failure in check["failures"]:
            assert {"symbol", "session", "detail"} <= set(failure) <= {"symbol", "session", "ts",
                                                                        "detail"}
    names = {c["name"] for c in data["checks"]}
    assert {"ohlc_consistent", "timestamps_unique", "no_missing_minutes",
            "no_price_jumps"} <= names


def test_quality_exits_non_zero_when_an_error_check_fails(home_env, tmp_path):
    bars = session_bars(n=150, source=None)  # a truncated session: no_missing_sessions (ERROR)
    path = tmp_path / "short.csv"
    write_csv(path, bars)
    proc = run(["quality", "--symbols", "NVDA", "--start", "2025-01-03", "--end", "2025-01-03",
                "--source", "replay", "--replay-path", str(path), "--json"], home_env)
    assert proc.returncode == 1
    failed = [c for c in json.loads(proc.stdout)["checks"] if not c["passed"]]
    assert any(c["name"] == "no_missing_sessions" and c["severity"] == "ERROR" for c in failed)
    failure = next(c for c in failed if c["name"] == "no_missing_sessions")["failures"][0]
    assert failure["symbol"] == "NVDA" and failure["session"] == "2025-01-03"


def test_status_json_reports_every_section_and_survives_an_unreachable_broker(home_env):
    assert run(["ingest", "--start", "2025-03-12", "--end", "2025-03-12", "--json"],
               home_env).returncode == 0
    env = {**home_env, "INTRADAY_JULES_BROKER": "ibkr", "INTRADAY_JULES_IB_PORT": "1"}
    proc = run(["status", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"market", "freshness", "quality", "model", "risk", "today", "broker"} <= set(data)
    assert {r["symbol"] for r in data["freshness"]} == {"NVDA", "MSFT"}
    assert data["freshness"][0]["newest_bar"].startswith("2025-03-12T19:59")
    assert data["risk"]["state"] == "ACTIVE"
    assert data["model"]["champion"] is None
    assert data["broker"] == {"broker": "ibkr", "host": "127.0.0.1", "port": 1,
                              "connected": False, "note": "TCP reachability of the IB API port"}
    human = run(["status"], env)
    assert human.returncode == 0 and "data freshness" in human.stdout
