"""Checks that could not judge say "skipped" and why (issue 16 item 7), instead of "pass":
a third outcome next to passed/failed, in the result, ``quality --json``, the Markdown report,
the stored report and the Dagster asset checks. A skipped check never blocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from intraday_jules.domain.bars import empty_bars_frame
from intraday_jules.quality import (
    CheckResult,
    QualityReport,
    combine_reports,
    report_markdown,
    report_to_json,
    run_quality_checks,
)
from intraday_jules.quality import checks as C
from intraday_jules.quality.base import CheckContext
from intraday_jules.quality.contracts import Contract, load_contract
from intraday_jules.quality.results import CheckStatus, Severity
from intraday_jules_tests.builders import session_bars, write_csv

DAY = date(2025, 1, 3)
#: The keys ``quality --json`` had before ``status`` (their meaning is unchanged).
OLD_KEYS = ["name", "severity", "passed", "failures"]


@pytest.fixture(scope="module")
def empty_report(market_contract: Contract) -> QualityReport:
    return run_quality_checks(empty_bars_frame(with_source=True), symbols=(), sessions=(),
                              extended_hours=False, contract=market_contract)


def test_a_frame_of_zero_rows_reports_every_check_skipped_with_its_reason(
        empty_report: QualityReport, market_contract: Contract) -> None:
    assert [c.name for c in empty_report.checks] == list(market_contract.checks)
    reasons = {c.name: c.skipped_reason for c in empty_report.checks}
    assert all(c.status is CheckStatus.SKIPPED for c in empty_report.checks), reasons
    assert all(c.passed and c.failures == [] and c.failure_count == 0
               for c in empty_report.checks)
    for name in ("timestamps_unique", "ohlc_consistent", "volume_nonnegative",
                 "timestamps_in_session", "no_missing_minutes", "no_zero_volume_runs",
                 "zero_volume_share_low", "no_price_jumps", "price_scale_plausible",
                 "volume_regime_stable"):
        assert reasons[name] == "0 rows to check", name
    assert reasons["contract_schema_valid"] == (
        "0 rows to check (the columns and dtypes match the contract)")
    assert reasons["no_missing_sessions"] == "0 rows to check and no requested symbols"
    assert reasons["newest_bar_fresh"].startswith("no clock given")
    assert reasons["sources_agree"] == "no second source given"
    assert not empty_report.blocking_failed and empty_report.failed == []
    assert empty_report.skipped_checks == empty_report.checks


def test_a_zero_row_frame_is_shown_skipped_in_markdown_and_json(
        empty_report: QualityReport) -> None:
    text = report_markdown(empty_report)
    assert "**no ERROR check could judge this data** (14 check(s) SKIPPED" in text
    assert "| ohlc_consistent | ERROR | SKIPPED | 0 | 0 | skipped: 0 rows to check |" in text
    assert "| sources_agree | WARN | SKIPPED | 0 | 0 | skipped: no second source given |" in text
    assert "pass |" not in text and "FAIL" not in text
    for check in report_to_json(empty_report)["checks"]:
        assert check["status"] == "skipped" and check["passed"] is True
        assert check["skipped_reason"] and check["failures"] == []


def test_zero_rows_for_requested_sessions_still_fail_no_missing_sessions(
        market_contract: Contract) -> None:
    report = run_quality_checks(empty_bars_frame(with_source=True), symbols=("NVDA",),
                                sessions=(DAY,), extended_hours=False, contract=market_contract,
                                use_gx=False)
    missing = report.result("no_missing_sessions")
    assert missing.status is CheckStatus.FAILED and missing.blocking
    assert [(f.symbol, f.session, f.detail) for f in missing.failures] == [
        ("NVDA", DAY, "no bars for this session")]
    assert report.blocking_failed
    assert report.result("ohlc_consistent").status is CheckStatus.SKIPPED


def test_a_zero_row_frame_with_a_missing_column_still_fails_the_schema_check(
        market_contract: Contract) -> None:
    frame = empty_bars_frame(with_source=True).drop(columns=["volume"])
    result = C.contract_schema_valid(frame, CheckContext(market_contract))
    assert result.status is CheckStatus.FAILED
    assert result.failures[0].detail == "required column 'volume' is missing"


@pytest.fixture(scope="module")
def one_session_report(market_contract: Contract) -> QualityReport:
    return run_quality_checks(session_bars(session=DAY), symbols=("NVDA",), sessions=(DAY,),
                              extended_hours=False, contract=market_contract,
                              now=datetime(2025, 1, 4, tzinfo=UTC))


def test_a_one_session_frame_reports_the_multi_session_checks_skipped(
        one_session_report: QualityReport) -> None:
    regime = one_session_report.result("volume_regime_stable")
    assert regime.status is CheckStatus.SKIPPED
    assert regime.skipped_reason == ("needs more than 5 sessions per symbol to judge"
                                     " (regular-hours sessions); the data has at most 1")
    scale = one_session_report.result("price_scale_plausible")  # bounds judged, history not
    assert scale.status is CheckStatus.PASSED
    assert scale.stats["history_skipped"] == {
        "symbols": ["NVDA"],
        "reason": "no stored price history and fewer than two sessions in the frame"}
    assert "no stored price history for NVDA" in scale.note
    fresh = one_session_report.result("newest_bar_fresh")
    assert fresh.status is CheckStatus.SKIPPED and "outside the regular hours of a live session" \
        in fresh.skipped_reason
    judged = {c.name for c in one_session_report.checks if not c.skipped}
    assert judged == {"contract_schema_valid", "timestamps_unique", "ohlc_consistent",
                      "volume_nonnegative", "timestamps_in_session", "no_missing_sessions",
                      "no_missing_minutes", "no_zero_volume_runs", "zero_volume_share_low",
                      "no_price_jumps", "price_scale_plausible"}
    assert not one_session_report.failed
    text = report_markdown(one_session_report)
    assert "| volume_regime_stable | WARN | SKIPPED |" in text
    assert "all ERROR checks pass (3 check(s) SKIPPED: nothing to judge)" in text


def test_volume_regime_is_judged_once_a_symbol_has_enough_sessions(
        sim_bars: pd.DataFrame, market_contract: Contract) -> None:
    result = C.volume_regime_stable(sim_bars, CheckContext(market_contract))
    assert result.status is CheckStatus.PASSED and result.note == ""


def test_no_missing_sessions_without_requested_sessions_says_it_judged_only_the_one_in_the_data(
        market_contract: Contract) -> None:
    result = C.no_missing_sessions(session_bars(session=DAY), CheckContext(market_contract))
    assert result.status is CheckStatus.PASSED
    assert "only its coverage was judged" in result.note


def test_cross_vendor_agreement_is_skipped_without_a_second_source_or_overlap(
        market_contract: Contract) -> None:
    ctx = CheckContext(market_contract, ("NVDA",), (DAY,))
    bars = session_bars(session=DAY)
    assert C.sources_agree(bars, None, ctx).skipped_reason == "no second source given"
    other = session_bars(session=date(2025, 1, 6))
    apart = C.sources_agree(bars, other, ctx)
    assert apart.status is CheckStatus.SKIPPED
    assert apart.skipped_reason.startswith("the two sources do not overlap")
    empty = C.sources_agree(bars, empty_bars_frame(with_source=True), ctx)
    assert empty.skipped_reason == "the second source has 0 rows: nothing to compare"
    assert C.sources_agree(bars, bars, ctx).status is CheckStatus.PASSED


def test_a_skipped_error_check_does_not_block_and_a_skipped_result_cannot_carry_failures(
        market_contract: Contract) -> None:
    skipped = CheckResult("ohlc_consistent", Severity.ERROR, True, 0,
                          skipped_reason="0 rows to check")
    assert skipped.status is CheckStatus.SKIPPED and not skipped.blocking
    assert not QualityReport("market_data", [skipped]).blocking_failed
    with pytest.raises(ValueError, match=r"'ohlc_consistent' is marked skipped .* has failures"):
        CheckResult("ohlc_consistent", Severity.ERROR, False, 0, skipped_reason="0 rows")


def test_combined_reports_are_skipped_only_where_every_partition_skipped(
        empty_report: QualityReport, one_session_report: QualityReport) -> None:
    combined = combine_reports([empty_report, one_session_report])
    ohlc = combined.result("ohlc_consistent")
    assert ohlc.status is CheckStatus.PASSED
    assert "skipped in some partitions: 0 rows to check" in ohlc.note
    regime = combined.result("volume_regime_stable")
    assert regime.status is CheckStatus.SKIPPED
    assert regime.skipped_reason.startswith("0 rows to check; needs more than 5 sessions")


def test_the_stored_report_keeps_skipped_and_its_reason(
        db_url: str, one_session_report: QualityReport) -> None:
    from intraday_jules.db import create_db_engine, upgrade_to_head
    from intraday_jules.quality import load_latest_report, store_report

    engine = create_db_engine(db_url)
    try:
        upgrade_to_head(engine)
        store_report(engine, one_session_report, partition_key="2025-01-03|NVDA")
        loaded = load_latest_report(engine, partition_key="2025-01-03|NVDA")
        assert loaded is not None
        for stored, fresh in zip(loaded.checks, one_session_report.checks, strict=True):
            assert (stored.name, stored.status, stored.skipped_reason, stored.passed) == (
                fresh.name, fresh.status, fresh.skipped_reason, fresh.passed)
        assert "| volume_regime_stable | WARN | SKIPPED |" in report_markdown(loaded)
    finally:
        engine.dispose()


def test_a_skipped_check_is_a_passed_dagster_check_with_status_and_reason_in_metadata(
        one_session_report: QualityReport) -> None:
    from intraday_jules.defs.ingestion.checks import check_result

    regime = check_result(one_session_report.result("volume_regime_stable"))
    assert regime.passed is True
    assert regime.metadata["status"].value == "skipped"
    assert regime.metadata["skipped_reason"].value.startswith("needs more than 5 sessions")
    assert regime.description is not None and regime.description.startswith("SKIPPED: ")
    judged = check_result(one_session_report.result("ohlc_consistent"))
    assert judged.passed is True and judged.metadata["status"].value == "passed"
    assert judged.metadata["skipped_reason"].value == ""


def test_quality_json_adds_status_and_skipped_reason_keys_only(tmp_path: Path) -> None:
    path = tmp_path / "one_session.csv"
    write_csv(path, session_bars(session=DAY, source=None))
    env = {**os.environ, "INTRADAY_JULES_HOME": str(tmp_path / "home"),
           "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{tmp_path / 'home' / 'ij.db'}"}
    proc = subprocess.run([sys.executable, "-m", "intraday_jules.cli", "quality", "--symbols",
                           "NVDA", "--start", "2025-01-03", "--end", "2025-01-03", "--source",
                           "replay", "--replay-path", str(path), "--json"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == ["checks"]
    names = [c["name"] for c in data["checks"]]
    assert names == list(load_contract("market_data").checks)
    for check in data["checks"]:
        assert list(check) == ["name", "severity", "passed", "status", "skipped_reason",
                               "failures"]
        assert [k for k in check if k in OLD_KEYS] == OLD_KEYS
        assert check["status"] in ("passed", "failed", "skipped")
        assert check["passed"] is (check["status"] != "failed")
        assert (check["skipped_reason"] is None) is (check["status"] != "skipped")
    by_name = {c["name"]: c for c in data["checks"]}
    assert by_name["volume_regime_stable"]["status"] == "skipped"
    assert by_name["sources_agree"]["skipped_reason"] == "no second source given"
    assert by_name["zero_volume_share_low"]["status"] == "passed"
