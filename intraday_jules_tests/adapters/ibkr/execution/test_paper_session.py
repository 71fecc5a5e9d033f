"""End to end: ``run_session`` with IbkrBroker and IbkrBarFeed against the fake gateway replaying
the last two hours of the 2025-02-03 session (simulated bars), with a dropped socket and a 1101
injected.
Real ib_async clients (market data and orders) over real sockets, a real SQLite ledger."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pandas as pd
import pytest
from ib_async import IB, LimitOrder, Stock

from intraday_jules.adapters.ibkr import IbkrConfig, IbkrSource, StreamMode
from intraday_jules.adapters.ibkr.data.live_feed import IbkrBarFeed
from intraday_jules.adapters.ibkr.execution import IbkrBroker
from intraday_jules.domain.bars import Bar
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.feed import FeedItem
from intraday_jules.market_data.store import BarStore
from intraday_jules.observability.metrics import TradingMetrics
from intraday_jules.risk import RiskEngine, RiskEventKind, RiskLimits
from intraday_jules.testing.fake_tws import FakeTwsThread, OrderReaction
from intraday_jules.trading import (
    Collaborators,
    SessionConfig,
    StreamFeed,
    make_policy,
    run_session,
)
from intraday_jules_tests.adapters.ibkr.conftest import RECORDED_SESSION, wait_until
from intraday_jules_tests.adapters.ibkr.execution.conftest import (
    FAST_RECONNECT,
    SESSION,
    LiveClock,
    assert_each_execution_booked_once,
    gateway_on_live_time,
    placed_refs,
)

START = datetime(2025, 2, 3, 19, 0, tzinfo=UTC)  # 14:00 ET; features warm after 50 bars
SYMBOLS = ("NVDA", "MSFT")
MINUTE = timedelta(minutes=1)
DROP_AT = START + 76 * MINUTE  # 15:16 ET, while NVDA and MSFT are held
DATA_LOST_AT = START + 85 * MINUTE  # 15:25 ET, while MSFT is held
LAST_BAR = START + 119 * MINUTE  # 15:59 ET
FIRST_UPDATE = timedelta(seconds=5)
IDLE_LIMIT = 300  # heartbeats (~9 s) before the driver gives up waiting for a minute: a stall



@dataclass
class MarketDriver:
    """Our own ``BarFeed`` around the IB feed, standing in for the passing of time: each time
    the loop is idle (a heartbeat) after taking a whole minute, it moves the gateway's live
    time one minute on (with keepUpToDate a bar completes at the next minute's first 5-second
    update) and runs the fault scheduled for that minute. A fault strikes on the minute
    boundary, and time moves on once the streams have resubscribed, so the minute's bar comes
    from the resubscription's history. Heartbeats reach the loop once bars flow; after the
    last bar (which no newer bar completes) time simply runs on until the loop ends."""

    inner: IbkrBarFeed
    gateway: FakeTwsThread
    faults: dict[datetime, Callable[[], None]]
    target: datetime = START
    name: str = "ibkr"
    faulted: list[str] = field(default_factory=list)
    stalls: list[str] = field(default_factory=list)

    def bars(self, after: datetime | None) -> Iterator[FeedItem]:
        return self._drive(self.inner.bars(after))

    def _drive(self, items: Iterator[FeedItem]) -> Iterator[FeedItem]:
        got: set[str] = set()
        started, idle = False, 0
        self._advance(self.target + MINUTE + FIRST_UPDATE)
        for item in items:
            if isinstance(item, Bar):
                started = True
                got |= {item.symbol} if item.ts == self.target else set()
                yield item
                continue
            idle += 1
            if len(got) == len(SYMBOLS) or self.target >= LAST_BAR or idle > IDLE_LIMIT:
                if idle > IDLE_LIMIT:
                    self.stalls.append(f"{self.target:%H:%M}Z")
                self._next_minute()
                got, idle = set(), 0
            if started:
                yield None

    def _next_minute(self) -> None:
        self.target += MINUTE
        fault = self.faults.pop(self.target, None)
        if fault is not None:
            self._advance(self.target + MINUTE)
            before = self._subscriptions()
            fault()
            assert wait_until(lambda: len(self._subscriptions() - before) == len(SYMBOLS))
            self.faulted.append(f"{self.target:%H:%M}Z")
        self._advance(self.target + MINUTE + FIRST_UPDATE)

    def _advance(self, to: datetime) -> None:
        self.gateway.advance_live(to)

    def _subscriptions(self) -> set[tuple[int, int]]:
        return set(self.gateway.call(lambda: set(self.gateway.gateway.live.subscriptions)))


class ReconcileRecorder(IbkrBroker):
    """The real broker, noting (on the live clock) when the loop read its positions: the loop
    does so only to reconcile (at start and after each reconnect)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reconciled: list[datetime] = []

    def positions(self) -> dict[str, int]:
        self.reconciled.append(self._clock())
        return super().positions()


@pytest.fixture
def paper_gateway(recorded_session: pd.DataFrame) -> Iterator[FakeTwsThread]:
    with gateway_on_live_time(recorded_session, START) as (gw, _):
        yield gw


@pytest.mark.parametrize(("mode", "decisions"), [
    # keepUpToDate completes a bar when a newer one appears, and no bar follows the session's
    # last (20:59Z) inside regular hours: 19:00..20:58, then the loop ends on heartbeats
    (StreamMode.KEEP_UP_TO_DATE, 119),
    (StreamMode.REAL_TIME_BARS, 120),  # the last 5-second bar completes 20:59 too
])
def test_ib_paper_session_with_a_dropped_socket_and_data_lost_ends_flat_and_matches_ib(
        paper_gateway: FakeTwsThread, sqlite_url: str, mode: StreamMode,
        decisions: int) -> None:
    gw, clock = paper_gateway, LiveClock()
    clock.gateway = gw
    source = IbkrSource(IbkrConfig(port=gw.port, client_id=17, request_timeout_s=5.0,
                                   reconnect_backoff=FAST_RECONNECT), clock=clock)  # pacing
    broker = ReconcileRecorder(IbkrConfig(port=gw.port, client_id=18, request_timeout_s=5.0),
                               symbols=SYMBOLS, clock=clock, reconnect=FAST_RECONNECT,
                               ack_timeout_s=2.0, commission_wait_s=0.5)
    feed = IbkrBarFeed(source, SYMBOLS, session=RECORDED_SESSION, mode=mode, heartbeat_s=0.03,
                       poll_s=0.005, minute_grace_s=5.0)
    driver = MarketDriver(feed, gw, {DROP_AT: gw.drop_connections,
                                     DATA_LOST_AT: lambda: gw.send_connectivity(1101)})
    ledger = Ledger.connect(sqlite_url)
    limits = RiskLimits(daily_loss_limit_usd=Decimal(500), drawdown_limit_usd=Decimal(500))
    try:
        result = run_session(
            SessionConfig(RECORDED_SESSION, symbols=SYMBOLS), feed=driver,
            broker=broker, policy=make_policy("random", seed=11), ledger=ledger,
            risk=RiskEngine(limits, ledger, clock=clock), store=BarStore(ledger.engine),
            metrics=TradingMetrics(clock=clock), clock=clock,
            extras=Collaborators(report=False))
    finally:
        broker.close()
        feed.close()
        source.close()
    summary = result.to_json()
    assert driver.faulted == ["20:16Z", "20:25Z"] and driver.stalls == []
    assert summary["risk_state"] == "ACTIVE" and summary["bad_inputs"] == 0, summary
    assert summary["open_positions"] == {}
    assert summary["decisions"] == decisions and summary["fills"] >= 10
    kinds = {e.kind for e in ledger.risk_events(RECORDED_SESSION)}
    assert RiskEventKind.RECONCILE_MISMATCH not in kinds
    fills = assert_each_execution_booked_once(ledger, gw, RECORDED_SESSION)
    assert all(quantity == 0 for quantity, _ in gw.orders.positions().values())
    assert all(p.quantity == 0 for p in ledger.positions().values())
    refs = placed_refs(gw)
    assert len(refs) == len(set(refs))  # no decision was sent twice
    assert set(refs) <= {o.client_order_id for o in ledger.orders(RECORDED_SESSION)}
    assert sum(1 for m in gw.messages if m.name == "startApi" and m.fields[2] == "18") == 2
    struck = [DROP_AT + MINUTE, DATA_LOST_AT + MINUTE, LAST_BAR + 3 * MINUTE]
    for at, then in pairwise(struck):  # shares held; reconciled after it
        held = {f.symbol: 0 for f in fills}
        for fill in fills:
            held[fill.symbol] += fill.signed_quantity if fill.ts <= at else 0
        assert any(held.values()), f"nothing held at {at}"
        assert any(at <= ts < then for ts in broker.reconciled), (at, broker.reconciled)


def test_orders_and_fills_the_ledger_never_recorded_are_recorded_and_trading_reduces(
        gateway: FakeTwsThread, sqlite_url: str) -> None:
    manual = IB()  # an order someone placed on our client id before the run
    manual.connect("127.0.0.1", gateway.port, clientId=18, timeout=5)
    gateway.orders.script(OrderReaction(work=True))
    contract = Stock("NVDA", "SMART", "USD")
    manual.qualifyContracts(contract)
    trade = manual.placeOrder(contract, LimitOrder("BUY", 4, 136.5, orderRef="MANUAL-7"))
    manual.sleep(0.2)
    manual.disconnect()
    broker = IbkrBroker(IbkrConfig(port=gateway.port, client_id=18, request_timeout_s=5.0),
                        reconnect=FAST_RECONNECT, commission_wait_s=0.5)

    def market() -> Iterator[FeedItem]:  # before the open: no bar, no stale data
        yield None
        gateway.fill_order(trade.order.orderId, 4, 136.5)
        assert wait_until(lambda: bool(gateway.orders.executions()))
        time.sleep(0.2)  # the fill and its commission report reach the broker
        yield None

    before_open = lambda: datetime(2025, 1, 2, 14, 0, tzinfo=UTC)  # noqa: E731
    ledger = Ledger.connect(sqlite_url)
    try:
        result = run_session(
            SessionConfig(SESSION, symbols=SYMBOLS), feed=StreamFeed(market(), name="ibkr"),
            broker=broker, policy=make_policy("random"), ledger=ledger,
            risk=RiskEngine(RiskLimits(), ledger, clock=before_open),
            store=BarStore(ledger.engine), metrics=TradingMetrics(clock=before_open),
            clock=before_open, extras=Collaborators(report=False))
    finally:
        broker.close()
    events = ledger.risk_events(SESSION)
    reasons = [e.reason for e in events if e.kind is RiskEventKind.UNKNOWN_BROKER_MESSAGE]
    assert len(reasons) == 2, reasons
    assert "MANUAL-7" in reasons[0] and "never recorded" in reasons[0]
    assert "MANUAL-7" in reasons[1]
    assert result.to_json()["risk_state"] == "REDUCING"
    assert ledger.fills(SESSION) == [] and ledger.orders(SESSION) == []
