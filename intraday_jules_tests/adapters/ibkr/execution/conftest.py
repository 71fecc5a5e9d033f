"""Fixtures for IbkrBroker: the fake TWS gateway on a real loopback socket and brokers wired
to it through the real ib_async client. Nothing of ib_async is mocked."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from intraday_jules.adapters.ibkr import Backoff, IbkrConfig
from intraday_jules.adapters.ibkr.execution import IbkrBroker
from intraday_jules.broker import BrokerEvent
from intraday_jules.domain.orders import Fill, IntentOrigin, Order, OrderIntent, Side
from intraday_jules.ledger import Ledger
from intraday_jules.testing.fake_tws import FakeTwsThread
from intraday_jules.testing.fake_tws.incoming import parse_place_order

ACCOUNT = "DU1234567"
SESSION = date(2025, 1, 2)
BAR_TS = datetime(2025, 1, 2, 14, 30, tzinfo=UTC)
NVDA_CLOSE, MSFT_CLOSE = 136.2, 421.5
FAST_RECONNECT = Backoff(initial_s=0.05, factor=2.0, max_s=0.5, attempts=4)

BrokerFactory = Callable[..., IbkrBroker]


class LiveClock:
    """The gateway's live time: the loop, the broker, the feeds and the gateway's own
    executions share it (set ``gateway`` once the gateway exists)."""

    gateway: FakeTwsThread | None = None

    def __call__(self) -> datetime:
        assert self.gateway is not None
        return self.gateway.gateway.live.now


@contextmanager
def gateway_on_live_time(frame: pd.DataFrame, start: datetime
                         ) -> Iterator[tuple[FakeTwsThread, LiveClock]]:
    """The fake gateway replaying ``frame`` live from ``start``, on its own live clock."""
    clock = LiveClock()
    gw = FakeTwsThread(frame, live_time=start, clock=clock)
    clock.gateway = gw
    with gw:
        yield gw, clock


@pytest.fixture(scope="module")
def small_replay() -> pd.DataFrame:
    """One minute of NVDA and MSFT: market orders fill at these closes."""
    return pd.DataFrame({"symbol": ["NVDA", "MSFT"],
                         "ts": pd.to_datetime([BAR_TS] * 2, utc=True),
                         "open": [136.0, 421.0], "high": [136.4, 422.0], "low": [135.7, 420.0],
                         "close": [NVDA_CLOSE, MSFT_CLOSE], "volume": [1000, 500]})


@pytest.fixture
def gateway(small_replay: pd.DataFrame) -> Iterator[FakeTwsThread]:
    with FakeTwsThread(small_replay) as gw:
        yield gw


def broker_config(gateway: FakeTwsThread, client_id: int = 18) -> IbkrConfig:
    return IbkrConfig(port=gateway.port, client_id=client_id, connect_timeout_s=5.0,
                      request_timeout_s=5.0, restore_timeout_s=5.0)


@pytest.fixture
def make_broker(gateway: FakeTwsThread) -> Iterator[BrokerFactory]:
    """IbkrBrokers against the gateway (fast reconnects); all closed after the test."""
    made: list[IbkrBroker] = []

    def make(client_id: int = 18, **options: Any) -> IbkrBroker:
        options.setdefault("reconnect", FAST_RECONNECT)
        options.setdefault("ack_timeout_s", 2.0)
        options.setdefault("commission_wait_s", 0.5)
        broker = IbkrBroker(broker_config(gateway, client_id), **options)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.close()


def order(symbol: str = "NVDA", side: Side = Side.BUY, quantity: int = 10, minute: int = 0,
          origin: IntentOrigin = IntentOrigin.POLICY) -> Order:
    """Our order decided on bar 14:30Z + ``minute`` (deterministic client order id)."""
    ts = BAR_TS + pd.Timedelta(minutes=minute).to_pytimedelta()
    price = Decimal(str(NVDA_CLOSE if symbol == "NVDA" else MSFT_CLOSE))
    return Order.from_intent(OrderIntent(symbol, side, quantity, ts, price, origin), SESSION)


def collect(broker: IbkrBroker, done: Callable[[list[BrokerEvent]], bool],
            timeout: float = 5.0) -> list[BrokerEvent]:
    """Poll the broker's events until ``done(all events so far)`` (or the timeout)."""
    events: list[BrokerEvent] = []
    deadline = time.monotonic() + timeout
    while True:
        events += broker.poll_events()
        if done(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.01)


def placed_refs(gateway: FakeTwsThread) -> list[str]:
    """The orderRef of every placeOrder the gateway received, in order."""
    return [parse_place_order(list(m.fields)).order_ref for m in gateway.messages
            if m.name == "placeOrder"]


def assert_each_execution_booked_once(ledger: Ledger, gateway: FakeTwsThread,
                                      session: date) -> list[Fill]:
    """The ledger's fills of ``session`` are the gateway's executions, each once, with their
    order, quantity, price and commission; returns the fills."""
    executions = {e.exec_id: e for e in gateway.orders.executions()}
    fills = ledger.fills(session)
    assert {f.exec_id for f in fills} == set(executions)  # every execution booked once
    assert len(fills) == len(executions)
    for fill in fills:
        execution = executions[fill.exec_id]
        assert fill.client_order_id == execution.order_ref
        assert (fill.quantity, fill.price, fill.commission) == (
            int(execution.shares), Decimal(repr(execution.price)),
            Decimal(repr(execution.commission)))
    return fills
