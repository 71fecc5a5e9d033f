"""``zero_volume_share_low`` (issue 16 item 7): a session where many bars show zero volume while
the price moves (a vendor artefact) is named, with its share; isolated such bars are not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from intraday_jules.quality import QualityReport, report_markdown, report_to_json
from intraday_jules.quality import checks as C
from intraday_jules.quality.base import CheckContext
from intraday_jules.quality.contracts import Contract, parse_contract
from intraday_jules.quality.results import CheckStatus, Severity
from intraday_jules.quality.run import run_quality_checks
from intraday_jules_tests.builders import session_bars

DAY = date(2025, 1, 3)
Ctx = Callable[..., CheckContext]


def with_zero_volume_moving(bars: pd.DataFrame, symbol: str, day: date, every: int
                            ) -> tuple[pd.DataFrame, int]:
    """A copy with volume 0 on every ``every``-th regular-hours bar of (symbol, day), whose
    price still moves (high != low): scattered, so never a run of consecutive zero bars."""
    out = bars.copy()
    local = out["ts"].dt.tz_convert("America/New_York")
    mine = out.index[(out["symbol"] == symbol).to_numpy() & (local.dt.date == day).to_numpy()]
    hit = mine[::every]
    assert (out.loc[hit, "high"] != out.loc[hit, "low"]).all()
    out.loc[hit, "volume"] = 0
    return out, len(hit)


def one_session_ctx(contract: Contract) -> CheckContext:
    return CheckContext(contract, ("NVDA",), (DAY,))


def test_a_session_with_a_fifth_of_its_bars_at_zero_volume_while_the_price_moves_warns_naming_symbol_session_and_share(  # noqa: E501
        market_contract: Contract) -> None:
    bars, hit = with_zero_volume_moving(session_bars(session=DAY), "NVDA", DAY, every=5)
    assert hit == 78  # 20% of 390
    result = C.zero_volume_share_low(bars, one_session_ctx(market_contract))
    assert result.status is CheckStatus.FAILED and result.severity is Severity.WARN
    assert [(f.symbol, f.session, f.ts) for f in result.failures] == [("NVDA", DAY, None)]
    assert result.failures[0].detail.startswith(
        "78 of 390 regular-hours bars (20.0%) have zero volume while the price moved"
        " (limit 5%)")
    assert result.stats["zero_volume_moving"]["NVDA"][DAY.isoformat()] == {
        "bars": 390, "zero_volume_moving": 78, "share": 0.2}
    assert len(result.offending) == 78 and not result.offending["quarantinable"].any()
    # the gap this check closes: no run of consecutive zero-volume bars, so that check passes
    assert C.no_zero_volume_runs(bars, one_session_ctx(market_contract)).passed


def test_a_session_with_one_percent_zero_volume_moving_bars_does_not_warn(
        market_contract: Contract) -> None:
    bars, hit = with_zero_volume_moving(session_bars(session=DAY), "NVDA", DAY, every=98)
    assert hit == 4  # about 1% of 390: isolated bars are common and never flagged one by one
    result = C.zero_volume_share_low(bars, one_session_ctx(market_contract))
    assert result.status is CheckStatus.PASSED and result.failures == []
    assert result.stats["zero_volume_moving"]["NVDA"][DAY.isoformat()]["zero_volume_moving"] == 4


def test_the_share_limit_is_exclusive_and_comes_from_the_contract(
        market_contract: Contract) -> None:
    text = Path(market_contract.origin).read_text(encoding="utf-8").replace(
        "max_share: 0.05", "max_share: 0.2")
    loose = parse_contract(text, origin="<test>")
    bars, _ = with_zero_volume_moving(session_bars(session=DAY), "NVDA", DAY, every=5)
    assert C.zero_volume_share_low(bars, one_session_ctx(loose)).passed  # 20% is not > 20%
    bars, _ = with_zero_volume_moving(session_bars(session=DAY), "NVDA", DAY, every=4)
    assert not C.zero_volume_share_low(bars, one_session_ctx(loose)).passed  # 25%


def test_zero_volume_bars_whose_price_did_not_move_are_not_counted(
        market_contract: Contract) -> None:
    bars = session_bars(session=DAY)
    flat = bars.index[::5]
    price = bars["close"].to_numpy().copy()
    for i in flat:  # a flat bar at the previous close: no trade, nothing contradicts 0 volume
        prev = price[i - 1] if i else bars.loc[i, "open"]
        bars.loc[i, ["open", "high", "low", "close"]] = prev
        price[i] = prev
        bars.loc[i, "volume"] = 0
    result = C.zero_volume_share_low(bars, one_session_ctx(market_contract))
    assert result.passed and result.status is CheckStatus.PASSED
    assert result.stats["zero_volume_moving"] == {}


def test_each_offending_session_is_named_and_clean_ones_are_not(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    bars, hit = with_zero_volume_moving(two_sessions, "MSFT", DAY, every=4)
    result = C.zero_volume_share_low(bars, ctx_for())
    assert [(f.symbol, f.session) for f in result.failures] == [("MSFT", DAY)]
    assert f"{hit} of 390 regular-hours bars (25.1%)" in result.failures[0].detail
    assert result.stats["sessions_judged"] == 4


def test_sessions_too_short_to_judge_are_not_flagged_and_the_note_says_so(
        market_contract: Contract) -> None:
    long_, _ = with_zero_volume_moving(session_bars(session=DAY), "NVDA", DAY, every=2)
    short = session_bars(session=date(2025, 1, 6), n=20)
    short.loc[short.index[::2], "volume"] = 0  # 50% of 20 bars: fewer than min_bars (30)
    ctx = CheckContext(market_contract, ("NVDA",), (DAY, date(2025, 1, 6)))
    result = C.zero_volume_share_low(pd.concat([long_, short], ignore_index=True), ctx)
    assert [f.session for f in result.failures] == [DAY]
    assert "1 (symbol, session)(s) with fewer than 30 regular-hours bars not judged" in result.note
    only_short = C.zero_volume_share_low(short, ctx)
    assert only_short.status is CheckStatus.SKIPPED
    assert "no (symbol, session) has 30 or more regular-hours bars (most: 20)" in (
        only_short.skipped_reason)


@pytest.fixture(scope="module")
def warned_report(market_contract: Contract) -> tuple[QualityReport, int]:
    bars, hit = with_zero_volume_moving(session_bars(session=DAY), "NVDA", DAY, every=5)
    report = run_quality_checks(bars, symbols=("NVDA",), sessions=(DAY,), extended_hours=False,
                                contract=market_contract, now=datetime(2025, 1, 4, tzinfo=UTC))
    return report, hit


def test_the_warning_is_in_the_report_json_and_markdown_and_does_not_block(
        warned_report: tuple[QualityReport, int]) -> None:
    report, _ = warned_report
    assert "zero_volume_share_low" in [c.name for c in report.checks]
    assert not report.blocking_failed
    assert [c.name for c in report.failed] == ["zero_volume_share_low"]
    check = next(c for c in report_to_json(report)["checks"]
                 if c["name"] == "zero_volume_share_low")
    assert (check["severity"], check["passed"], check["status"], check["skipped_reason"]) == (
        "WARN", False, "failed", None)
    assert check["failures"] == [{"symbol": "NVDA", "session": "2025-01-03", "detail": (
        "78 of 390 regular-hours bars (20.0%) have zero volume while the price moved (limit 5%):"
        " volume from this vendor is incomplete for this session")}]
    text = report_markdown(report)
    assert "| zero_volume_share_low | WARN | **FAIL** | 390 | 1 |" in text
    assert "all ERROR checks pass" in text


def test_the_warning_is_a_non_blocking_dagster_asset_check_with_its_share_in_metadata(
        warned_report: tuple[QualityReport, int]) -> None:
    import dagster as dg

    from intraday_jules.defs.ingestion.checks import bars_check_specs, check_result

    spec = next(s for s in bars_check_specs() if s.name == "zero_volume_share_low")
    assert spec.blocking is False and spec.description.startswith("WARN")
    report, _ = warned_report
    result = check_result(report.result("zero_volume_share_low"))
    assert result.passed is False and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["status"].value == "failed"
    offending = result.metadata["offending"].value
    assert offending[0]["symbol"] == "NVDA" and "(20.0%)" in offending[0]["detail"]


def test_the_stored_report_keeps_the_warning(db_url: str,
                                             warned_report: tuple[QualityReport, int]) -> None:
    from intraday_jules.db import create_db_engine, upgrade_to_head
    from intraday_jules.quality import load_latest_report, store_report

    engine = create_db_engine(db_url)
    try:
        upgrade_to_head(engine)
        store_report(engine, warned_report[0], partition_key="2025-01-03|NVDA")
        loaded = load_latest_report(engine, partition_key="2025-01-03|NVDA")
        assert loaded is not None
        stored = loaded.result("zero_volume_share_low")
        assert stored.status is CheckStatus.FAILED and stored.severity is Severity.WARN
        assert stored.failures[0].detail.startswith("78 of 390 regular-hours bars (20.0%)")
        assert stored.stats["zero_volume_moving"]["NVDA"]["2025-01-03"]["share"] == 0.2
        assert not loaded.blocking_failed
    finally:
        engine.dispose()


def test_the_real_data_stand_in_has_no_zero_volume_moving_bars(
        sim_bars: pd.DataFrame, market_contract: Contract) -> None:
    result = C.zero_volume_share_low(sim_bars, CheckContext(market_contract))
    assert result.status is CheckStatus.PASSED
    assert result.stats["sessions_judged"] == 2 * 39 and result.failures == []
