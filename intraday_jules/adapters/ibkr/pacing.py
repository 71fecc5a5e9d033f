"""A client-side limiter for IB's historical-data pacing rules, with an injectable clock.

IB's rules (TWS API "Historical Data Limitations", pacing violations):
1. no identical historical request within 15 seconds;
2. "six or more historical data requests for the same Contract, Exchange and Tick Type within
   two seconds" is a violation, so at most 5 in any 2 s (``max_per_contract``);
3. no more than 60 requests within any ten minute period.

Breaking one costs error 162 and a penalty pause, so we compute, before each request, the
earliest instant at which it breaks none of them, and sleep until then. Clock and sleep are
injected: tests and the backfill benchmark run on a simulated clock, so a month of pacing
takes milliseconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from intraday_jules.domain.clock import Clock, system_clock

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class PacingRules:
    max_requests: int = 60
    window: timedelta = timedelta(minutes=10)
    identical_gap: timedelta = timedelta(seconds=15)
    max_per_contract: int = 5
    contract_window: timedelta = timedelta(seconds=2)

    def minimum_span_s(self, per_contract_counts: list[int]) -> float:
        """Least time from the first to the last request that the rules allow.

        Each contract needs ``ceil(n / max_per_contract) - 1`` full contract windows, the
        whole batch ``ceil(N / max_requests) - 1`` full windows; the larger bound wins (the
        batch has no identical requests). This is the denominator of the backfill benchmark.
        """
        total = sum(per_contract_counts)
        if total == 0:
            return 0.0
        contract_bound = max(-(-n // self.max_per_contract) - 1 for n in per_contract_counts)
        global_bound = -(-total // self.max_requests) - 1
        return max(contract_bound * self.contract_window.total_seconds(),
                   global_bound * self.window.total_seconds())


@dataclass(frozen=True, slots=True)
class PacedRequest:
    """What the rules look at: the contract/exchange/tick type and the full request identity."""

    contract: Hashable
    identity: Hashable


class PacingLimiter:
    """Waits just long enough before each historical request to respect ``PacingRules``."""

    def __init__(self, rules: PacingRules | None = None, *, clock: Clock = system_clock,
                 sleep: Sleep = time.sleep) -> None:
        self.rules = rules or PacingRules()
        self._clock, self._sleep = clock, sleep
        self._sent: deque[tuple[datetime, PacedRequest]] = deque()
        self._lock = threading.Lock()
        self.total_wait_s = 0.0
        self.requests = 0

    def wait_time(self, request: PacedRequest, now: datetime | None = None) -> float:
        """Seconds until ``request`` may be sent without breaking a rule (0 if now)."""
        now = now or self._clock()
        earliest = now
        for candidate in self._earliest_by_rule(request):
            earliest = max(earliest, candidate)
        return max(0.0, (earliest - now).total_seconds())

    def _earliest_by_rule(self, request: PacedRequest) -> list[datetime]:
        r = self.rules
        sent = list(self._sent)
        out = [t + r.identical_gap for t, p in sent if p.identity == request.identity]
        same = [t for t, p in sent if p.contract == request.contract]
        if len(same) >= r.max_per_contract:
            out.append(same[-r.max_per_contract] + r.contract_window)
        if len(sent) >= r.max_requests:
            out.append(sent[-r.max_requests][0] + r.window)
        return out

    def acquire(self, request: PacedRequest) -> float:
        """Sleep until ``request`` is allowed, then record it as sent; returns seconds waited."""
        with self._lock:
            waited = 0.0
            while (wait := self.wait_time(request)) > 0:
                self._sleep(wait)
                waited += wait
            now = self._clock()
            self._sent.append((now, request))
            self._forget_before(now)
            self.total_wait_s += waited
            self.requests += 1
            return waited

    def _forget_before(self, now: datetime) -> None:
        keep = max(self.rules.window, self.rules.identical_gap, self.rules.contract_window)
        while self._sent and now - self._sent[0][0] >= keep:
            self._sent.popleft()
