"""Issue 11, findings 4 and 5: ingest refuses implausible prices and impossible volumes, and
says which rows of a file it did not take, through the real CLI (subprocess) and the Dagster
asset (in-process), on SQLite and PostgreSQL. Replay files are the simulator's, edited here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from intraday_jules.definitions import build_definitions
from intraday_jules.defs.common.partitions import partition_key
from intraday_jules.market_data.replay import read_bars_file
from intraday_jules.market_data.store import BarStore
from intraday_jules.quality import load_latest_report, read_quarantine
from intraday_jules.settings import Settings
from intraday_jules_tests.conftest import write_simulated_minutes

CLI = [sys.executable, "-m", "intraday_jules.cli"]
BARS = dg.AssetKey(["market_data", "bars"])
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
SQL_SYMBOL = "x'; DROP TABLE market_data;--"
PRICES = ["open", "high", "low", "close"]


@pytest.fixture
def settings_for(tmp_path: Path):
    def make(**overrides):
        env = {"INTRADAY_JULES_HOME": str(tmp_path / "home"), "INTRADAY_JULES_DEPLOYMENT": "ci"}
        return Settings.from_env(env, **overrides)

    return make


@pytest.fixture(scope="module")
def sim_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Simulated NVDA+MSFT regular-hours minutes, 2025-01-02..2025-01-21."""
    return write_simulated_minutes(tmp_path_factory.mktemp("refusals") / "sim.csv",
                                   "2025-01-02", "2025-01-21", extended_hours=False)


def _edited(sim_file: Path, tmp_path: Path, edit) -> Path:
    rows = pd.read_csv(sim_file, dtype=str)
    out = tmp_path / "edited.csv"
    edit(rows).to_csv(out, index=False)
    return out


def _session(rows: pd.DataFrame, symbol: str, day: str) -> pd.Series:
    return (rows["symbol"] == symbol) & rows["ts"].str.startswith(day)


def _extra(rows: pd.DataFrame, symbol: str, ts: str) -> pd.DataFrame:
    row = rows.iloc[[0]].copy()
    row["symbol"], row["ts"] = symbol, ts
    return pd.concat([rows, row], ignore_index=True)


def _seed_history(db_url: str, sim_file: Path, day: str = "2025-01-03") -> int:
    """Store one clean session (the price history) in-process; returns the table's rows."""
    bars = read_bars_file(sim_file)
    bars = bars[bars["ts"].dt.strftime("%Y-%m-%d") == day]
    store = BarStore.open(db_url)
    try:
        store.upsert(bars, source="replay")
        return store.count()
    finally:
        store.close()


def _count(db_url: str, symbol: str | None = None, ts: str | None = None) -> int:
    store = BarStore.open(db_url)
    try:
        if ts is None:
            return store.count(symbol)
        at = pd.Timestamp(ts).to_pydatetime()
        return store.count(symbol, at, at + pd.Timedelta(minutes=1))
    finally:
        store.close()


def _cli(db_url: str, tmp_path: Path, path: Path, start: str, end: str, *extra: str):
    env = {**os.environ, "INTRADAY_JULES_HOME": str(tmp_path / "home"),
           "INTRADAY_JULES_DATABASE_URL": db_url}
    args = ["ingest", "--start", start, "--end", end, "--source", "replay", "--replay-path",
            str(path), *extra]
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=300)


def _scale(kind: str):
    def edit(rows: pd.DataFrame) -> pd.DataFrame:
        sel = _session(rows, "MSFT", "2025-01-06")
        for col in PRICES:
            if kind == "x1000":
                rows.loc[sel, col] = (rows.loc[sel, col].astype(float) * 1000).round(2).astype(str)
            else:
                rows.loc[sel, col] = kind
        return rows
    return edit


SCALES = {"1e308": "must be <= 1e+07", "0.000001": "must be >= 0.0001",
          "x1000": "a price-unit or scale error"}


@pytest.mark.parametrize("kind", list(SCALES))
def test_ingest_when_a_whole_session_is_off_scale_quarantines_it_blocks_it_and_stores_nothing(
        db_url: str, tmp_path: Path, sim_file: Path, kind: str) -> None:
    before = _seed_history(db_url, sim_file)
    path = _edited(sim_file, tmp_path, _scale(kind))
    proc = _cli(db_url, tmp_path, path, "2025-01-06", "2025-01-06", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    msft, nvda = data["symbols"]["MSFT"], data["symbols"]["NVDA"]
    assert (msft["rows"], msft["quarantined"]) == (0, 390)
    assert "price_scale_plausible" in msft["blocked_sessions"][0]["checks"]
    assert (nvda["rows"], nvda["quarantined"], nvda["blocked_sessions"]) == (390, 0, [])
    assert _count(db_url, "MSFT") == before // 2 and _count(db_url) == before + 390
    store = BarStore.open(db_url)
    try:
        quarantined = read_quarantine(store.engine, partition_key="2025-01-06|MSFT")
        report = load_latest_report(store.engine, partition_key="2025-01-06|MSFT")
    finally:
        store.close()
    assert len(quarantined) == 390
    assert (quarantined["check_name"] == "price_scale_plausible").all()
    assert quarantined["reason"].str.contains(SCALES[kind], regex=False).all()
    assert report is not None and not report.result("price_scale_plausible").passed


def test_ingest_when_a_volume_exceeds_int64_refuses_the_file_naming_the_row_and_writes_nothing(
        db_url: str, tmp_path: Path, sim_file: Path) -> None:
    before = _seed_history(db_url, sim_file)

    def edit(rows: pd.DataFrame) -> pd.DataFrame:
        rows.loc[rows.index[_session(rows, "NVDA", "2025-01-06").to_numpy()][5],
                 "volume"] = str(2**63 + 10)
        return rows

    path = _edited(sim_file, tmp_path, edit)
    proc = _cli(db_url, tmp_path, path, "2025-01-06", "2025-01-06")
    assert proc.returncode == 1
    assert "RuntimeWarning" not in proc.stderr
    first = proc.stderr.strip().splitlines()[0]
    for part in (str(path), "symbol NVDA", "ts 2025-01-06T14:35:00Z", "field volume",
                 str(2**63 + 10)):
        assert part in first, proc.stderr
    assert _count(db_url) == before


@pytest.mark.parametrize("symbol", ["AAPL", "nvda", SQL_SYMBOL])
def test_ingest_when_the_file_has_an_unknown_symbol_fails_naming_it_and_writes_nothing(
        db_url: str, tmp_path: Path, sim_file: Path, symbol: str) -> None:
    before = _seed_history(db_url, sim_file)
    path = _edited(sim_file, tmp_path, lambda r: _extra(r, symbol, "2025-01-06T15:00:00Z"))
    proc = _cli(db_url, tmp_path, path, "2025-01-06", "2025-01-06", "--json")
    assert proc.returncode == 1
    answer = json.loads(proc.stdout)  # under --json the error is one JSON object on stdout too
    assert set(answer) == {"error", "hint"} and repr(symbol) in answer["error"]
    assert "--ignore-unknown-symbols" in answer["hint"]
    assert repr(symbol) in proc.stderr and "--ignore-unknown-symbols" in proc.stderr
    error = [line for line in proc.stderr.splitlines() if "unknown symbol(s)" in line]
    assert len(error) == 1 and repr(symbol) in error[0] and "nothing was written" in error[0]
    assert _count(db_url) == before


def test_ingest_with_ignore_unknown_symbols_stores_the_rest_and_names_the_skipped_rows(
        db_url: str, tmp_path: Path, sim_file: Path) -> None:
    before = _seed_history(db_url, sim_file)

    def edit(rows: pd.DataFrame) -> pd.DataFrame:
        for symbol in ("AAPL", "nvda", SQL_SYMBOL):
            rows = _extra(rows, symbol, "2025-01-06T15:00:00Z")
        return rows

    path = _edited(sim_file, tmp_path, edit)
    proc = _cli(db_url, tmp_path, path, "2025-01-06", "2025-01-06", "--json",
                "--ignore-unknown-symbols")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["skipped"]["unknown_symbols"] == {"AAPL": 1, "nvda": 1, SQL_SYMBOL: 1}
    assert data["skipped"]["by_reason"] == {"unknown_symbol": 3}
    assert data["symbols"]["NVDA"]["rows"] == data["symbols"]["MSFT"]["rows"] == 390
    assert _count(db_url) == before + 780  # the table is intact: nothing was injected
    assert all(_count(db_url, s) == 0 for s in ("AAPL", "nvda", SQL_SYMBOL))


def _outside_rows(rows: pd.DataFrame) -> pd.DataFrame:
    for ts in ("2025-01-17T21:30:00Z",   # Friday 16:30 ET: after the close
               "2025-01-18T15:00:00Z",   # Saturday
               "2025-01-20T15:00:00Z",   # Martin Luther King Jr. Day: exchange holiday
               "2025-01-21T13:00:00Z"):  # Tuesday 08:00 ET: pre-market, regular hours asked
        rows = _extra(rows, "NVDA", ts)
    return rows


def test_ingest_when_rows_fall_outside_the_sessions_counts_and_names_them_in_text_and_json(
        db_url: str, tmp_path: Path, sim_file: Path) -> None:
    path = _edited(sim_file, tmp_path, _outside_rows)
    proc = _cli(db_url, tmp_path, path, "2025-01-17", "2025-01-21", "--symbols", "NVDA",
                "--json")
    assert proc.returncode == 0, proc.stderr
    skipped = json.loads(proc.stdout)["skipped"]
    assert skipped["by_reason"] == {"symbol_not_requested": 780, "weekend": 1, "holiday": 1,
                                    "before_open": 1, "after_close": 1}
    assert skipped["symbols"]["symbol_not_requested"] == {"MSFT": 780}
    named = {(e["ts"], e["reason"]) for e in skipped["examples"]}
    assert {("2025-01-18T15:00:00Z", "weekend"), ("2025-01-20T15:00:00Z", "holiday")} <= named
    assert _count(db_url, "NVDA") == 780
    for ts in ("2025-01-17T21:30:00Z", "2025-01-18T15:00:00Z", "2025-01-20T15:00:00Z"):
        assert _count(db_url, "NVDA", ts) == 0
    text = _cli(db_url, tmp_path, path, "2025-01-17", "2025-01-21", "--symbols", "NVDA")
    assert text.returncode == 0, text.stderr
    assert "784 row(s) of the source not ingested" in text.stdout
    assert "after_close: 'NVDA': 1" in text.stdout and "holiday: 'NVDA': 1" in text.stdout


# ---- the Dagster asset (same code path, in-process) ----

def _materialize(settings_for, db_url: str, path: Path, day: str, symbol: str):
    settings = settings_for(database_url=db_url, market_sources=("replay",), replay_path=path)
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection={BARS})
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(partition_key=str(partition_key(day, symbol)),
                                      instance=instance, raise_on_error=False, run_config=QUIET)


@pytest.mark.parametrize("kind", list(SCALES))
def test_bars_asset_when_a_session_is_off_scale_fails_the_check_and_stores_nothing(
        settings_for, db_url: str, tmp_path: Path, sim_file: Path, kind: str) -> None:
    before = _seed_history(db_url, sim_file)
    path = _edited(sim_file, tmp_path, _scale(kind))
    result = _materialize(settings_for, db_url, path, "2025-01-06", "MSFT")
    assert not result.success  # a failed blocking check fails the step
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["price_scale_plausible"].passed
    assert checks["price_scale_plausible"].severity == dg.AssetCheckSeverity.ERROR
    meta = result.asset_materializations_for_node("market_data__bars")[0].metadata
    assert meta["rows_quarantined"].value == 390 and meta["rows"].value == 0
    assert _count(db_url) == before


def test_bars_asset_when_a_volume_exceeds_int64_fails_naming_the_row_and_writes_nothing(
        settings_for, db_url: str, tmp_path: Path, sim_file: Path) -> None:
    before = _seed_history(db_url, sim_file)

    def edit(rows: pd.DataFrame) -> pd.DataFrame:
        rows.loc[rows.index[_session(rows, "NVDA", "2025-01-06").to_numpy()][5],
                 "volume"] = str(2**63 + 10)
        return rows

    result = _materialize(settings_for, db_url, _edited(sim_file, tmp_path, edit),
                          "2025-01-06", "NVDA")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    error, message = failure.step_failure_data.error, ""
    while error is not None:  # Dagster wraps the refusal: read the whole cause chain
        message, error = message + error.message, error.cause
    assert "field volume" in message and str(2**63 + 10) in message
    assert _count(db_url) == before


def test_bars_asset_names_skipped_rows_in_metadata_and_the_stored_report(
        settings_for, db_url: str, tmp_path: Path, sim_file: Path) -> None:
    def edit(rows: pd.DataFrame) -> pd.DataFrame:
        rows = _outside_rows(rows)
        for symbol in ("AAPL", "nvda", SQL_SYMBOL):
            rows = _extra(rows, symbol, "2025-01-21T15:00:00Z")
        return _extra(rows, "NVDA", "2025-01-21T21:05:00Z")  # after this partition's close

    result = _materialize(settings_for, db_url, _edited(sim_file, tmp_path, edit),
                          "2025-01-21", "NVDA")
    assert result.success
    meta = result.asset_materializations_for_node("market_data__bars")[0].metadata
    skipped = meta["skipped"].value
    assert meta["rows_skipped"].value == 7 and meta["rows"].value == 390
    assert skipped["by_reason"] == {"unknown_symbol": 3, "weekend": 1, "holiday": 1,
                                    "before_open": 1, "after_close": 1}
    assert skipped["unknown_symbols"] == {"AAPL": 1, "nvda": 1, SQL_SYMBOL: 1}
    store = BarStore.open(db_url)
    try:
        report = load_latest_report(store.engine, partition_key="2025-01-21|NVDA")
    finally:
        store.close()
    assert report is not None and report.skipped["by_reason"] == skipped["by_reason"]
    assert _count(db_url) == 390
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:  # the table is intact, nothing was injected
            assert conn.execute(sa.text("SELECT count(*) FROM market_data")).scalar_one() == 390
    finally:
        engine.dispose()
    assert date(2025, 1, 21) in report.sessions


def test_quality_from_a_file_with_an_unknown_symbol_fails_unless_ignored_then_names_it(
        tmp_path: Path, sim_file: Path) -> None:
    path = _edited(sim_file, tmp_path, lambda r: _extra(r, "AAPL", "2025-01-06T15:00:00Z"))
    env = {**os.environ, "INTRADAY_JULES_HOME": str(tmp_path / "home"),
           "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}"}
    args = [*CLI, "quality", "--start", "2025-01-06", "--end", "2025-01-06", "--source",
            "replay", "--replay-path", str(path), "--json"]
    refused = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and "'AAPL' (1 rows)" in refused.stderr
    ignored = subprocess.run([*args, "--ignore-unknown-symbols"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert ignored.returncode == 0, ignored.stderr
    data = json.loads(ignored.stdout)
    assert data["skipped"]["unknown_symbols"] == {"AAPL": 1}
    assert {c["name"]: c["passed"] for c in data["checks"]}["price_scale_plausible"]
