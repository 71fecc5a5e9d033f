"""5-second real-time bars -> 1-minute bars, released only once the minute is over.

IB's ``reqRealTimeBars`` sends one 5-second bar after each 5-second interval ends, stamped
with the interval's start. A minute is over when its last bucket (second 55) arrives, or
when a bar of a later minute arrives. It is *complete* only if all twelve buckets were seen;
a minute joined late (subscription or reconnect mid-minute) is reported as incomplete so the
caller can fetch it from historical data instead of emitting a bar built from part of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from intraday_jules.domain.bars import Bar

BUCKETS = 12
BUCKET_S = 5


@dataclass(frozen=True, slots=True)
class FiveSecondBar:
    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class ClosedMinute:
    """A minute that is over: ``bar`` is None when some of its 5-second bars were missed."""

    minute: datetime
    bar: Bar | None


class MinuteAggregator:
    """Accumulates one symbol's 5-second bars into minutes."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._minute: datetime | None = None
        self._parts: dict[int, FiveSecondBar] = {}
        self._closed_through: datetime | None = None

    def add(self, part: FiveSecondBar) -> list[ClosedMinute]:
        """Feed one 5-second bar; returns the minutes this closes (oldest first)."""
        start = part.start.astimezone(UTC)
        minute = start.replace(second=0, microsecond=0)
        if self._closed_through is not None and minute <= self._closed_through:
            return []  # late bar of a minute already released
        out: list[ClosedMinute] = []
        if self._minute is not None and minute > self._minute:
            out.append(self._close())
        if self._minute is None:
            self._minute = minute
        self._parts[start.second // BUCKET_S] = part
        if start.second // BUCKET_S == BUCKETS - 1:
            out.append(self._close())
        return out

    def reset(self) -> None:
        """Forget the forming minute (its earlier buckets may have been lost with the data)."""
        self._minute = None
        self._parts = {}

    def _close(self) -> ClosedMinute:
        assert self._minute is not None
        minute, parts = self._minute, [self._parts[k] for k in sorted(self._parts)]
        self._closed_through = minute
        self.reset()
        if len(parts) < BUCKETS:
            return ClosedMinute(minute, None)
        bar = Bar(symbol=self.symbol, ts=minute, open=parts[0].open,
                  high=max(p.high for p in parts), low=min(p.low for p in parts),
                  close=parts[-1].close, volume=round(sum(p.volume for p in parts)))
        return ClosedMinute(minute, bar)
