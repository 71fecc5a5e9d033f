"""A client-side limiter that spaces Alpha Vantage calls within the plan's budget.

Why client-side: the vendor answers an over-budget call with HTTP 200 and a throttle message,
and on the free tier every refused call still counts. Waiting before the call is cheaper than
learning afterwards. Windows are rolling (the last 60 s, the last 24 h): the vendor does not
document when its day resets, and a rolling day never spends more than the budget in any 24 h.

The clock and sleep are injected so tests run a day of calls in microseconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MINUTE_S = 60.0
DAY_S = 86_400.0


class RateBudgetExhausted(Exception):
    """Calling now would exceed the budget and waiting would take longer than allowed."""

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class RateLimiter:
    """``acquire()`` before each call: sleeps until the call fits, or raises.

    - at most ``calls_per_minute`` calls in any 60 s and ``calls_per_day`` in any 24 h;
    - at least ``min_interval_s`` between two calls (the vendor's burst limit);
    - never sleeps longer than ``max_wait_s`` for one call: raises ``RateBudgetExhausted``
      instead (a spent daily budget is hours away; failover should move on now).
    """

    def __init__(self, calls_per_minute: int, calls_per_day: int, *, min_interval_s: float = 0.0,
                 max_wait_s: float = 75.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if calls_per_minute <= 0 or calls_per_day <= 0:
            raise ValueError("rate limits must be positive")
        self.calls_per_minute = calls_per_minute
        self.calls_per_day = calls_per_day
        self.min_interval_s = min_interval_s
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._sleep = sleep
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait until one more call fits the budget, record it, return the seconds waited."""
        with self._lock:
            now = self._clock()
            wait, why = self._wait_needed(now)
            if wait > self.max_wait_s:
                raise RateBudgetExhausted(why, wait)
            if wait > 0:
                self._sleep(wait)
                now = self._clock()
            self._calls.append(now)
            return wait

    def remaining_today(self) -> int:
        with self._lock:
            self._forget_before(self._clock() - DAY_S)
            return self.calls_per_day - len(self._calls)

    def _forget_before(self, horizon: float) -> None:
        while self._calls and self._calls[0] <= horizon:
            self._calls.popleft()

    def _wait_needed(self, now: float) -> tuple[float, str]:
        self._forget_before(now - DAY_S)
        waits = [(0.0, "")]
        if len(self._calls) >= self.calls_per_day:
            oldest = self._calls[len(self._calls) - self.calls_per_day]
            waits.append((oldest + DAY_S - now,
                          f"the client budget of {self.calls_per_day} calls per day is spent"))
        in_minute = [t for t in self._calls if t > now - MINUTE_S]
        if len(in_minute) >= self.calls_per_minute:
            oldest = in_minute[len(in_minute) - self.calls_per_minute]
            waits.append((oldest + MINUTE_S - now,
                          f"{self.calls_per_minute} calls per minute"))
        if self._calls:
            waits.append((self._calls[-1] + self.min_interval_s - now,
                          f"at least {self.min_interval_s} s between calls"))
        return max(waits, key=lambda w: w[0])
