"""A simulated clock whose ``sleep`` advances time instead of waiting.

Hand ``clock.now`` and ``clock.sleep`` to the pacing limiter / ``IbkrSource`` and ``clock.now``
to the fake gateway, and a backfill that would pace itself for minutes runs in milliseconds,
while the gateway still timestamps (and, with ``enforce_pacing``, polices) every request on
the same simulated time line.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class SimulatedClock:
    """Thread-safe simulated UTC time; ``sleep(s)`` moves it forward by ``s`` seconds."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a tz-aware start")
        self._now = start
        self._lock = threading.Lock()
        self.slept_s = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep {seconds} s")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self.slept_s += seconds
            self.sleeps.append(seconds)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta
