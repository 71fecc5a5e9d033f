"""SimulatedBroker: the env's execution model, idempotent submits, a journal that survives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from intraday_jules.broker import (
    Broker,
    BrokerError,
    CancelRejected,
    ConnectionState,
    FillReport,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    SimulatedBroker,
)
from intraday_jules.domain.bars import Bar
from intraday_jules.domain.orders import IntentOrigin, Order, OrderIntent, OrderStatus, Side
from intraday_jules.env.execution_model import ExecutionConfig, ExecutionModel

SESSION = date(2025, 2, 3)
T0 = datetime(2025, 2, 3, 15, 20, tzinfo=UTC)
NOW = datetime(2025, 2, 3, 15, 21, 0, 5000, tzinfo=UTC)


def order(side: Side = Side.BUY, quantity: int = 7, *, symbol: str = "NVDA", minute: int = 0,
          origin: IntentOrigin = IntentOrigin.POLICY) -> Order:
    intent = OrderIntent(symbol, side, quantity, T0 + timedelta(minutes=minute),
                         Decimal("120.5"), origin)
    return Order.from_intent(intent, SESSION)


def bar(minute: int, open_: float = 121.25, *, symbol: str = "NVDA") -> Bar:
    return Bar(symbol, T0 + timedelta(minutes=minute), open_, open_ + 1, open_ - 1, open_, 1000)


def connected(**kwargs: object) -> SimulatedBroker:
    broker = SimulatedBroker(clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]
    broker.connect()
    broker.poll_events()
    return broker


def fills_of(broker: SimulatedBroker) -> list[FillReport]:
    return [e for e in broker.poll_events() if isinstance(e, FillReport)]


def test_simulated_broker_is_a_broker() -> None:
    broker: Broker = SimulatedBroker()  # mypy checks the protocol; the call checks it runs
    assert broker.connect() is ConnectionState.CONNECTED


def test_order_fills_at_next_bar_open_plus_the_env_models_slippage_and_commission() -> None:
    broker = connected()
    broker.submit(order(Side.BUY, 7))
    broker.on_bar(bar(1, 121.25))
    [report] = fills_of(broker)
    quote = ExecutionModel().fill(Side.BUY, 7, Decimal("121.25"))
    assert report.fill.price == quote.price
    assert report.fill.commission == quote.commission.amount
    assert report.fill.ts == bar(1).ts and report.fill.quantity == 7
    assert broker.positions() == {"NVDA": 7}


def test_order_never_fills_on_its_own_decision_bar() -> None:
    broker = connected()
    broker.submit(order(minute=3))
    broker.on_bar(bar(3))
    assert fills_of(broker) == []
    assert [o.client_order_id for o in broker.open_orders()] == [order(minute=3).client_order_id]


def test_bar_of_another_symbol_does_not_fill() -> None:
    broker = connected()
    broker.submit(order(symbol="NVDA"))
    broker.on_bar(bar(1, 400.0, symbol="MSFT"))
    assert fills_of(broker) == []


def test_cost_multiplier_of_the_config_reaches_the_fill() -> None:
    model = ExecutionModel(ExecutionConfig(cost_multiplier=Decimal(2)))
    broker = connected(execution_model=model)
    broker.submit(order(Side.SELL, 3))
    broker.on_bar(bar(1, 100.0))
    [report] = fills_of(broker)
    assert report.fill.price == model.fill_price(Side.SELL, Decimal("100.0"))
    assert report.fill.price < Decimal("100")


def test_submitting_a_known_client_order_id_again_trades_nothing_more() -> None:
    broker = connected()
    first = broker.submit(order())
    second = broker.submit(order())
    broker.on_bar(bar(1))
    assert isinstance(first, OrderAccepted) and not first.duplicate
    assert isinstance(second, OrderAccepted) and second.duplicate
    assert len(fills_of(broker)) == 1
    assert broker.positions() == {"NVDA": 7}
    assert broker.resubmissions == 1


def test_reject_rule_refuses_and_a_resubmit_gets_the_same_rejection() -> None:
    broker = connected(reject=lambda o: "insufficient buying power" if o.quantity > 5 else None)
    refused = broker.submit(order(quantity=9))
    again = broker.submit(order(quantity=9))
    broker.on_bar(bar(1))
    assert isinstance(refused, OrderRejected) and refused.code == 201
    assert isinstance(again, OrderRejected) and again.reason == refused.reason
    assert fills_of(broker) == [] and broker.positions() == {}
    assert broker.order_state(order(quantity=9).client_order_id) is OrderStatus.REJECTED


def test_cancel_stops_an_open_order_and_unknown_or_finished_orders_are_refused() -> None:
    broker = connected()
    broker.submit(order(minute=0))
    broker.submit(order(minute=1, symbol="MSFT"))
    cancelled = broker.cancel(order(minute=0).client_order_id)
    broker.on_bar(bar(2, 400.0, symbol="MSFT"))
    fills_of(broker)
    assert isinstance(cancelled, OrderCancelled)
    assert isinstance(broker.cancel("IJ-nope"), CancelRejected)
    assert isinstance(broker.cancel(order(minute=1, symbol="MSFT").client_order_id),
                      CancelRejected)
    broker.on_bar(bar(2))
    assert fills_of(broker) == []


def test_submit_while_disconnected_raises_broker_error_and_records_nothing() -> None:
    broker = SimulatedBroker()
    with pytest.raises(BrokerError, match="not connected"):
        broker.submit(order())
    assert broker.order_ids() == []


def test_connection_changes_are_reported_as_events() -> None:
    broker = SimulatedBroker(clock=lambda: NOW)
    broker.connect()
    broker.disconnect()
    states = [e.state for e in broker.poll_events()]  # type: ignore[union-attr]
    assert states == [ConnectionState.CONNECTED, ConnectionState.DISCONNECTED]


def test_a_new_broker_on_the_same_journal_has_the_old_ones_orders_fills_and_positions(
        tmp_path: Path) -> None:
    journal = tmp_path / "broker.jsonl"
    first = connected(journal=journal)
    first.submit(order(minute=0))
    first.submit(order(Side.BUY, 2, symbol="MSFT", minute=1))
    first.on_bar(bar(1))
    [filled] = fills_of(first)
    second = connected(journal=journal)
    assert second.positions() == {"NVDA": 7}
    assert second.fills_since(T0) == [filled.fill]
    assert [o.symbol for o in second.open_orders()] == ["MSFT"]
    assert second.order_state(order(minute=0).client_order_id) is OrderStatus.FILLED
    assert isinstance(second.submit(order(minute=0)), OrderAccepted)
    assert second.resubmissions == 1
    second.on_bar(bar(2, 401.0, symbol="MSFT"))
    assert connected(journal=journal).positions() == {"MSFT": 2, "NVDA": 7}


def test_a_torn_last_journal_line_is_dropped_and_the_next_record_still_reads(
        tmp_path: Path) -> None:
    journal = tmp_path / "broker.jsonl"
    connected(journal=journal).submit(order(minute=0))
    with journal.open("a") as handle:
        handle.write('{"type": "order", "client_ord')  # killed mid-write
    broker = connected(journal=journal)
    broker.submit(order(minute=1))
    assert [o.client_order_id for o in connected(journal=journal).open_orders()] == [
        order(minute=0).client_order_id, order(minute=1).client_order_id]


def test_starting_positions_apply_only_to_a_new_journal(tmp_path: Path) -> None:
    journal = tmp_path / "broker.jsonl"
    assert connected(journal=journal, positions={"NVDA": 5}).positions() == {"NVDA": 5}
    assert connected(journal=journal, positions={"NVDA": 99}).positions() == {"NVDA": 5}


def test_order_state_tells_never_received_from_working() -> None:
    broker = connected()
    broker.submit(order())
    assert broker.order_state(order().client_order_id) is OrderStatus.SUBMITTED
    assert broker.order_state("IJ-20250203-1520-MSFT") is None
