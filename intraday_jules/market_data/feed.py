"""Bar feeds: where the session's completed 1-minute bars come from, replayed or live.

The loop consumes ``feed.bars(after)`` and cannot tell the two apart, so tests, the CLI and the
live job run one code path. A feed yields ``Bar`` objects as they complete, or ``None`` as a
heartbeat ("no new bar yet") so the loop can notice stale data while the market is silent.

``after`` is the resume point of a restarted session (the last minute already decided): every
feed skips bars up to it (a live stream re-sending the last bars after a reconnect is not bad
input); anything else older than what the loop has seen is refused by the intake.

Provenance: every bar a feed yields was produced by the feed's ``name``, except a
``SourcedBar``, which names the source that really produced it (a failover feed's fallback,
``live_failover.py``); ``bar_source`` tells which.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import pandas as pd

from intraday_jules.domain.bars import BAR, Bar, frame_to_bars
from intraday_jules.domain.clock import ReplayClock
from intraday_jules.market_data.source import BarRequest, BarSource


@dataclass(frozen=True, slots=True)
class SourcedBar(Bar):
    """A bar a feed delivers on behalf of another source (e.g. the fallback of a failover
    feed), naming that source: the loop stores it with this provenance, not the feed's."""

    source: str

    @classmethod
    def of(cls, bar: Bar, source: str) -> SourcedBar:
        return cls(bar.symbol, bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume,
                   source)


def bar_source(bar: Bar, feed_name: str) -> str:
    """The source that produced ``bar``, delivered by the feed named ``feed_name``."""
    return bar.source if isinstance(bar, SourcedBar) else feed_name


FeedItem = Bar | None


class BarFeed(Protocol):
    """Completed bars in arrival order; ``name`` is the provenance stored with each bar."""

    name: str

    def bars(self, after: datetime | None) -> Iterator[FeedItem]:
        """Bars (or ``None`` heartbeats) from now on; a replay starts after ``after``."""
        ...


class ReplayFeed:
    """A recorded or simulated session from a ``BarSource``, at full speed, minute by minute.

    Bars of one minute are delivered in ``symbols`` order. With a ``ReplayClock`` the clock is
    moved to each bar's close as it is delivered (and to the resume point's close when a
    restarted session starts), so the loop sees the time a live session would see.
    ``until`` ends the replay before the bar starting then (a partial session).
    """

    def __init__(self, source: BarSource, session: date, symbols: Sequence[str], *,
                 clock: ReplayClock | None = None, extended_hours: bool = False,
                 until: datetime | None = None) -> None:
        self.source = source
        self.session = session
        self.symbols = tuple(symbols)
        self.clock = clock
        self.extended_hours = extended_hours
        self.until = until
        self.name = source.name

    def __repr__(self) -> str:
        return f"ReplayFeed({self.source!r}, session={self.session.isoformat()})"

    def bars(self, after: datetime | None) -> Iterator[FeedItem]:
        """Every bar after ``after``; the source is read now, so a bad file fails here."""
        ordered = self._ordered_bars()
        if self.clock is not None and after is not None:
            self.clock.advance_to(after + BAR)
        return self._deliver(ordered, after)

    def _ordered_bars(self) -> list[Bar]:
        frames = [self.source.fetch_session(BarRequest(s, self.session, self.extended_hours))
                  for s in self.symbols]
        frame = pd.concat(frames, ignore_index=True)
        rank = {s: i for i, s in enumerate(self.symbols)}
        frame = frame.assign(_rank=frame["symbol"].map(rank)).sort_values(
            ["ts", "_rank"], kind="stable")
        return frame_to_bars(frame.drop(columns=["_rank", "source"], errors="ignore"))

    def _deliver(self, bars: list[Bar], after: datetime | None) -> Iterator[FeedItem]:
        for bar in bars:
            if after is not None and bar.ts <= after:
                continue
            if self.until is not None and bar.ts >= self.until:
                return
            if self.clock is not None:
                self.clock.advance_to(bar.ts + BAR)
            yield bar


class StreamFeed:
    """A live stream: any iterable of bars and heartbeats (IB's real-time bars, a queue).

    The stream itself decides when to yield; a real-time adapter yields ``None`` every few
    seconds while no bar completes, so stale data is noticed even when nothing arrives.
    """

    def __init__(self, stream: Iterable[FeedItem], name: str = "live") -> None:
        self._stream = stream
        self.name = name

    def bars(self, after: datetime | None) -> Iterator[FeedItem]:
        for item in self._stream:
            if item is not None and after is not None and item.ts <= after:
                continue
            yield item
