"""Clocks: the system's for live trading, a replay clock for running recorded sessions fast.

A replayed session must see the time a live one would have seen (a bar arrives at its close),
yet measure real processing time (decision latency). ``ReplayClock`` does both: the feed moves
it to each bar's close as the bar is delivered, and between moves it runs at the real rate
(``perf_counter``), so ``clock() - bar close`` is exactly the time the loop spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def as_utc(ts: datetime, what: str) -> datetime:
    """``ts`` converted to UTC; a naive timestamp is refused, since its zone would be a guess.

    what: names the timestamp in the error (e.g. "broker event ts"), so a refusal says whose it is.
    """
    if not isinstance(ts, datetime):
        raise ValueError(f"{what} must be a tz-aware UTC datetime, got {ts!r}")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{what} {ts.isoformat()} is naive; need tz-aware UTC")
    return ts.astimezone(UTC)


class ReplayClock:
    """Simulated wall time: jumps forward to each delivered bar's close, then runs in real time.

    start: the time before any bar is delivered (e.g. the session open).
    perf: a monotonic seconds counter (injectable for tests).
    """

    def __init__(self, start: datetime, perf: Callable[[], float] = time.perf_counter) -> None:
        if start.tzinfo is None:
            raise ValueError("ReplayClock needs a tz-aware start")
        self._perf = perf
        self._at = start.astimezone(UTC)
        self._perf_at = perf()

    def __call__(self) -> datetime:
        return self._at + timedelta(seconds=self._perf() - self._perf_at)

    def advance_to(self, ts: datetime) -> None:
        """Time is now ``ts`` (never moves backwards: a late bar does not rewind the clock)."""
        if ts > self():
            self._at = ts.astimezone(UTC)
            self._perf_at = self._perf()
