"""The ledger on SQLite and PostgreSQL: idempotent recording, derived state, exact money."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from intraday_jules.domain.orders import OrderStatus, Side
from intraday_jules.ledger import (
    DecisionRecord,
    Ledger,
    LedgerConflict,
    PositionDifference,
    UnknownOrder,
)
from intraday_jules.ledger.schema import fills, orders
from intraday_jules.risk import RiskEngine, RiskEventKind, RiskLimits, TradingState
from intraday_jules_tests.ledger.conftest import RECORDED_AT, SESSION_BAR, make_fill, make_order

SESSION = date(2025, 2, 3)


def count(ledger: Ledger, table: sa.Table) -> int:
    with ledger.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_record_order_twice_writes_one_row_and_returns_the_recorded_order(ledger: Ledger) -> None:
    order = make_order()
    assert ledger.record_order(order) == order
    again = make_order(quantity=99)  # a restarted run re-deciding the same bar
    assert again.client_order_id == order.client_order_id
    assert ledger.record_order(again) == order
    assert count(ledger, orders) == 1


def test_restarted_ledger_knows_orders_already_sent(ledger: Ledger) -> None:
    order = ledger.record_order(make_order())
    restarted = Ledger(ledger.engine)
    assert restarted.order_exists(order.client_order_id)
    assert not restarted.order_exists("IJ-20250203-1432-NVDA")
    assert restarted.pending_orders(SESSION) == [order]


def test_record_fill_twice_is_a_no_op(ledger: Ledger) -> None:
    order = ledger.record_order(make_order())
    fill = make_fill(order)
    assert ledger.record_fill(fill) == fill
    assert ledger.record_fill(fill) == fill
    assert count(ledger, fills) == 1
    assert ledger.fills_for_session(SESSION) == [fill]


def test_record_fill_with_known_exec_id_but_other_content_raises(ledger: Ledger) -> None:
    order = ledger.record_order(make_order())
    ledger.record_fill(make_fill(order, quantity=4))
    with pytest.raises(LedgerConflict, match=r"0001\.01"):
        ledger.record_fill(make_fill(order, quantity=5))


def test_record_fill_for_unknown_order_raises_and_writes_nothing(ledger: Ledger) -> None:
    stray = make_fill(make_order(symbol="MSFT"))
    with pytest.raises(UnknownOrder, match="IJ-20250203-1431-MSFT"):
        ledger.record_fill(stray)
    assert count(ledger, fills) == 0


def test_record_fill_that_would_overfill_the_order_raises(ledger: Ledger) -> None:
    order = ledger.record_order(make_order(quantity=10))
    ledger.record_fill(make_fill(order, quantity=6, exec_id="A"))
    with pytest.raises(LedgerConflict, match="overfill"):
        ledger.record_fill(make_fill(order, quantity=5, exec_id="B"))


def test_record_fill_with_price_beyond_eight_decimals_is_refused(ledger: Ledger) -> None:
    order = ledger.record_order(make_order())
    with pytest.raises(ValueError, match="exactly"):
        ledger.record_fill(make_fill(order, price="120.123456789"))
    assert count(ledger, fills) == 0


def test_order_status_follows_fills_and_broker_events(ledger: Ledger) -> None:
    order = ledger.record_order(make_order(quantity=10))
    assert ledger.order_statuses()[order.client_order_id] is OrderStatus.PENDING
    ledger.record_order_status(order.client_order_id, OrderStatus.SUBMITTED, SESSION_BAR)
    ledger.record_fill(make_fill(order, quantity=4))
    assert ledger.order_statuses()[order.client_order_id] is OrderStatus.PARTIALLY_FILLED
    assert ledger.pending_quantities() == {"NVDA": 6}
    ledger.record_order_status(order.client_order_id, OrderStatus.CANCELLED,
                               SESSION_BAR + timedelta(minutes=2), "end of session")
    assert ledger.order_statuses()[order.client_order_id] is OrderStatus.CANCELLED
    assert ledger.pending_orders() == []
    with pytest.raises(UnknownOrder):
        ledger.record_order_status("IJ-nope", OrderStatus.CANCELLED, SESSION_BAR)


def test_positions_are_folded_from_fills_exactly(ledger: Ledger) -> None:
    first = ledger.record_order(make_order(quantity=1, minute=0))
    second = ledger.record_order(make_order(quantity=1, minute=1))
    ledger.record_fill(make_fill(first, price="0.1", commission="0", exec_id="A"))
    ledger.record_fill(make_fill(second, price="0.2", commission="0", exec_id="B"))
    position = Ledger(ledger.engine).positions()["NVDA"]
    assert (position.quantity, position.cost_basis) == (2, D("0.3"))


def test_reconcile_reports_each_difference(ledger: Ledger) -> None:
    order = ledger.record_order(make_order(quantity=5))
    ledger.record_fill(make_fill(order))
    assert ledger.reconcile({"NVDA": 5, "MSFT": 0}).matches
    result = ledger.reconcile({"NVDA": 4, "MSFT": 2})
    assert not result.matches
    assert result.differences == (PositionDifference("MSFT", 0, 2),
                                  PositionDifference("NVDA", 5, 4))
    assert "NVDA: ledger 5, broker 4" in result.describe()


def test_record_decision_once_per_bar(ledger: Ledger) -> None:
    first = DecisionRecord(SESSION_BAR, "BUY_NVDA", D("10000.25"), {"probs": [0.5, 0.5]})
    assert ledger.record_decision(first) == first
    assert ledger.record_decision(DecisionRecord(SESSION_BAR, "HOLD")) == first
    assert ledger.decisions(SESSION) == [first]


def test_high_water_mark_and_session_start_count_from_the_latest_reset(ledger: Ledger) -> None:
    for minute, equity in enumerate(["10000", "10080", "10020"]):
        ledger.record_decision(DecisionRecord(SESSION_BAR + timedelta(minutes=minute), "HOLD",
                                              D(equity)))
    assert (ledger.high_water_mark(), ledger.session_start_equity(SESSION)) == (
        D("10080"), D("10000"))
    RiskEngine(RiskLimits(), ledger, clock=lambda: SESSION_BAR + timedelta(minutes=2)).reset(
        "reviewed")
    ledger.record_decision(DecisionRecord(SESSION_BAR + timedelta(minutes=3), "HOLD", D("10010")))
    assert (ledger.high_water_mark(), ledger.session_start_equity(SESSION)) == (
        D("10020"), D("10020"))


def test_halted_state_survives_a_restart_on_the_same_database(ledger: Ledger) -> None:
    clock = lambda: SESSION_BAR  # noqa: E731
    engine = RiskEngine(RiskLimits(), ledger, clock=clock)
    engine.halt(RiskEventKind.DAILY_LOSS_LIMIT, "lost $50")
    restarted = RiskEngine(RiskLimits(), Ledger(ledger.engine), clock=clock)
    assert restarted.state is TradingState.HALTED
    restarted.reset("reviewed the loss")
    history = Ledger(ledger.engine).trading_state_history()
    assert [r.state for r in history] == [TradingState.HALTED, TradingState.ACTIVE]
    assert RiskEngine(RiskLimits(), ledger, clock=clock).state is TradingState.ACTIVE


def test_fills_of_a_short_sell_then_cover_reconcile_flat(ledger: Ledger) -> None:
    sell = ledger.record_order(make_order(Side.SELL, 3, minute=0))
    cover = ledger.record_order(make_order(Side.BUY, 3, minute=1))
    ledger.record_fill(make_fill(sell, price="100", exec_id="S"))
    ledger.record_fill(make_fill(cover, price="99.5", exec_id="C"))
    position = ledger.positions()["NVDA"]
    assert (position.quantity, position.realised_pnl) == (0, D("1.5"))
    assert ledger.reconcile({}).matches


def test_decision_detail_with_nan_is_refused_before_reaching_the_database() -> None:
    with pytest.raises(ValueError, match="JSON"):
        DecisionRecord(SESSION_BAR, "HOLD", None, {"value": float("nan")})


def test_session_policies_are_appended_per_run_and_read_back_in_order(ledger: Ledger) -> None:
    from intraday_jules.ledger import SessionPolicy

    day = SESSION_BAR.date()
    first = SessionPolicy(day, "model:m1", "m1", 7, "sample", "simulated")
    assert ledger.session_policies(day) == []
    written = ledger.record_session_policy(first)
    ledger.record_session_policy(SessionPolicy(day, "random", None, 3, None, "simulated"))
    ledger.record_session_policy(SessionPolicy(date(2025, 2, 4), "promoted", "m2", 0,
                                               "argmax", "ibkr"))
    runs = ledger.session_policies(day)
    assert [r.policy for r in runs] == ["model:m1", "random"]
    assert runs[0] == written and runs[0].recorded_at == RECORDED_AT
    assert runs[0].same_policy(first) and not runs[1].same_policy(first)
    assert runs[1].model_id is None and runs[1].mode is None and runs[1].seed == 3
