"""``session_ledger``: exactly the JSON shape ``intraday-jules ledger --json`` prints."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal as D
from typing import Any

from intraday_jules.domain.orders import Side
from intraday_jules.domain.portfolio import Book
from intraday_jules.ledger import DecisionRecord, Ledger
from intraday_jules.ledger.report import group_risk_events, money_text, session_summary
from intraday_jules.risk import RiskEngine, RiskLimits
from intraday_jules_tests.ledger.conftest import SESSION_BAR, make_fill, make_order

SESSION = date(2025, 2, 3)


def populate(ledger: Ledger) -> None:
    ledger.record_decision(DecisionRecord(SESSION_BAR, "BUY_NVDA", D("10000.00"),
                                          {"z": 1, "a": {"y": D("0.10"), "b": None}}))
    order = ledger.record_order(make_order(Side.BUY, 10, "120.50"))
    ledger.record_fill(make_fill(order, 6, "120.61", "0.35", "E1"))
    ledger.record_fill(make_fill(order, 4, "120.6150", "0.2400", "E2"))
    engine = RiskEngine(RiskLimits(), ledger, clock=lambda: SESSION_BAR)
    book = Book.from_fills(ledger.fills(), starting_cash=D("10000"))
    engine.evaluate(make_order(Side.BUY, 5, "120.50", minute=1).intent, book)  # at the cap
    ledger.record_order(make_order(minute=24 * 60))  # another session: must not appear


EXPECTED = {
    "decisions": [{"ts": "2025-02-03T14:31:00Z", "action": "BUY_NVDA", "equity": "10000",
                   "detail": {"a": {"b": None, "y": "0.10"}, "z": 1}}],
    "orders": [{"client_order_id": "IJ-20250203-1431-NVDA", "ts": "2025-02-03T14:31:00Z",
                "symbol": "NVDA", "side": "BUY", "quantity": 10, "reference_price": "120.5",
                "origin": "POLICY", "status": "FILLED", "filled_quantity": 10}],
    "fills": [
        {"ts": "2025-02-03T14:32:02Z", "symbol": "NVDA", "side": "BUY", "quantity": 6,
         "price": "120.61", "commission": "0.35", "client_order_id": "IJ-20250203-1431-NVDA",
         "exec_id": "E1"},
        {"ts": "2025-02-03T14:32:02Z", "symbol": "NVDA", "side": "BUY", "quantity": 4,
         "price": "120.615", "commission": "0.24", "client_order_id": "IJ-20250203-1431-NVDA",
         "exec_id": "E2"}],
}


def test_session_ledger_has_exactly_the_documented_shape(ledger: Ledger) -> None:
    populate(ledger)
    result = ledger.session_ledger(SESSION)
    assert list(result) == ["decisions", "orders", "fills", "risk_events"]
    assert {k: result[k] for k in EXPECTED} == EXPECTED
    (event,) = result["risk_events"]
    assert set(event) == {"ts", "kind", "state", "reason", "symbol", "detail"}
    assert (event["ts"], event["kind"], event["state"], event["symbol"]) == (
        "2025-02-03T14:32:00Z", "ORDER_DENIED", "ACTIVE", "NVDA")
    assert event["reason"].startswith("position_within_cap: NVDA exposure of 10 shares")
    assert event["detail"]["reference_price"] == "120.50"
    assert json.loads(json.dumps(result)) == result  # plain JSON, no Decimal or datetime


def test_session_ledger_of_an_empty_session_has_four_empty_lists(ledger: Ledger) -> None:
    assert ledger.session_ledger(SESSION) == {"decisions": [], "orders": [], "fills": [],
                                              "risk_events": []}


def test_session_ledger_money_is_exact_text() -> None:
    assert [money_text(D(v)) for v in ("136.38500000", "100.00000000", "0E-8", "-0.10")] == [
        "136.385", "100", "0", "-0.1"]


def test_session_ledger_after_a_restart_is_identical(ledger: Ledger) -> None:
    populate(ledger)
    before = ledger.session_ledger(SESSION)
    assert Ledger(ledger.engine).session_ledger(SESSION) == before
    assert next_session_orders(ledger) == ["IJ-20250204-1431-NVDA"]


def next_session_orders(ledger: Ledger) -> list[str]:
    day = SESSION + timedelta(days=1)
    return [o["client_order_id"] for o in ledger.session_ledger(day)["orders"]]


def test_session_summary_closes_a_lot_carried_from_the_previous_session_at_its_own_price(
        ledger: Ledger) -> None:
    earlier = ledger.record_order(make_order(Side.BUY, 10, "119.00", minute=-24 * 60))
    ledger.record_fill(make_fill(earlier, price="119.00", commission="1", exec_id="E0"))
    today = ledger.record_order(make_order(Side.SELL, 4, "121.00"))
    ledger.record_fill(make_fill(today, price="121.25", commission="0.5", exec_id="E1"))
    ledger.record_decision(DecisionRecord(SESSION_BAR, "SELL_NVDA", D("10009.5"),
                                          {"phase": "decide", "marks": {"NVDA": "121.50"}}))
    summary = session_summary(ledger, SESSION, ledger.session_ledger(SESSION))
    # (121.25 - 119.00) x 4 = 9.00 less today's 0.50 commission; 6 shares left at 119.00
    assert summary["symbols"] == [
        {"symbol": "NVDA", "fills": 1, "bought": 0, "sold": 4, "commissions": "0.5",
         "realised_pnl": "8.5", "position": 6, "mark": "121.5", "unrealised_pnl": "15"}]
    assert summary["decisions"] == {"total": 1, "by_phase": {"decide": 1}}
    assert summary["orders"] == {"total": 1, "by_status": {"FILLED": 1}}


def test_group_risk_events_by_kind_and_reason_in_order_of_first_occurrence() -> None:
    def event(minute: int, kind: str, reason: str, symbol: str | None) -> dict[str, Any]:
        return {"ts": f"2025-02-03T15:{minute:02d}:00Z", "kind": kind, "state": "ACTIVE",
                "reason": reason, "symbol": symbol}

    events = [event(0, "ORDER_DENIED", "cap", "NVDA"), event(1, "ORDER_RESIZED", "cap", "NVDA"),
              event(2, "ORDER_DENIED", "cap", "MSFT"), event(3, "ORDER_DENIED", "rate", None),
              event(4, "ORDER_DENIED", "cap", "NVDA")]
    assert group_risk_events(events) == [
        {"kind": "ORDER_DENIED", "reason": "cap", "count": 3, "first": "2025-02-03T15:00:00Z",
         "last": "2025-02-03T15:04:00Z", "symbols": ["MSFT", "NVDA"], "state": "ACTIVE"},
        {"kind": "ORDER_RESIZED", "reason": "cap", "count": 1, "first": "2025-02-03T15:01:00Z",
         "last": "2025-02-03T15:01:00Z", "symbols": ["NVDA"], "state": "ACTIVE"},
        {"kind": "ORDER_DENIED", "reason": "rate", "count": 1, "first": "2025-02-03T15:03:00Z",
         "last": "2025-02-03T15:03:00Z", "symbols": [], "state": "ACTIVE"}]
