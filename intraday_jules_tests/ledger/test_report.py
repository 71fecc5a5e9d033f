"""``session_ledger``: exactly the JSON shape ``intraday-jules ledger --json`` prints."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal as D

from intraday_jules.domain.orders import Side
from intraday_jules.domain.portfolio import Book
from intraday_jules.ledger import DecisionRecord, Ledger
from intraday_jules.ledger.report import money_text
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
