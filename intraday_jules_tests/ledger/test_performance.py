"""The seed's targets from the ledger, on SQLite and PostgreSQL, against hand-worked numbers
(``intraday_jules_tests/targets_ledger.py`` explains each one)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from intraday_jules.ledger import Ledger
from intraday_jules.ledger.performance import (
    Performance,
    Targets,
    load_performance,
    session_minutes,
)
from intraday_jules_tests.targets_ledger import FIRST, REDUCING_REASON, SECOND, seed_two_sessions


def test_every_traded_session_has_its_exact_pnl_fills_live_minutes_and_end_state(
        ledger: Ledger) -> None:
    seed_two_sessions(ledger)
    first, second = load_performance(ledger).sessions
    assert (first.session, first.start_equity, first.end_equity, first.pnl) == (
        FIRST, Decimal("10000"), Decimal("10050"), Decimal("50"))
    assert (first.fills, first.live_minutes, first.session_minutes) == (2, 390, 390)
    assert (first.risk_state, first.risk_reason) == ("ACTIVE", "no state recorded yet")
    assert (second.session, second.pnl, second.fills, second.live_minutes) == (
        SECOND, Decimal("125.25"), 1, 386)
    # the next morning's reset is not the session's state: it ended REDUCING
    assert (second.risk_state, second.risk_reason) == ("REDUCING", REDUCING_REASON)
    assert second.to_json()["pnl_usd"] == "125.25"


def test_targets_over_the_whole_ledger_are_the_hand_computed_ones(ledger: Ledger) -> None:
    seed_two_sessions(ledger)
    performance = load_performance(ledger)
    assert performance.cumulative_pnl == Decimal("175.25")
    assert performance.max_drawdown_pct == Decimal("2")  # 202 / 10100, exactly
    assert performance.uptime_pct == Decimal(100) * 776 / 780
    assert performance.targets_json(Targets()) == {
        "cumulative_pnl_usd": "175.25", "pnl_target_usd": "1000", "max_drawdown_pct": 2.0,
        "drawdown_target_pct": 2.0, "uptime_pct": 99.4872, "uptime_target_pct": 99.0}
    # a 2% drawdown meets "at most 2%"; $175.25 is short of $1,000
    assert performance.met(Targets()) == {"pnl": False, "drawdown": True, "uptime": True}
    assert performance.met(Targets(pnl_usd=Decimal("175.25"), drawdown_pct=Decimal("1.99"),
                                   uptime_pct=Decimal("99.5"))) == {
        "pnl": True, "drawdown": False, "uptime": False}


def test_a_later_start_counts_only_the_sessions_from_it(ledger: Ledger) -> None:
    seed_two_sessions(ledger)
    window = load_performance(ledger).between(SECOND)
    assert [s.session for s in window.sessions] == [SECOND]
    assert window.cumulative_pnl == Decimal("125.25")  # 10175.25 - 10050
    assert window.targets_json(Targets())["max_drawdown_pct"] == 0.9902  # 101.5 / 10250
    assert window.targets_json(Targets())["uptime_pct"] == 98.9744  # 386 / 390
    assert window.met(Targets())["uptime"] is False
    assert load_performance(ledger, until=FIRST).end == FIRST


def test_no_traded_session_gives_zero_pnl_and_no_uptime(ledger: Ledger) -> None:
    performance = load_performance(ledger)
    assert performance == Performance()
    assert performance.targets_json(Targets())["uptime_pct"] is None
    assert performance.met(Targets()) == {"pnl": False, "drawdown": True, "uptime": False}


def test_a_half_day_has_210_session_minutes() -> None:
    assert session_minutes(date(2025, 7, 3)) == 210
    assert session_minutes(date(2025, 7, 7)) == 390
