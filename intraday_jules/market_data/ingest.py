"""Ingestion: the one code path shared by the Dagster asset and ``intraday-jules ingest``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from intraday_jules.domain.calendar import sessions_in_range
from intraday_jules.market_data.failover import Attempt, FailoverSource
from intraday_jules.market_data.source import BarRequest, BarSource
from intraday_jules.market_data.store import BarStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartitionIngest:
    """What ingesting one (symbol, session) did."""

    symbol: str
    session: date
    rows: int
    inserted: int
    updated: int
    unchanged: int
    first_ts: datetime | None
    last_ts: datetime | None
    sources: tuple[str, ...]
    backend: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.inserted + self.updated


def ingest_partition(source: BarSource, store: BarStore, symbol: str, session: date,
                     extended_hours: bool = False) -> PartitionIngest:
    """Fetch one (symbol, session) and upsert it; nothing is written if the batch is refused."""
    request = BarRequest(symbol=symbol, session=session, extended_hours=extended_hours)
    if isinstance(source, FailoverSource):
        frame, attempts = source.fetch_with_attempts(request)
    else:
        frame, attempts = source.fetch_session(request), []
    result = store.upsert(frame, origin=f"{source.name} {request.describe()}")
    log.info("ingested %s: %d rows (%d inserted, %d updated, %d unchanged) from %s",
             request.describe(), result.rows, result.inserted, result.updated, result.unchanged,
             ",".join(result.sources))
    return PartitionIngest(
        symbol=symbol, session=session, rows=result.rows, inserted=result.inserted,
        updated=result.updated, unchanged=result.unchanged, first_ts=result.first_ts,
        last_ts=result.last_ts, sources=result.sources, backend=result.backend,
        attempts=attempts)


def ingest_range(source: BarSource, store: BarStore, symbols: Sequence[str], start: date,
                 end: date, *, extended_hours: bool = False,
                 on_partition: Callable[[PartitionIngest], None] | None = None
                 ) -> list[PartitionIngest]:
    """Ingest every (session, symbol) in [start, end], oldest session first."""
    sessions = sessions_in_range(start, end)
    if not sessions:
        raise ValueError(f"no XNYS sessions between {start.isoformat()} and {end.isoformat()}")
    results = []
    for session in sessions:
        for symbol in symbols:
            result = ingest_partition(source, store, symbol, session, extended_hours)
            results.append(result)
            if on_partition is not None:
                on_partition(result)
    return results
