"""Range backfill: many (symbol, session) requests, surviving connection loss.

The unit of progress is one completed session: it is handed to ``on_session_done`` exactly
once, in order. When the gateway goes away mid-range, the backfill reconnects with backoff and
resumes with the first session not yet handed over, so the result has no duplicate and no gap
whatever the number of drops. Sessions are interleaved across symbols (NVDA day 1, MSFT day 1,
NVDA day 2, ...) because IB's per-contract pacing rule (at most 5 requests per contract in 2 s)
then never binds before the global one does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from intraday_jules.adapters.ibkr.config import Backoff
from intraday_jules.domain.calendar import sessions_in_range
from intraday_jules.market_data.source import BarRequest, SourceUnavailable

if TYPE_CHECKING:
    from intraday_jules.adapters.ibkr.data.historical import IbkrSource

logger = logging.getLogger(__name__)
SessionDone = Callable[[BarRequest, pd.DataFrame], None]


def plan_backfill(symbols: Sequence[str], start: date, end: date, *,
                  extended_hours: bool = False) -> list[BarRequest]:
    """One request per (session, symbol) in [start, end], sessions oldest first, interleaved."""
    return [BarRequest(symbol, session, extended_hours)
            for session in sessions_in_range(start, end) for symbol in symbols]


@dataclass(slots=True)
class BackfillReport:
    """What a backfill did: delivered sessions in order, bars, reconnects, requests sent."""

    completed: list[BarRequest] = field(default_factory=list)
    bars: int = 0
    reconnects: int = 0
    requests_sent: int = 0


def run_backfill(source: IbkrSource, requests: Sequence[BarRequest], on_session_done: SessionDone,
                 backoff: Backoff, sleep: Callable[[float], None]) -> BackfillReport:
    """Deliver every request's bars once, in order; see the module docstring.

    Raises ``SourceUnavailable`` when the gateway stays unreachable for ``backoff.attempts``
    reconnects in a row (the message says where to resume); other ``SourceError``s propagate
    at once, after the sessions before them were delivered.
    """
    report = BackfillReport()
    sent_before = source.requests_sent
    failures = 0
    index = 0
    while index < len(requests):
        request = requests[index]
        try:
            frame = source.fetch_session(request)
        except SourceUnavailable as exc:
            failures += 1
            if failures > backoff.attempts:
                raise _gave_up(request, exc, report, len(requests)) from None
            _reconnect(source, request, exc, backoff.delay(failures - 1), sleep)
            report.reconnects += 1
            continue
        failures = 0
        on_session_done(request, frame)
        report.completed.append(request)
        report.bars += len(frame)
        index += 1
    report.requests_sent = source.requests_sent - sent_before
    return report


def _reconnect(source: IbkrSource, request: BarRequest, exc: SourceUnavailable, delay: float,
               sleep: Callable[[float], None]) -> None:
    logger.warning("ibkr backfill: %s; reconnecting in %.1f s, then resuming at %s",
                   exc.reason, delay, request.describe())
    sleep(delay)
    try:
        source.reconnect()
    except SourceUnavailable as again:
        logger.warning("ibkr backfill: reconnect failed: %s", again.reason)


def _gave_up(request: BarRequest, exc: SourceUnavailable, report: BackfillReport,
             total: int) -> SourceUnavailable:
    return SourceUnavailable(
        exc.source, request, f"{exc.reason}; gave up after {report.reconnects} reconnects with "
        f"{len(report.completed)} of {total} sessions delivered; resume from "
        f"{request.describe()}")
