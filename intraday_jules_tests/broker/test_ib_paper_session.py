"""End to end: ``run_session`` with IbkrBroker and IbkrBarFeed against the fake gateway replaying
the last two hours of the recorded 2025-02-03 session, with a dropped socket and a 1101 injected.
Real ib_async clients (market data and orders) over real sockets, a real SQLite ledger."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from intraday_jules.broker import IbkrBroker
from intraday_jules.domain.bars import Bar
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.ibkr import IbkrConfig, IbkrSource
from intraday_jules.market_data.store import BarStore
from intraday_jules.observability.metrics import TradingMetrics
from intraday_jules.risk import RiskEngine, RiskEventKind, RiskLimits
from intraday_jules.testing.fake_tws import FakeTwsThread
from intraday_jules.trading import Collaborators, SessionConfig, make_policy, run_session
from intraday_jules.trading.feed import FeedItem
from intraday_jules.trading.ib_feed import IbkrBarFeed
from intraday_jules_tests.broker.conftest import (
    FAST_RECONNECT,
    RECORDED_SESSION,
    placed_refs,
    wait_until,
)

START = datetime(2025, 2, 3, 19, 0, tzinfo=UTC)  # 14:00 ET; features warm after 50 bars
SYMBOLS = ("NVDA", "MSFT")
MINUTE = timedelta(minutes=1)
DROP_AT = START + 70 * MINUTE  # 15:10 ET
DATA_LOST_AT = START + 90 * MINUTE  # 15:30 ET
LAST_BAR = START + 119 * MINUTE  # 15:59 ET
FIRST_UPDATE = timedelta(seconds=5)


class LiveClock:
    """The gateway's live time: the loop, the broker and the gateway's executions share it."""

    gateway: FakeTwsThread | None = None

    def __call__(self) -> datetime:
        assert self.gateway is not None
        return self.gateway.gateway.live.now


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
            if len(got) == len(SYMBOLS) or self.target >= LAST_BAR or idle > 100:
                if idle > 100:
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


@pytest.fixture
def paper_gateway(recorded_session: pd.DataFrame) -> Iterator[FakeTwsThread]:
    clock = LiveClock()
    gw = FakeTwsThread(recorded_session, live_time=START, clock=clock)
    clock.gateway = gw
    with gw:
        yield gw


def test_ib_paper_session_with_a_dropped_socket_and_data_lost_ends_flat_and_matches_ib(
        paper_gateway: FakeTwsThread, sqlite_url: str) -> None:
    gw, clock = paper_gateway, LiveClock()
    clock.gateway = gw
    source = IbkrSource(IbkrConfig(port=gw.port, client_id=17, request_timeout_s=5.0,
                                   reconnect_backoff=FAST_RECONNECT), clock=clock)  # pacing
    broker = IbkrBroker(IbkrConfig(port=gw.port, client_id=18, request_timeout_s=5.0),
                        symbols=SYMBOLS, clock=clock, reconnect=FAST_RECONNECT,
                        ack_timeout_s=2.0, commission_wait_s=0.5)
    feed = IbkrBarFeed(source, SYMBOLS, heartbeat_s=0.03, poll_s=0.005, minute_grace_s=5.0)
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
    print(summary)
    assert driver.faulted == ["20:10Z", "20:30Z"] and driver.stalls == []
    assert summary["risk_state"] == "ACTIVE" and summary["bad_inputs"] == 0, summary
    assert summary["open_positions"] == {}
    # 19:00..20:58: keepUpToDate completes a bar when a newer one appears, and no bar follows
    # the session's last (20:59) inside regular hours; the loop ends on heartbeats after it
    assert summary["decisions"] == 119 and summary["fills"] >= 10
    kinds = {e.kind for e in ledger.risk_events(RECORDED_SESSION)}
    assert RiskEventKind.RECONCILE_MISMATCH not in kinds
    executions = {e.exec_id: e for e in gw.orders.executions()}
    fills = ledger.fills(RECORDED_SESSION)
    assert {f.exec_id for f in fills} == set(executions)  # every execution booked once
    for fill in fills:
        execution = executions[fill.exec_id]
        assert fill.client_order_id == execution.order_ref
        assert (fill.quantity, fill.price, fill.commission) == (
            int(execution.shares), Decimal(repr(execution.price)),
            Decimal(repr(execution.commission)))
    assert all(quantity == 0 for quantity, _ in gw.orders.positions().values())
    assert all(p.quantity == 0 for p in ledger.positions().values())
    refs = placed_refs(gw)
    assert len(refs) == len(set(refs))  # no decision was sent twice
    assert set(refs) <= {o.client_order_id for o in ledger.orders(RECORDED_SESSION)}
    assert sum(1 for m in gw.messages if m.name == "startApi" and m.fields[2] == "18") == 2
    for f in ledger.fills(RECORDED_SESSION): print(f.ts.strftime("%H:%M:%S"), f.symbol, f.side, f.quantity, f.client_order_id)
    print([(m.received_at.strftime("%H:%M:%S"), m.name) for m in gw.messages if m.client_id == 18 and m.name in ("reqPositions", "reqExecutions", "reqAllOpenOrders")])
