"""Reports: stored in data_quality_reports (SQLite and PostgreSQL), read back as the latest per
partition, and rendered as the CLI JSON, Markdown and PNG."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from intraday_jules.db import create_db_engine, upgrade_to_head
from intraday_jules.quality import (
    QualityReport,
    load_latest_report,
    load_latest_reports,
    report_markdown,
    report_png,
    report_to_json,
    run_quality_checks,
    store_report,
)
from intraday_jules.quality.contracts import Contract

SESSIONS = (date(2025, 1, 2), date(2025, 1, 3))
T = pd.Timestamp("2025-01-03T15:00Z")


@pytest.fixture
def defective_report(two_sessions: pd.DataFrame, market_contract: Contract) -> QualityReport:
    """Real bars with a bad OHLC row, 60 dropped minutes (a session at 85%: blocking) and a
    zero-volume run."""
    bars = two_sessions.copy()
    nvda = bars.index[bars["symbol"] == "NVDA"]
    bars.loc[nvda[400], "low"] = bars.loc[nvda[400], "high"] + 1
    bars.loc[nvda[500:512], "volume"] = 0
    bars = bars.drop(index=nvda[100:160])
    return run_quality_checks(bars, symbols=("NVDA", "MSFT"), sessions=SESSIONS,
                              extended_hours=False, contract=market_contract, use_gx=False,
                              now=datetime(2025, 1, 4, tzinfo=UTC))


def test_report_round_trips_through_data_quality_reports(
        db_url: str, defective_report: QualityReport) -> None:
    engine = create_db_engine(db_url)
    try:
        upgrade_to_head(engine)
        written = store_report(engine, defective_report, partition_key="2025-01-02..2025-01-03",
                               run_id="run-1")
        assert written == len(defective_report.checks) == 14  # + zero_volume_share_low
        loaded = load_latest_report(engine, partition_key="2025-01-02..2025-01-03")
        assert loaded is not None
        assert loaded.blocking_failed and defective_report.blocking_failed
        for stored, fresh in zip(loaded.checks, defective_report.checks, strict=True):
            assert (stored.name, stored.severity, stored.passed, stored.failure_count,
                    stored.rows_checked) == (fresh.name, fresh.severity, fresh.passed,
                                             fresh.failure_count, fresh.rows_checked)
            assert stored.failures == fresh.failures[:50]
            assert stored.note == fresh.note
        missing = loaded.result("no_missing_minutes")
        assert missing.failure_count == 60 and len(missing.failures) == 50
        assert missing.stats["missing"] == {"NVDA": {"2025-01-02": 60}}
        assert loaded.sessions == SESSIONS and loaded.symbols == ("NVDA", "MSFT")
        with engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT symbol, session, severity, passed, failures, run_id FROM"
                " data_quality_reports WHERE check_name = 'ohlc_consistent'")).one()
        assert (row.symbol, row.session, row.severity, bool(row.passed), row.failures,
                row.run_id) == (None, None, "ERROR", False, 1, "run-1")
    finally:
        engine.dispose()


def test_latest_report_per_partition_is_the_newest_run(
        db_url: str, defective_report: QualityReport, two_sessions: pd.DataFrame,
        market_contract: Contract) -> None:
    engine = create_db_engine(db_url)
    try:
        upgrade_to_head(engine)
        clean = run_quality_checks(two_sessions, symbols=("NVDA", "MSFT"), sessions=SESSIONS,
                                   extended_hours=False, contract=market_contract, use_gx=False)
        store_report(engine, defective_report, partition_key="a",
                     checked_at=datetime(2026, 1, 1, 10, tzinfo=UTC))
        store_report(engine, clean, partition_key="a",
                     checked_at=datetime(2026, 1, 1, 11, tzinfo=UTC))
        store_report(engine, defective_report, partition_key="b",
                     checked_at=datetime(2026, 1, 1, 12, tzinfo=UTC))
        reports = load_latest_reports(engine, ["a", "b", "never-checked"])
        assert set(reports) == {"a", "b"}
        assert not reports["a"].blocking_failed and reports["b"].blocking_failed
        assert reports["a"].checked_at == datetime(2026, 1, 1, 11, tzinfo=UTC)
        assert load_latest_report(engine, partition_key="never-checked") is None
    finally:
        engine.dispose()


def test_report_to_json_has_exactly_the_cli_shape(defective_report: QualityReport) -> None:
    payload = report_to_json(defective_report, max_failures=50)
    assert list(payload) == ["checks"]
    for check in payload["checks"]:
        assert list(check) == ["name", "severity", "passed", "status", "skipped_reason",
                               "failures"]  # status, skipped_reason: issue 16 (keys added)
        assert len(check["failures"]) <= 50
        for failure in check["failures"]:
            assert set(failure) in ({"symbol", "session", "ts", "detail"},
                                    {"symbol", "session", "detail"})
    ohlc = next(c for c in payload["checks"] if c["name"] == "ohlc_consistent")
    assert ohlc["severity"] == "ERROR" and ohlc["passed"] is False
    assert ohlc["failures"][0]["symbol"] == "NVDA" and ohlc["failures"][0]["session"] == (
        "2025-01-03")
    assert ohlc["failures"][0]["ts"].endswith("Z")
    assert len(next(c for c in payload["checks"]
                    if c["name"] == "no_missing_minutes")["failures"]) == 50


def test_markdown_lists_every_check_and_the_worst_failures(
        defective_report: QualityReport) -> None:
    text = report_markdown(defective_report)
    assert "**BLOCKING: 2 ERROR check(s) failed**" in text  # ohlc, and a session at 85%
    for check in defective_report.checks:
        assert f"| {check.name} | {check.severity} |" in text
    assert "| ohlc_consistent | ERROR | **FAIL** | 1,500 | 1 |" in text
    assert "| no_missing_minutes | WARN | **FAIL** |" in text
    assert "60 missing: 330 of 390 regular-hours 1-minute bars present" in text
    assert "**no_zero_volume_runs** (WARN, 1 failure), worst:" in text
    assert "only 330 of 390 regular-hours bars (85%; at least 90% required)" in text


def test_png_shows_missing_and_zero_volume_minutes_per_session(
        db_url: str, defective_report: QualityReport, tmp_path: Path) -> None:
    from matplotlib.image import imread

    path = tmp_path / "quality.png"
    data = report_png(defective_report, path)
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and path.read_bytes() == data
    assert imread(io.BytesIO(data)).shape[:2] == (550, 1000)
    engine = create_db_engine(db_url)
    try:
        upgrade_to_head(engine)
        store_report(engine, defective_report, partition_key="p")
        loaded = load_latest_report(engine, partition_key="p")
        assert loaded is not None and report_png(loaded).startswith(b"\x89PNG")
        assert "| no_zero_volume_runs | WARN | **FAIL** |" in report_markdown(loaded)
    finally:
        engine.dispose()
