"""Order flow through the real ib_async client: what a later IbkrBroker will be tested on."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock, Trade

from intraday_jules.testing.fake_tws import FakeTwsThread, OrderReaction

ACCOUNT = "DU1234567"


@pytest.fixture(scope="module")
def replay() -> pd.DataFrame:
    return pd.DataFrame({"symbol": ["NVDA", "MSFT"],
                         "ts": pd.to_datetime(["2025-01-02T14:30:00Z"] * 2, utc=True),
                         "open": [136.0, 421.0], "high": [136.4, 422.0], "low": [135.7, 420.0],
                         "close": [136.2, 421.5], "volume": [1000, 500]})


@pytest.fixture
def gateway(replay: pd.DataFrame) -> Iterator[FakeTwsThread]:
    with FakeTwsThread(replay) as gw:
        yield gw


@pytest.fixture
def ib(gateway: FakeTwsThread) -> Iterator[IB]:
    client = IB()
    client.connect("127.0.0.1", gateway.port, clientId=21, timeout=5)
    yield client
    client.disconnect()


def _nvda(ib: IB) -> Stock:
    contract = Stock("NVDA", "SMART", "USD")
    ib.qualifyContracts(contract)
    return contract


def _settle(ib: IB, trade: Trade, done: bool = True) -> None:
    """Let the client read the gateway's answers (ib_async's own wait loop)."""
    for _ in range(100):
        if not done or trade.isDone():
            break
        ib.sleep(0.02)
    ib.sleep(0.05)


def test_market_order_fills_at_the_last_replay_close_with_commission(
        ib: IB, gateway: FakeTwsThread) -> None:
    trade = ib.placeOrder(_nvda(ib), MarketOrder("BUY", 100))
    _settle(ib, trade)
    assert trade.orderStatus.status == "Filled"
    assert (trade.orderStatus.filled, trade.orderStatus.avgFillPrice) == (100.0, 136.2)
    (fill,) = trade.fills
    assert (fill.execution.side, fill.execution.shares, fill.execution.price) == \
        ("BOT", 100.0, 136.2)
    assert (fill.commissionReport.commission, fill.commissionReport.currency) == (1.0, "USD")
    assert trade.order.permId > 0


def test_partial_fill_then_fill_reports_each_execution(ib: IB,
                                                       gateway: FakeTwsThread) -> None:
    gateway.orders.script(OrderReaction(fills=(400,), price=135.0))
    trade = ib.placeOrder(_nvda(ib), LimitOrder("BUY", 1000, 135.5))
    _settle(ib, trade, done=False)
    assert (trade.orderStatus.status, trade.orderStatus.filled,
            trade.orderStatus.remaining) == ("Submitted", 400.0, 600.0)
    gateway.fill_order(trade.order.orderId, 600, 135.5)
    _settle(ib, trade)
    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.avgFillPrice == pytest.approx(135.3)
    assert [(f.execution.shares, f.execution.price) for f in trade.fills] == \
        [(400.0, 135.0), (600.0, 135.5)]
    assert [f.commissionReport.commission for f in trade.fills] == [2.0, 3.0]


def test_rejected_order_is_cancelled_with_error_201(ib: IB, gateway: FakeTwsThread) -> None:
    gateway.orders.script(OrderReaction(reject_code=201))
    trade = ib.placeOrder(_nvda(ib), MarketOrder("BUY", 10))
    _settle(ib, trade)
    assert trade.orderStatus.status == "Cancelled"
    assert trade.log[-1].errorCode == 201
    assert trade.fills == []


def test_working_order_can_be_cancelled(ib: IB, gateway: FakeTwsThread) -> None:
    gateway.orders.script(OrderReaction(work=True))
    trade = ib.placeOrder(_nvda(ib), LimitOrder("SELL", 10, 200.0))
    _settle(ib, trade, done=False)
    assert trade.orderStatus.status == "Submitted"
    assert [t.order.orderId for t in ib.openTrades()] == [trade.order.orderId]
    ib.cancelOrder(trade.order)
    _settle(ib, trade)
    assert trade.orderStatus.status == "Cancelled"
    assert gateway.orders.open_orders(None) == []


def test_positions_follow_the_fills_including_a_close(ib: IB, gateway: FakeTwsThread) -> None:
    nvda = _nvda(ib)
    for order in (LimitOrder("BUY", 100, 130.0), LimitOrder("BUY", 100, 132.0),
                  LimitOrder("SELL", 150, 135.0)):
        _settle(ib, ib.placeOrder(nvda, order))
    (position,) = ib.reqPositions()
    assert (position.account, position.contract.conId) == (ACCOUNT, 4815747)
    assert (position.position, position.avgCost) == (50.0, 131.0)
    realized = [f.commissionReport.realizedPNL for f in ib.fills()]
    assert realized[-1] == pytest.approx(150 * (135.0 - 131.0))


def test_reconnected_client_recovers_open_orders_and_executions(
        gateway: FakeTwsThread) -> None:
    first = IB()
    first.connect("127.0.0.1", gateway.port, clientId=22, timeout=5)
    nvda = _nvda(first)
    gateway.orders.script(OrderReaction(fills=(5,)), OrderReaction(work=True))
    partial = first.placeOrder(nvda, LimitOrder("BUY", 10, 136.0))
    working = first.placeOrder(nvda, LimitOrder("BUY", 3, 100.0))
    _settle(first, working, done=False)
    first.disconnect()
    again = IB()
    again.connect("127.0.0.1", gateway.port, clientId=22, timeout=5)
    try:
        open_ids = sorted(t.order.orderId for t in again.openTrades())
        assert open_ids == sorted([partial.order.orderId, working.order.orderId])
        assert [f.execution.shares for f in again.fills()] == [5.0]
        assert again.client.getReqId() > working.order.orderId  # no order id is reused
    finally:
        again.disconnect()
