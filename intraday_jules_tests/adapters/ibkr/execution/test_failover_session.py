"""End to end: ``run_session`` on a ``FailoverFeed`` around ``IbkrBarFeed`` (the fake gateway
replaying the simulated 2025-02-03 session) with the Alpha Vantage replay server serving the
same minutes as the fallback. The gateway's fault script cuts IB off twice (1100), restored
once with 1101 (the streams resubscribe and backfill) and once with 1102 (held messages
arrive late); IB's keepUpToDate never completes the last minute, which stalls.
Real ib_async client, real HTTP, a real SQLite ledger; the simulated broker trades."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from intraday_jules.adapters.alpha_vantage import AlphaVantageConfig, AlphaVantageSource
from intraday_jules.adapters.ibkr import IbkrConfig, IbkrSource
from intraday_jules.adapters.ibkr.data.live_feed import IbkrBarFeed
from intraday_jules.broker.simulated import SimulatedBroker
from intraday_jules.domain.bars import Bar
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.feed import BarFeed, FeedItem
from intraday_jules.market_data.live_failover import FailoverFeed
from intraday_jules.market_data.store import BarStore
from intraday_jules.observability.metrics import TradingMetrics
from intraday_jules.risk import RiskEngine, RiskLimits
from intraday_jules.secrets import SecretValue
from intraday_jules.testing.alpha_vantage_server import AlphaVantageServer
from intraday_jules.testing.fake_tws import FakeTwsThread
from intraday_jules.trading import Collaborators, SessionConfig, make_policy, run_session
from intraday_jules_tests.adapters.ibkr.conftest import RECORDED_SESSION, wait_until
from intraday_jules_tests.adapters.ibkr.execution.conftest import (
    FAST_RECONNECT,
    LiveClock,
    gateway_on_live_time,
)

START = datetime(2025, 2, 3, 19, 55, tzinfo=UTC)  # 14:55 ET
CLOSE = datetime(2025, 2, 3, 21, 0, tzinfo=UTC)
SYMBOLS = ("NVDA", "MSFT")
MINUTE = timedelta(minutes=1)
STEP = timedelta(seconds=5)  # keepUpToDate completes a bar at the next minute's first update
LAST = datetime(2025, 2, 3, 20, 59, tzinfo=UTC)  # 15:59 ET: keepUpToDate never completes it
CREEP_AFTER = 20  # heartbeats (~0.6 s) without the last minute before time creeps on 5 s
GIVE_UP = 3000  # heartbeats (~90 s) without a minute: the test is stuck
KEY = "AV-FAILOVER-TEST"


def _m(hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return START.replace(hour=int(hours), minute=int(minutes))



@dataclass
class Market:
    """Our own ``BarFeed`` around the failover feed, standing in for the passing of time: live
    time moves to each minute's close + 5 s; once the loop got both bars of the minute (from
    either source) the next minute follows. The last minute, which IB never completes, stalls:
    time creeps on 5 s every ``CREEP_AFTER`` heartbeats (only there, so a slow machine cannot
    fake a stall elsewhere). A fault scheduled for a minute strikes at its close, before time
    moves past it; ``resubscribes`` faults wait for the streams to resubscribe. Heartbeats
    reach the loop once bars flow (before, the loop would find the session's first minutes
    missing)."""

    inner: BarFeed
    gateway: FakeTwsThread
    faults: dict[datetime, tuple[Callable[[], None], bool]]
    name: str = "ibkr"

    def bars(self, after: datetime | None) -> Iterator[FeedItem]:
        return self._drive(self.inner.bars(after))

    def _drive(self, items: Iterator[FeedItem]) -> Iterator[FeedItem]:
        target, got, idle, started = START, set[str](), 0, False
        self.gateway.advance_live(START + MINUTE + STEP)
        for item in items:
            if isinstance(item, Bar):
                started = True
                got |= {item.symbol} if item.ts == target else set()
                yield item
                continue
            idle += 1
            if len(got) == len(SYMBOLS):
                target, got, idle = target + MINUTE, set(), 0
                self._strike(target)
                self.gateway.advance_live(target + MINUTE + STEP)
            elif target == LAST and idle % CREEP_AFTER == 0:
                self.gateway.advance_live(self.gateway.gateway.live.now + STEP)
            assert idle < GIVE_UP, f"minute {target:%H:%M}Z never reached the loop"
            if started:
                yield None

    def _strike(self, minute: datetime) -> None:
        fault = self.faults.pop(minute, None)
        if fault is None:
            return
        strike, resubscribes = fault
        self.gateway.advance_live(minute + MINUTE)
        before = self._subscriptions()
        strike()
        if resubscribes:
            assert wait_until(lambda: len(self._subscriptions() - before) == len(SYMBOLS))

    def _subscriptions(self) -> set[tuple[int, int]]:
        return set(self.gateway.call(lambda: set(self.gateway.gateway.live.subscriptions)))


@pytest.fixture
def live_gateway(recorded_session: pd.DataFrame) -> Iterator[tuple[FakeTwsThread, LiveClock]]:
    with gateway_on_live_time(recorded_session, START) as (gw, clock):
        yield gw, clock


def test_minutes_ib_misses_are_traded_from_alpha_vantage_then_ib_takes_over_again(
        live_gateway: tuple[FakeTwsThread, LiveClock], recorded_session: pd.DataFrame,
        sqlite_url: str) -> None:
    gw, clock = live_gateway
    source = IbkrSource(IbkrConfig(port=gw.port, client_id=17, request_timeout_s=5.0,
                                   reconnect_backoff=FAST_RECONNECT), clock=clock)
    ib = IbkrBarFeed(source, SYMBOLS, session=RECORDED_SESSION, heartbeat_s=0.03,
                     poll_s=0.005, minute_grace_s=5.0)
    with AlphaVantageServer(recorded_session, api_key=KEY) as vendor:
        config = AlphaVantageConfig(base_url=vendor.base_url, calls_per_minute=1000,
                                    calls_per_day=1000, min_interval_s=0.0, max_retries=0)
        alpha_vantage = AlphaVantageSource(config, SecretValue(KEY, "alpha_vantage_key"),
                                           clock=clock).for_live_session()
        feed = FailoverFeed(ib, alpha_vantage, RECORDED_SESSION, SYMBOLS, clock=clock,
                            connected=ib.connected)
        market = Market(feed, gw, {
            _m("20:10"): (lambda: gw.send_connectivity(1100), False),
            _m("20:14"): (lambda: gw.send_connectivity(1101), True),
            _m("20:30"): (lambda: gw.send_connectivity(1100), False),
            _m("20:33"): (lambda: gw.send_connectivity(1102), False)})
        ledger = Ledger.connect(sqlite_url)
        limits = RiskLimits(daily_loss_limit_usd=Decimal(500), drawdown_limit_usd=Decimal(500))
        try:
            result = run_session(
                SessionConfig(RECORDED_SESSION, symbols=SYMBOLS), feed=market,
                broker=SimulatedBroker(clock=clock), policy=make_policy("random", seed=5),
                ledger=ledger, risk=RiskEngine(limits, ledger, clock=clock),
                store=BarStore(ledger.engine), metrics=TradingMetrics(clock=clock),
                clock=clock, extras=Collaborators(report=False))
        finally:
            feed.close()
            source.close()
            alpha_vantage.close()
        requests = len(vendor.requests)
    summary = result.to_json()
    assert summary["risk_state"] == "ACTIVE" and summary["bad_inputs"] == 0, summary
    assert ledger.risk_events(RECORDED_SESSION) == []  # no stale data, no refused bar
    assert market.faults == {}

    failover = [*(_m(f"20:{m}") for m in ("10", "11", "12", "13", "30", "31", "32")),
                _m("20:59")]  # the two outages, and the last minute IB never completes
    minutes = [START + i * MINUTE for i in range(65)]  # 14:55 .. 15:59 ET, each once
    decisions = ledger.decisions(RECORDED_SESSION)
    assert [d.ts for d in decisions] == minutes
    marked = {d.ts: d.detail["bar_sources"] for d in decisions if "bar_sources" in d.detail}
    assert marked == {ts: {"NVDA": "alpha_vantage", "MSFT": "alpha_vantage"}
                      for ts in failover}
    assert sum(d.detail["phase"] == "decide" for d in decisions) > 0  # traded, not only warmed

    stored = BarStore(ledger.engine).read(SYMBOLS, START, CLOSE)
    assert len(stored) == 2 * len(minutes)
    sources = stored.groupby("ts")["source"].agg(set)
    stamps = [ts.to_pydatetime() for ts in pd.DatetimeIndex(sources.index)]
    assert dict(zip(stamps, sources, strict=True)) == {
        ts: {"alpha_vantage" if ts in failover else "ibkr"} for ts in minutes}
    expected = recorded_session[(recorded_session["ts"] >= START)
                                & (recorded_session["ts"] < CLOSE)]
    merged = stored.merge(expected, on=["symbol", "ts"], suffixes=("", "_recorded"))
    assert len(merged) == len(stored)  # the same minutes, whichever source served them
    for column in ("open", "high", "low", "close", "volume"):
        assert merged[column].to_numpy() == pytest.approx(
            merged[f"{column}_recorded"].to_numpy(), abs=5e-5)

    # back to IB as soon as its backfill (1101) or held messages (1102) reach the newest
    # minute delivered; their older minutes were dropped, not delivered twice
    assert [(s.to, s.reason) for s in feed.switches] == [
        ("alpha_vantage", "ibkr is disconnected"),
        ("ibkr", "ibkr delivers again (NVDA 2025-02-03T20:13:00+00:00)"),
        ("alpha_vantage", "ibkr is disconnected"),
        ("ibkr", "ibkr delivers again (NVDA 2025-02-03T20:32:00+00:00)"),
        ("alpha_vantage", "ibkr stalled: minute 2025-02-03T20:59:00+00:00 closed 15 s ago "
                          "(stall_after 15 s)")]
    assert [s.at for s in feed.switches][::2] == [_m("20:11") + STEP, _m("20:31") + STEP,
                                                  CLOSE + 3 * STEP]
    # one month per symbol per failover minute: a month fetched mid-session is never reused
    assert requests == 2 * len(failover)
