"""FailoverFeed: a scripted primary feed (heartbeats and bars at set clock times) and a
fallback BarSource over a frame, both our own interfaces; the clock is injected."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from intraday_jules.domain.bars import Bar, BarValidationError, frame_to_bars
from intraday_jules.market_data.feed import FeedItem, SourcedBar, bar_source
from intraday_jules.market_data.live_failover import FailoverFeed, Switch
from intraday_jules.market_data.source import BarRequest, SourceUnavailable
from intraday_jules_tests.builders import session_bars

DAY = date(2025, 1, 3)
OPEN = datetime(2025, 1, 3, 14, 30, tzinfo=UTC)  # 09:30 ET
SYMBOLS = ("NVDA", "MSFT")
MINUTE = timedelta(minutes=1)


def _t(minute: int, second: int = 0) -> datetime:
    return OPEN + minute * MINUTE + timedelta(seconds=second)


FRAME = pd.concat([session_bars("NVDA", DAY, source=None),
                   session_bars("MSFT", DAY, price=400.0, source=None)], ignore_index=True)


def _bars(minute: int) -> list[Bar]:
    rows = FRAME[FRAME["ts"] == _t(minute)]
    by_symbol = {b.symbol: b for b in frame_to_bars(rows)}
    return [by_symbol[s] for s in SYMBOLS]


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: _t(0))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ScriptedFeed:
    """Yields the script's items, each after moving the clock to its time."""

    clock: Clock
    script: Sequence[tuple[datetime, FeedItem]]
    name: str = "ibkr"
    after: list[datetime | None] = field(default_factory=list)

    def bars(self, after: datetime | None) -> Iterator[FeedItem]:
        self.after.append(after)
        for at, item in self.script:
            self.clock.now = at
            yield item


class FrameSource:
    """The fallback: the whole session of FRAME (as a replay server would serve it), or
    ``up_to`` each symbol's last minute the vendor has; ``errors`` are raised by the first
    calls."""

    name = "alpha_vantage"

    def __init__(self, up_to: dict[str, datetime] | None = None,
                 errors: Sequence[Exception] = ()) -> None:
        self.up_to, self.errors = up_to or {}, list(errors)
        self.requests: list[BarRequest] = []

    def fetch_session(self, request: BarRequest) -> pd.DataFrame:
        self.requests.append(request)
        if self.errors:
            raise self.errors.pop(0)
        rows = FRAME[FRAME["symbol"] == request.symbol]
        if request.symbol in self.up_to:
            rows = rows[rows["ts"] <= self.up_to[request.symbol]]
        return rows.assign(source=self.name)

    def close(self) -> None:
        pass


def _heartbeats(start: datetime, end: datetime, every_s: int = 5) -> list[tuple[datetime, None]]:
    out, at = [], start
    while at <= end:
        out.append((at, None))
        at += timedelta(seconds=every_s)
    return out


def _in_time(minute: int) -> list[tuple[datetime, FeedItem]]:
    """The primary delivering ``minute`` 5 s after its close, as IB's keepUpToDate does."""
    return [(_t(minute + 1, 5), bar) for bar in _bars(minute)]


def _run(feed: FailoverFeed, after: datetime | None = None) -> list[FeedItem]:
    return list(feed.bars(after))


def _delivered(items: list[FeedItem]) -> list[tuple[str, str, str]]:
    return [(f"{b.ts:%H:%M}", b.symbol, bar_source(b, "ibkr")) for b in items if b is not None]


def test_a_primary_in_time_is_passed_through_and_the_fallback_never_asked() -> None:
    clock = Clock()
    script = [*_in_time(0), *_heartbeats(_t(1, 10), _t(2, 0)), *_in_time(1),
              *_heartbeats(_t(2, 10), _t(2, 55))]
    fallback = FrameSource()
    feed = FailoverFeed(ScriptedFeed(clock, script), fallback, DAY, SYMBOLS, clock=clock)
    items = _run(feed)
    assert [b for b in items if b is not None] == [*_bars(0), *_bars(1)]
    assert not any(isinstance(b, SourcedBar) for b in items)
    assert fallback.requests == [] and feed.switches == [] and feed.name == "ibkr"


def test_a_stalled_primary_is_filled_from_the_fallback_then_taken_back_without_repeats() -> None:
    clock = Clock()
    script = [*_in_time(0), *_in_time(1),
              # 14:32 closes at 14:33:00; the primary stays silent
              *_heartbeats(_t(2, 10), _t(4, 15)),
              # it recovers: backfills 14:32 and 14:33 (already delivered), then 14:34
              *[(_t(4, 20), b) for b in [*_bars(2), *_bars(3)]], *_in_time(4),
              *_heartbeats(_t(5, 10), _t(5, 30))]
    fallback = FrameSource()
    feed = FailoverFeed(ScriptedFeed(clock, script), fallback, DAY, SYMBOLS, clock=clock,
                        stall_after=timedelta(seconds=15))
    items = _run(feed)
    assert _delivered(items) == [
        ("14:30", "NVDA", "ibkr"), ("14:30", "MSFT", "ibkr"),
        ("14:31", "NVDA", "ibkr"), ("14:31", "MSFT", "ibkr"),
        ("14:32", "NVDA", "alpha_vantage"), ("14:32", "MSFT", "alpha_vantage"),
        ("14:33", "NVDA", "alpha_vantage"), ("14:33", "MSFT", "alpha_vantage"),
        ("14:34", "NVDA", "ibkr"), ("14:34", "MSFT", "ibkr")]
    sourced = [b for b in items if isinstance(b, SourcedBar)]
    assert [Bar(b.symbol, b.ts, b.open, b.high, b.low, b.close, b.volume)
            for b in sourced] == [*_bars(2), *_bars(3)]  # the same minutes, not a shifted copy
    # asked 15 s after 14:32 closed (heartbeat 14:33:15), and 15 s after 14:33 closed
    assert [r.symbol for r in fallback.requests] == ["NVDA", "MSFT"] * 2
    assert feed.switches == [
        Switch(_t(3, 15), "alpha_vantage", "ibkr stalled: minute 2025-01-03T14:32:00+00:00 "
               "closed 15 s ago (stall_after 15 s)"),
        Switch(_t(4, 20), "ibkr", "ibkr delivers again (NVDA 2025-01-03T14:33:00+00:00)")]


def test_a_disconnected_primary_fails_over_as_soon_as_a_minute_completes() -> None:
    clock = Clock()
    script = [*_in_time(0), *_heartbeats(_t(1, 10), _t(3, 10))]
    fallback = FrameSource()
    feed = FailoverFeed(ScriptedFeed(clock, script), fallback, DAY, SYMBOLS, clock=clock,
                        connected=lambda: clock.now >= _t(2, 30))  # back at 14:32:30
    items = _run(feed)
    assert _delivered(items)[2:] == [("14:31", "NVDA", "alpha_vantage"),
                                     ("14:31", "MSFT", "alpha_vantage")]
    assert feed.switches == [Switch(_t(2, 0), "alpha_vantage", "ibkr is disconnected")]
    last = items.index(SourcedBar.of(_bars(1)[1], "alpha_vantage"))
    # then no future minute; reconnected, the primary has until 14:33:15 to deliver 14:32
    assert items[last + 1:] == [None] * (len(items) - last - 1)
    assert len(fallback.requests) == 2


def test_a_failing_or_lagging_fallback_is_asked_again_and_never_delivers_half_a_minute() -> None:
    clock = Clock()
    script = [*_in_time(0), *_heartbeats(_t(1, 10), _t(3, 45))]
    # the first calls fail (unreachable, then a bad payload); MSFT's 14:32 is not there yet
    bad = BarValidationError("alpha_vantage NVDA", "high 1.0 is below open/close/low")
    fallback = FrameSource(up_to={"NVDA": _t(2), "MSFT": _t(1)},
                           errors=[SourceUnavailable("alpha_vantage", None, "HTTP 503"), bad])
    feed = FailoverFeed(ScriptedFeed(clock, script), fallback, DAY, SYMBOLS, clock=clock,
                        stall_after=timedelta(seconds=15), retry_after=timedelta(seconds=30))
    items = _run(feed)
    # 14:31 closed 14:32:00: stalled at 14:32:15 (fails), asked again at 14:32:45 (refused),
    # at 14:33:15 (14:32 is owed now: 14:31 comes, MSFT lags for 14:32) and 14:33:45 (retry)
    assert _delivered(items)[2:] == [("14:31", "NVDA", "alpha_vantage"),
                                     ("14:31", "MSFT", "alpha_vantage")]
    asked = [(r.symbol) for r in fallback.requests]
    assert asked == ["NVDA", "NVDA", "NVDA", "MSFT", "NVDA", "MSFT"]
    assert items.count(None) == len(script) - 3  # a heartbeat whenever nothing was delivered


def test_a_restart_and_a_pre_open_start_only_fill_regular_minutes_after_the_resume_point() -> None:
    clock = Clock(_t(-20))
    before_open = _heartbeats(_t(-20), _t(-1))  # nothing is missing before the open
    feed = FailoverFeed(ScriptedFeed(clock, before_open), FrameSource(), DAY, SYMBOLS,
                        clock=clock)
    assert _run(feed) == [None] * len(before_open) and feed.switches == []
    clock = Clock(_t(5, 2))
    primary = ScriptedFeed(clock, _heartbeats(_t(5, 2), _t(5, 20)))
    resumed = FailoverFeed(primary, FrameSource(), DAY, SYMBOLS, clock=clock)
    items = _run(resumed, after=_t(3))  # 14:33 was decided; 14:34 is owed
    assert primary.after == [_t(3)]
    assert _delivered(items) == [("14:34", "NVDA", "alpha_vantage"),
                                 ("14:34", "MSFT", "alpha_vantage")]


def test_a_negative_stall_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="stall_after must be >= 0"):
        FailoverFeed(ScriptedFeed(Clock(), []), FrameSource(), DAY, SYMBOLS,
                     stall_after=timedelta(seconds=-1))
