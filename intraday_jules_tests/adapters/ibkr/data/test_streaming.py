"""Live 1-minute bars: only completed bars, in order, surviving 1101 and dropped sockets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from intraday_jules.adapters.ibkr import LiveBarStream, MinuteAggregator, StreamMode
from intraday_jules.adapters.ibkr.data.minutes import FiveSecondBar
from intraday_jules.domain.bars import Bar
from intraday_jules.testing.fake_tws import FakeTwsThread, ReplayBars, SimulatedClock
from intraday_jules.testing.fake_tws.replay import split_minute
from intraday_jules_tests.adapters.ibkr.conftest import SourceFactory, wait_until

LIVE_START = datetime(2025, 1, 2, 15, 0, 0, tzinfo=UTC)  # 10:00 ET, mid-session
MODES = [StreamMode.KEEP_UP_TO_DATE, StreamMode.REAL_TIME_BARS]


@pytest.fixture
def gateway(replay: ReplayBars, sim_clock: SimulatedClock) -> Iterator[FakeTwsThread]:
    with FakeTwsThread(replay, clock=sim_clock.now, live_time=LIVE_START) as gw:
        yield gw


def _at(minute: int, second: int = 0) -> datetime:
    return LIVE_START + timedelta(minutes=minute, seconds=second)


def _replay_bar(frame: pd.DataFrame, ts: datetime) -> Bar:
    row = frame[(frame["symbol"] == "NVDA") & (frame["ts"] == ts)].iloc[0]
    return Bar("NVDA", ts, float(row.open), float(row.high), float(row.low), float(row.close),
               int(row.volume))


def _subscribed(gateway: FakeTwsThread, count: int = 1) -> None:
    assert wait_until(lambda: gateway.live_subscriptions() >= count)


def _take(stream: LiveBarStream, count: int) -> list[Bar]:
    return [stream.get(timeout=3.0) for _ in range(count)]


def _nothing_more(stream: LiveBarStream) -> bool:
    try:
        stream.get(timeout=0.3)
    except TimeoutError:
        return True
    return False


@pytest.mark.parametrize("mode", MODES)
def test_stream_emits_a_bar_only_once_its_minute_is_complete(
        make_source: SourceFactory, gateway: FakeTwsThread, replay_frame: pd.DataFrame,
        mode: StreamMode) -> None:
    stream = make_source().stream_bars("NVDA", mode=mode)
    _subscribed(gateway)
    gateway.advance_live(_at(0, 50))
    assert _nothing_more(stream)  # 15:00 is still forming
    gateway.advance_live(_at(1, 5))
    assert stream.get(timeout=3.0) == _replay_bar(replay_frame, _at(0))
    assert _nothing_more(stream)  # 15:01 is forming
    gateway.advance_live(_at(4, 5))
    bars = _take(stream, 3)
    assert bars == [_replay_bar(replay_frame, _at(m)) for m in (1, 2, 3)]
    stream.close()


@pytest.mark.parametrize("mode", MODES)
def test_stream_since_replays_completed_history_first(
        make_source: SourceFactory, gateway: FakeTwsThread, replay_frame: pd.DataFrame,
        mode: StreamMode) -> None:
    stream = make_source().stream_bars("NVDA", mode=mode, since=_at(-3))
    assert [b.ts for b in _take(stream, 3)] == [_at(-3), _at(-2), _at(-1)]
    _subscribed(gateway)
    gateway.advance_live(_at(1, 5))
    assert stream.get(timeout=3.0) == _replay_bar(replay_frame, _at(0))
    stream.close()


@pytest.mark.parametrize("mode", MODES)
def test_restored_with_data_lost_resubscribes_and_backfills_without_gap(
        make_source: SourceFactory, gateway: FakeTwsThread, replay_frame: pd.DataFrame,
        mode: StreamMode) -> None:
    stream = make_source().stream_bars("NVDA", mode=mode)
    _subscribed(gateway)
    gateway.advance_live(_at(3, 5))
    first = _take(stream, 3)
    gateway.send_connectivity(1100)
    gateway.advance_live(_at(7, 30))  # held back by the outage, then discarded by 1101
    gateway.send_connectivity(1101)
    gateway.advance_live(_at(9, 5))
    later = _take(stream, 6)
    assert stream.recoveries == 1
    emitted = first + later
    assert [b.ts for b in emitted] == [_at(m) for m in range(9)]
    assert emitted == [_replay_bar(replay_frame, _at(m)) for m in range(9)]
    stream.close()


def test_restored_with_data_kept_needs_no_resubscription(
        make_source: SourceFactory, gateway: FakeTwsThread) -> None:
    stream = make_source().stream_bars("NVDA")
    gateway.advance_live(_at(2, 5))
    gateway.send_connectivity(1100)
    gateway.advance_live(_at(4, 5))
    gateway.send_connectivity(1102)
    assert [b.ts for b in _take(stream, 4)] == [_at(m) for m in range(4)]
    assert stream.recoveries == 0
    stream.close()


def test_dropped_socket_reconnects_and_backfills_without_gap(
        make_source: SourceFactory, gateway: FakeTwsThread) -> None:
    stream = make_source().stream_bars("NVDA")
    gateway.advance_live(_at(2, 5))
    assert [b.ts for b in _take(stream, 2)] == [_at(0), _at(1)]
    gateway.drop_connections()
    gateway.advance_live(_at(5, 5))
    assert [b.ts for b in _take(stream, 3)] == [_at(2), _at(3), _at(4)]
    assert stream.recoveries == 1
    stream.close()


def test_aggregator_rebuilds_the_recorded_minute_from_its_twelve_parts(
        replay: ReplayBars) -> None:
    bar = replay.bar_at("NVDA", LIVE_START)
    assert bar is not None
    aggregator = MinuteAggregator("NVDA")
    closed = []
    for part in split_minute(bar):
        closed += aggregator.add(FiveSecondBar(part.ts, part.open, part.high, part.low,
                                               part.close, part.volume))
    assert len(closed) == 1
    assert closed[0].bar == Bar("NVDA", LIVE_START, bar.open, bar.high, bar.low, bar.close,
                                bar.volume)


def test_aggregator_reports_a_partly_seen_minute_as_incomplete() -> None:
    aggregator = MinuteAggregator("NVDA")
    late = [FiveSecondBar(_at(0, s), 10.0, 11.0, 9.0, 10.5, 100) for s in range(30, 60, 5)]
    closed = [c for part in late for c in aggregator.add(part)]
    assert [(c.minute, c.bar) for c in closed] == [(_at(0), None)]


def test_aggregator_closes_a_minute_when_a_later_minute_starts() -> None:
    aggregator = MinuteAggregator("NVDA")
    aggregator.add(FiveSecondBar(_at(0, 0), 10.0, 11.0, 9.0, 10.5, 100))
    closed = aggregator.add(FiveSecondBar(_at(1, 0), 10.0, 11.0, 9.0, 10.5, 100))
    assert [c.minute for c in closed] == [_at(0)]
    assert aggregator.add(FiveSecondBar(_at(0, 55), 1.0, 1.0, 1.0, 1.0, 1)) == []  # late


def test_subscribing_mid_minute_never_emits_the_forming_minute_early(
        make_source: SourceFactory, gateway: FakeTwsThread, replay_frame: pd.DataFrame) -> None:
    """Regression: the fake gateway answered a mid-minute keepUpToDate request with the forming
    minute's final full bar (future data) plus its partial, so that minute was emitted early."""
    gateway.advance_live(_at(2, 30))
    stream = make_source().stream_bars("NVDA", mode=StreamMode.KEEP_UP_TO_DATE, since=_at(-1))
    assert [b.ts for b in _take(stream, 3)] == [_at(-1), _at(0), _at(1)]
    assert _nothing_more(stream)  # 15:02 is still forming at 15:02:30
    gateway.advance_live(_at(3, 5))
    assert stream.get(timeout=3.0) == _replay_bar(replay_frame, _at(2))
    stream.close()
