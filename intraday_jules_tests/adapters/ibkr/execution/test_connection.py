"""IbkrBroker across connection faults: a dropped socket, IB's 1100/1101/1102 notices. Every
return to CONNECTED follows a DISCONNECTED event (the trading loop reconciles on that pair),
and what happened while away is reported after the reconnect."""

from __future__ import annotations

from datetime import timedelta

import pytest

from intraday_jules.adapters.ibkr.execution import IbkrBroker
from intraday_jules.broker import (
    BrokerError,
    BrokerEvent,
    ConnectionChanged,
    ConnectionState,
    FillReport,
    OrderAccepted,
)
from intraday_jules.domain.orders import OrderStatus, Side
from intraday_jules.testing.fake_tws import FakeTwsThread, OrderReaction
from intraday_jules_tests.adapters.ibkr.conftest import wait_until
from intraday_jules_tests.adapters.ibkr.execution.conftest import (
    BAR_TS,
    BrokerFactory,
    collect,
    order,
)

UP, DOWN = ConnectionState.CONNECTED, ConnectionState.DISCONNECTED


def _states(events: list[BrokerEvent]) -> list[ConnectionState]:
    return [e.state for e in events if isinstance(e, ConnectionChanged)]


def _back_up(events: list[BrokerEvent]) -> bool:
    states = _states(events)
    return DOWN in states and states[-1] is UP


def _connected(make_broker: BrokerFactory) -> IbkrBroker:
    broker = make_broker()
    assert broker.connect() is UP
    broker.poll_events()
    return broker


def _sessions_of(gateway: FakeTwsThread, client_id: int = 18) -> int:
    return sum(1 for m in gateway.messages
               if m.name == "startApi" and m.fields[2] == str(client_id))


def test_dropped_socket_reports_disconnected_then_reconnects_by_itself(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    broker = _connected(make_broker)
    broker.submit(order("NVDA", Side.BUY, 10))
    gateway.drop_connections()
    events = collect(broker, _back_up)
    assert _states(events) == [DOWN, UP]
    assert broker.connection_state() is UP
    assert _sessions_of(gateway) == 2
    assert broker.positions() == {"NVDA": 10}
    assert [f.quantity for f in broker.fills_since(BAR_TS - timedelta(days=1))] == [10]
    second = broker.submit(order("NVDA", Side.SELL, 10, minute=1))
    assert isinstance(second, OrderAccepted)
    assert wait_until(lambda: broker.positions() == {})


def test_fill_made_while_disconnected_is_reported_once_after_the_reconnect(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    broker = _connected(make_broker)
    gateway.orders.script(OrderReaction(work=True))
    buy = order("MSFT", Side.BUY, 3)
    broker.submit(buy)
    gateway.faults.client_id_in_use(18)  # the reconnect fails until released
    gateway.drop_connections()
    assert wait_until(lambda: broker.connection_state() is DOWN)
    with pytest.raises(BrokerError, match="not connected"):
        broker.submit(order("NVDA", Side.BUY, 1, minute=1))
    order_id = gateway.orders.open_orders(None)[0].order_id
    gateway.fill_order(order_id, 3, 421.25)  # nobody listens on our side
    gateway.faults.release_client_id(18)
    events = collect(broker, _back_up)
    fills = [e for e in events if isinstance(e, FillReport)]
    assert [(f.client_order_id, f.fill.quantity, str(f.fill.price)) for f in fills] == \
        [(buy.client_order_id, 3, "421.25")]
    assert broker.order_state(buy.client_order_id) is OrderStatus.FILLED
    assert [e for e in broker.poll_events() if isinstance(e, FillReport)] == []


def test_1100_holds_orders_until_1102_restores_with_data_maintained(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    broker = _connected(make_broker)
    gateway.send_connectivity(1100)
    assert wait_until(lambda: broker.connection_state() is DOWN)
    with pytest.raises(BrokerError, match="not connected"):
        broker.submit(order())
    gateway.send_connectivity(1102)
    events = collect(broker, _back_up)
    assert _states(events) == [DOWN, UP]
    assert "1102" in events[-1].reason  # type: ignore[union-attr]
    assert isinstance(broker.submit(order()), OrderAccepted)


def test_1101_data_lost_resynchronises_between_a_down_and_up_event(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    broker = _connected(make_broker)
    broker.submit(order("NVDA", Side.BUY, 5))
    collect(broker, lambda ev: any(isinstance(e, FillReport) for e in ev))
    before = sum(1 for m in gateway.messages if m.name == "reqExecutions")
    gateway.send_connectivity(1101)
    events = collect(broker, _back_up)
    assert _states(events) == [DOWN, UP]
    assert "1101" in events[0].reason  # type: ignore[union-attr]
    assert sum(1 for m in gateway.messages if m.name == "reqExecutions") > before
    assert _sessions_of(gateway) == 1  # the socket stayed up
    assert [e for e in events if isinstance(e, FillReport)] == []  # nothing reported twice
    assert broker.positions() == {"NVDA": 5}


def test_positions_and_fills_since_read_the_same_after_a_restart(
        make_broker: BrokerFactory, gateway: FakeTwsThread) -> None:
    first = _connected(make_broker)
    gateway.orders.script(OrderReaction(price=136.11), OrderReaction(price=421.33),
                          OrderReaction(price=136.5))
    first.submit(order("NVDA", Side.BUY, 20, minute=0))
    first.submit(order("MSFT", Side.BUY, 2, minute=0))
    first.submit(order("NVDA", Side.SELL, 5, minute=2))
    collect(first, lambda ev: sum(isinstance(e, FillReport) for e in ev) == 3)
    expected = first.fills_since(BAR_TS - timedelta(days=1))
    first.close()
    again = _connected(make_broker)
    assert again.positions() == {"MSFT": 2, "NVDA": 15}
    fills = again.fills_since(BAR_TS - timedelta(days=1))
    assert fills == expected and len(fills) == 3
    assert [str(f.price) for f in fills] == ["136.11", "421.33", "136.5"]
    latest = fills[-1].ts
    assert again.fills_since(latest + timedelta(seconds=1)) == []
