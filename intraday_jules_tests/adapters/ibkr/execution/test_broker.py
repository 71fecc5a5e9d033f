"""IbkrBroker order flow through the real ib_async client against the fake TWS gateway:
fills with commissions, partial fills, rejections, cancels, duplicates across a restart and
messages about orders we never sent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from ib_async import IB, LimitOrder, Stock

from intraday_jules.adapters.ibkr.execution import IbkrBroker
from intraday_jules.broker import (
    BrokerError,
    CancelRejected,
    ConnectionChanged,
    ConnectionState,
    FillReport,
    OpenOrder,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
)
from intraday_jules.domain.orders import OrderStatus, Side
from intraday_jules.testing.fake_tws import FakeTwsThread, OrderReaction
from intraday_jules_tests.adapters.ibkr.execution.conftest import (
    ACCOUNT,
    BAR_TS,
    BrokerFactory,
    collect,
    order,
    placed_refs,
)


def _fills(events: list[object]) -> list[FillReport]:
    return [e for e in events if isinstance(e, FillReport)]


def test_connect_reports_connected_with_the_login_account(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    assert broker.connect() is ConnectionState.CONNECTED
    assert broker.connection_state() is ConnectionState.CONNECTED
    assert broker.account == ACCOUNT
    (event,) = broker.poll_events()
    assert isinstance(event, ConnectionChanged) and event.state is ConnectionState.CONNECTED


def test_submit_market_order_is_accepted_then_reported_as_one_exact_fill_with_commission(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    broker = make_broker()
    broker.connect()
    broker.poll_events()
    gateway.orders.script(OrderReaction(price=136.17))
    buy = order("NVDA", Side.BUY, 300)
    result = broker.submit(buy)
    assert isinstance(result, OrderAccepted) and not result.duplicate
    assert result.client_order_id == "IJ-20250102-1430-NVDA" and result.broker_order_id
    (report,) = _fills(collect(broker, lambda ev: bool(_fills(ev))))
    fill = report.fill
    assert (fill.client_order_id, fill.symbol, fill.side, fill.quantity) == \
        (buy.client_order_id, "NVDA", Side.BUY, 300)
    assert fill.price == Decimal("136.17") and fill.commission == Decimal("1.5")
    assert fill.ts.tzinfo is not None and fill.exec_id
    assert broker.order_state(buy.client_order_id) is OrderStatus.FILLED
    assert broker.positions() == {"NVDA": 300}
    placed = [m for m in gateway.messages if m.name == "placeOrder"]
    assert len(placed) == 1 and "MKT" in placed[0].fields and "DAY" in placed[0].fields
    assert placed_refs(gateway) == [buy.client_order_id]


def test_partial_fills_are_reported_one_per_execution_and_the_order_works_on(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    broker = make_broker()
    broker.connect()
    gateway.orders.script(OrderReaction(fills=(40,), price=136.0))
    buy = order("NVDA", Side.BUY, 100)
    assert isinstance(broker.submit(buy), OrderAccepted)
    first = _fills(collect(broker, lambda ev: bool(_fills(ev))))
    assert [(r.fill.quantity, r.fill.price) for r in first] == [(40, Decimal("136"))]
    assert broker.order_state(buy.client_order_id) is OrderStatus.PARTIALLY_FILLED
    assert broker.open_orders() == [OpenOrder(buy.client_order_id, "NVDA", Side.BUY, 100, 40)]
    order_id = next(t.order.orderId for t in broker._client.ib.trades())
    gateway.fill_order(order_id, 60, 136.25)
    second = _fills(collect(broker, lambda ev: bool(_fills(ev))))
    assert [(r.fill.quantity, r.fill.price, r.fill.commission) for r in second] == \
        [(60, Decimal("136.25"), Decimal("1"))]
    assert first[0].fill.exec_id != second[0].fill.exec_id
    assert broker.order_state(buy.client_order_id) is OrderStatus.FILLED
    assert broker.open_orders() == []


def test_error_201_rejection_is_the_submit_answer_and_nothing_fills(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    broker = make_broker()
    broker.connect()
    broker.poll_events()
    gateway.orders.script(OrderReaction(reject_code=201))
    buy = order("MSFT", Side.BUY, 5)
    result = broker.submit(buy)
    assert isinstance(result, OrderRejected)
    assert result.code == 201 and "Insufficient buying power" in result.reason
    assert broker.order_state(buy.client_order_id) is OrderStatus.REJECTED
    assert collect(broker, lambda ev: False, timeout=0.3) == []  # no second report as an event
    again = broker.submit(buy)
    assert isinstance(again, OrderRejected) and again.code == 201
    assert placed_refs(gateway) == [buy.client_order_id]  # the repeat sent nothing
    assert broker.positions() == {}


def test_cancel_of_a_working_order_answers_cancelled_once(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    broker = make_broker()
    broker.connect()
    broker.poll_events()
    gateway.orders.script(OrderReaction(work=True))
    sell = order("NVDA", Side.SELL, 7, minute=3)
    assert isinstance(broker.submit(sell), OrderAccepted)
    assert broker.order_state(sell.client_order_id) is OrderStatus.SUBMITTED
    result = broker.cancel(sell.client_order_id)
    assert isinstance(result, OrderCancelled) and result.client_order_id == sell.client_order_id
    assert broker.order_state(sell.client_order_id) is OrderStatus.CANCELLED
    assert gateway.orders.open_orders(None) == []
    assert collect(broker, lambda ev: False, timeout=0.3) == []
    assert isinstance(broker.cancel(sell.client_order_id), CancelRejected)
    assert isinstance(broker.cancel("IJ-20250102-1599-NVDA"), CancelRejected)


def test_cancel_after_a_partial_fill_keeps_the_fill_and_cancels_the_rest(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    broker = make_broker()
    broker.connect()
    gateway.orders.script(OrderReaction(fills=(3,), price=421.0))
    buy = order("MSFT", Side.BUY, 10)
    broker.submit(buy)
    assert [r.fill.quantity for r in _fills(collect(broker, lambda ev: bool(_fills(ev))))] == [3]
    assert isinstance(broker.cancel(buy.client_order_id), OrderCancelled)
    assert broker.positions() == {"MSFT": 3}
    assert [f.quantity for f in broker.fills_since(BAR_TS - timedelta(days=1))] == [3]


def test_duplicate_submit_after_a_restart_sends_nothing(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    first = make_broker()
    first.connect()
    gateway.orders.script(OrderReaction(), OrderReaction(work=True))
    filled, working = order("NVDA", Side.BUY, 10, minute=1), order("MSFT", Side.BUY, 2, minute=1)
    assert isinstance(first.submit(filled), OrderAccepted)
    assert isinstance(first.submit(working), OrderAccepted)
    first.close()  # the process dies; IB keeps its orders and executions
    restarted = make_broker()  # a new instance on the same gateway, same client id
    restarted.connect()
    assert restarted.order_state(filled.client_order_id) is OrderStatus.FILLED
    assert restarted.order_state(working.client_order_id) is OrderStatus.SUBMITTED
    assert restarted.order_state(order("NVDA", minute=2).client_order_id) is None
    for again in (filled, working):
        result = restarted.submit(again)
        assert isinstance(result, OrderAccepted) and result.duplicate
    assert restarted.resubmissions == 2 and restarted.orders_sent == 0
    assert placed_refs(gateway) == [filled.client_order_id, working.client_order_id]
    assert [e for e in restarted.poll_events() if isinstance(e, FillReport)] == []


def test_execution_for_an_order_we_never_sent_is_reported_not_raised(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    manual = IB()  # someone else's order on the same client id, before the broker starts
    manual.connect("127.0.0.1", gateway.port, clientId=18, timeout=5)
    gateway.orders.script(OrderReaction(work=True))
    contract = Stock("NVDA", "SMART", "USD")
    manual.qualifyContracts(contract)
    trade = manual.placeOrder(contract, LimitOrder("BUY", 4, 136.5, orderRef="MANUAL-7"))
    manual.sleep(0.2)
    manual.disconnect()
    broker = make_broker()
    broker.connect()
    assert [o.client_order_id for o in broker.open_orders()] == ["MANUAL-7"]
    gateway.fill_order(trade.order.orderId, 4, 136.5)
    (report,) = _fills(collect(broker, lambda ev: bool(_fills(ev))))
    assert (report.client_order_id, report.fill.quantity) == ("MANUAL-7", 4)
    assert broker.connection_state() is ConnectionState.CONNECTED
    assert broker.positions() == {"NVDA": 4}


def test_submit_while_not_connected_raises_broker_error_and_sends_nothing(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    broker: IbkrBroker = make_broker()
    with pytest.raises(BrokerError, match="not connected"):
        broker.submit(order())
    assert placed_refs(gateway) == []
