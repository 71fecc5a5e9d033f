"""IbkrBarFeed: completed minutes of several symbols from live IB streams, in order, with
heartbeats, resuming after a restart; real ib_async client against the fake gateway."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from intraday_jules.adapters.ibkr import IbkrConfig, IbkrSource
from intraday_jules.adapters.ibkr.data.live_feed import IbkrBarFeed, ib_live_feed
from intraday_jules.domain.bars import Bar
from intraday_jules.market_data.feed import FeedItem
from intraday_jules.testing.fake_tws import FakeTwsThread
from intraday_jules_tests.adapters.ibkr.conftest import wait_until

START = datetime(2025, 2, 3, 15, 0, tzinfo=UTC)  # 10:00 ET
SYMBOLS = ("NVDA", "MSFT")


def _at(minute: int, second: int = 0) -> datetime:
    return START + timedelta(minutes=minute, seconds=second)


@pytest.fixture
def live_gateway(recorded_session: pd.DataFrame) -> Iterator[FakeTwsThread]:
    with FakeTwsThread(recorded_session, live_time=START) as gw:
        yield gw


@pytest.fixture
def source(live_gateway: FakeTwsThread) -> Iterator[IbkrSource]:
    made = IbkrSource(IbkrConfig(port=live_gateway.port, client_id=17, connect_timeout_s=5.0,
                                 request_timeout_s=5.0))
    yield made
    made.close()


def _recorded(frame: pd.DataFrame, symbol: str, ts: datetime) -> Bar:
    row = frame[(frame["symbol"] == symbol) & (frame["ts"] == ts)].iloc[0]
    return Bar(symbol, ts, float(row.open), float(row.high), float(row.low), float(row.close),
               int(row.volume))


def _next_bars(items: Iterator[FeedItem], count: int, max_heartbeats: int = 100) -> list[Bar]:
    bars: list[Bar] = []
    for item in items:
        if item is None:
            max_heartbeats -= 1
            assert max_heartbeats > 0, f"only {len(bars)} of {count} bars arrived"
            continue
        bars.append(item)
        if len(bars) == count:
            break
    return bars


def test_feed_yields_each_completed_minute_in_symbol_order_then_heartbeats(
        source: IbkrSource, live_gateway: FakeTwsThread, recorded_session: pd.DataFrame) -> None:
    feed = IbkrBarFeed(source, SYMBOLS, heartbeat_s=0.05, poll_s=0.01)
    items = feed.bars(None)
    assert wait_until(lambda: live_gateway.live_subscriptions() == 2)
    assert next(items) is None  # nothing has completed yet: a heartbeat
    live_gateway.advance_live(_at(1, 5))
    assert _next_bars(items, 2) == [_recorded(recorded_session, s, _at(0)) for s in SYMBOLS]
    assert next(items) is None  # 15:01 is still forming
    live_gateway.advance_live(_at(4, 5))
    bars = _next_bars(items, 6)
    assert [(b.ts, b.symbol) for b in bars] == [(_at(m), s) for m in (1, 2, 3) for s in SYMBOLS]
    assert bars[-1] == _recorded(recorded_session, "MSFT", _at(3))
    feed.close()
    assert wait_until(lambda: live_gateway.live_subscriptions() == 0)


def test_feed_after_a_restart_backfills_from_the_minute_after_the_resume_point(
        source: IbkrSource, live_gateway: FakeTwsThread) -> None:
    live_gateway.advance_live(_at(4, 5))
    feed = IbkrBarFeed(source, SYMBOLS, heartbeat_s=0.05, poll_s=0.01)
    items = feed.bars(_at(1))
    bars = _next_bars(items, 4)
    assert [(b.ts, b.symbol) for b in bars] == [(_at(m), s) for m in (2, 3) for s in SYMBOLS]
    feed.close()


def test_feed_survives_a_dropped_socket_without_gap_or_duplicate(
        source: IbkrSource, live_gateway: FakeTwsThread) -> None:
    feed = IbkrBarFeed(source, SYMBOLS, heartbeat_s=0.05, poll_s=0.01)
    items = feed.bars(None)
    assert wait_until(lambda: live_gateway.live_subscriptions() == 2)
    live_gateway.advance_live(_at(2, 5))
    assert len(_next_bars(items, 4)) == 4
    live_gateway.drop_connections()
    live_gateway.advance_live(_at(3, 5))  # 15:02 completes while nobody listens
    assert wait_until(lambda: live_gateway.live_subscriptions() == 2)
    live_gateway.advance_live(_at(4, 5))
    bars = _next_bars(items, 4)
    assert [(b.ts, b.symbol) for b in bars] == [(_at(m), s) for m in (2, 3) for s in SYMBOLS]
    feed.close()


def test_ib_live_feed_as_the_trading_job_wires_it_drops_other_sessions_and_closes_its_source(
        live_gateway: FakeTwsThread) -> None:
    feed = ib_live_feed(host="127.0.0.1", port=live_gateway.port, client_id=19, symbols=SYMBOLS,
                        session=date(2025, 2, 3), heartbeat_s=0.05, poll_s=0.01)
    items = feed.bars(None)
    assert wait_until(lambda: live_gateway.live_subscriptions() == 2)
    live_gateway.advance_live(_at(1, 5))
    assert [(b.ts, b.symbol) for b in _next_bars(items, 2)] == [(_at(0), s) for s in SYMBOLS]
    feed.close()
    assert not feed.source.client.is_connected
    assert wait_until(lambda: live_gateway.live_subscriptions() == 0)
    other = ib_live_feed(host="127.0.0.1", port=live_gateway.port, client_id=20,
                         symbols=SYMBOLS, session=date(2025, 2, 4), heartbeat_s=0.05,
                         poll_s=0.01)
    items = other.bars(None)
    assert wait_until(lambda: live_gateway.live_subscriptions() == 2)
    live_gateway.advance_live(_at(3, 5))
    assert [next(items) for _ in range(10)] == [None] * 10  # 2025-02-03 bars dropped
    other.close()
