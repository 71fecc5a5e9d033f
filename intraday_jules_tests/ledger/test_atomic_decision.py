"""Issue 11, finding 3: a decision and its orders are recorded together or not at all.

A restart resumes after the last recorded decision; if a decision could be recorded without
all of its orders, the missing ones would be lost for good. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from intraday_jules.domain.orders import Order, OrderStatus, Side
from intraday_jules.ledger import DecisionRecord, Ledger, UnknownOrder
from intraday_jules_tests.ledger.conftest import SESSION_BAR, make_order

SESSION = SESSION_BAR.date()


def test_a_decision_with_two_orders_is_recorded_in_one_write_and_returns_the_new_orders(
        ledger: Ledger) -> None:
    nvda, msft = make_order(symbol="NVDA"), make_order(Side.SELL, 2, "410.10", symbol="MSFT")
    decision = DecisionRecord(SESSION_BAR, "NVDA:buy,MSFT:sell", D("10000"))
    assert ledger.record_decision_with_orders(decision, [nvda, msft]) == [nvda, msft]
    assert ledger.decisions(SESSION) == [decision]
    assert ledger.orders(SESSION) == [nvda, msft]
    assert ledger.record_decision_with_orders(decision, [nvda, msft]) == []  # never resent
    assert ledger.orders_without_status(SESSION) == [nvda, msft]


def test_a_decision_whose_second_order_cannot_be_recorded_writes_nothing(
        ledger: Ledger) -> None:
    good = make_order(symbol="NVDA")
    bad = Order(make_order(symbol="MSFT").client_order_id, SESSION, "MSFT", Side.BUY, 2,
                SESSION_BAR, D("410.123456789"))  # 9 decimals: the ledger cannot store it
    with pytest.raises(ValueError, match="reference_price"):
        ledger.record_decision_with_orders(DecisionRecord(SESSION_BAR, "buy"), [good, bad])
    assert ledger.decisions(SESSION) == [] and ledger.orders(SESSION) == []


def test_order_statuses_of_a_minute_are_recorded_together_or_not_at_all(
        ledger: Ledger) -> None:
    order = make_order()
    ledger.record_decision_with_orders(DecisionRecord(SESSION_BAR, "buy"), [order])
    with pytest.raises(UnknownOrder):
        ledger.record_order_statuses([
            (order.client_order_id, OrderStatus.SUBMITTED, SESSION_BAR, ""),
            ("IJ-NEVER-RECORDED", OrderStatus.SUBMITTED, SESSION_BAR, "")])
    assert ledger.order_status_history(SESSION) == {order.client_order_id: []}
    ledger.record_order_statuses([(order.client_order_id, OrderStatus.SUBMITTED, SESSION_BAR,
                                   "")])
    assert ledger.order_status_history(SESSION) == {
        order.client_order_id: [OrderStatus.SUBMITTED]}
    assert ledger.orders_without_status(SESSION) == []
