"""``StoredQualityGate``: the stored blocking verdict the trading loop consults every minute.

Lives with the reports it reads, not with trading: it needs only the stored reports and the
partition keys (``domain.calendar``), and trading sees it through its ``QualityGate`` protocol.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date

from sqlalchemy.engine import Engine

from intraday_jules.domain.calendar import partition_key_for, previous_session
from intraday_jules.quality.reports import blocking_reason, load_latest_report

GATE_CACHE_S = 60.0


class StoredQualityGate:
    """Blocking checks from ``data_quality_reports``, re-read at most once a minute.

    Trading reduces when the previous or the current session's partition of a traded symbol
    has a latest report that failed an ERROR check. A partition without a report yet (today's
    is ingested after the close; a replay of a file never ingested) does not block.
    """

    def __init__(self, engine: Engine, session: date, symbols: Sequence[str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.keys = tuple(partition_key_for(day, symbol)
                          for day in (previous_session(session), session) for symbol in symbols)
        self._clock = clock
        self._cached: tuple[float, str | None] | None = None

    def blocking_failure(self, minute: object) -> str | None:
        """The reason to reduce, whatever the minute (the verdict is per session)."""
        now = self._clock()
        if self._cached is None or now - self._cached[0] >= GATE_CACHE_S:
            self._cached = (now, self._verdict())
        return self._cached[1]

    def _verdict(self) -> str | None:
        for key in self.keys:
            report = load_latest_report(self.engine, partition_key=key)
            if report is not None and report.blocking_failed:
                return blocking_reason(self.engine, key)
        return None
