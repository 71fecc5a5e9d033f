"""Ingestion: the one code path shared by the Dagster asset and ``intraday-jules ingest``.

For one (symbol, session): fetch (with failover and per-row provenance) -> data-quality checks
from the ``market_data`` contract -> quarantine the rows the contract lets us set aside ->
idempotent upsert of the clean rows -> the report stored in ``data_quality_reports``. A batch
that fails parsing or validation writes nothing; a failed ERROR check is recorded and blocks
the partition downstream (features, training, trading), it does not hide the data.

The checks see the rows this run fetched. Re-fetching a session returns the whole session, so
that is the stored partition; rows stored earlier but absent from a later fetch are kept and
not re-checked until the next full fetch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from intraday_jules.domain.calendar import sessions_in_range
from intraday_jules.market_data.failover import Attempt, FailoverSource
from intraday_jules.market_data.source import BarRequest, BarSource, SourceError
from intraday_jules.market_data.store import BarStore, UpsertResult
from intraday_jules.quality import (
    BARS_ASSET_KEY,
    QualityReport,
    run_with_quarantine,
    store_report,
    write_quarantine,
)

log = logging.getLogger(__name__)


def partition_key_for(session: date, symbol: str) -> str:
    """The Dagster multi-partition key string ("2025-03-12|NVDA"), also used by the CLI."""
    return f"{session.isoformat()}|{symbol}"


@dataclass(frozen=True)
class QualityGate:
    """How ingestion checks a partition: contract, clock for staleness, cross-vendor source."""

    contract: Any = "market_data"
    clock: Callable[[], datetime] | None = None
    cross_source: BarSource | None = None
    run_id: str | None = None


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
    quarantined: int = 0
    report: QualityReport | None = None

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    @property
    def partition_key(self) -> str:
        return partition_key_for(self.session, self.symbol)

    @property
    def blocking_failed(self) -> list[str]:
        return [] if self.report is None else [c.name for c in self.report.checks if c.blocking]


def fetch_partition(source: BarSource, request: BarRequest) -> tuple[pd.DataFrame, list[Attempt]]:
    if isinstance(source, FailoverSource):
        return source.fetch_with_attempts(request)
    return source.fetch_session(request), []


def ingest_partition(source: BarSource, store: BarStore, symbol: str, session: date,
                     extended_hours: bool = False, *,
                     gate: QualityGate | None = None) -> PartitionIngest:
    """Fetch one (symbol, session), check it, upsert it; nothing is written if refused."""
    request = BarRequest(symbol=symbol, session=session, extended_hours=extended_hours)
    frame, attempts = fetch_partition(source, request)
    report, quarantined = None, frame.iloc[0:0]
    key = partition_key_for(session, symbol)
    if gate is not None:
        report, split = run_with_quarantine(
            frame, contract=gate.contract, symbols=[symbol], sessions=[session],
            extended_hours=extended_hours, now=gate.clock() if gate.clock else None,
            other_source_bars=_other_source_bars(gate, request))
        frame, quarantined = split.clean, split.quarantined
        write_quarantine(store.engine, quarantined, partition_key=key, run_id=gate.run_id)
    result = _upsert(store, frame, f"{source.name} {request.describe()}")
    if report is not None:
        store_report(store.engine, report, partition_key=key, asset_key=BARS_ASSET_KEY,
                     run_id=gate.run_id if gate else None)
    log.info("ingested %s: %d rows (%d inserted, %d updated, %d unchanged, %d quarantined)",
             request.describe(), result.rows, result.inserted, result.updated,
             result.unchanged, len(quarantined))
    return PartitionIngest(
        symbol=symbol, session=session, rows=result.rows, inserted=result.inserted,
        updated=result.updated, unchanged=result.unchanged, first_ts=result.first_ts,
        last_ts=result.last_ts, sources=result.sources, backend=result.backend,
        attempts=attempts, quarantined=len(quarantined), report=report)


def _upsert(store: BarStore, frame: pd.DataFrame, origin: str) -> UpsertResult:
    if frame.empty:  # everything was quarantined: nothing to write, say so
        return UpsertResult(rows=0, inserted=0, updated=0, unchanged=0, backend=store.backend,
                            first_ts=None, last_ts=None, sources=())
    return store.upsert(frame, origin=origin)


def _other_source_bars(gate: QualityGate, request: BarRequest) -> pd.DataFrame | None:
    """Bars from the cross-check vendor for the same window, or None if it cannot answer."""
    if gate.cross_source is None:
        return None
    try:
        return gate.cross_source.fetch_session(request)
    except SourceError as exc:
        log.info("cross-vendor check skipped for %s: %s", request.describe(), exc)
        return None


def ingest_range(source: BarSource, store: BarStore, symbols: Sequence[str], start: date,
                 end: date, *, extended_hours: bool = False, gate: QualityGate | None = None,
                 on_partition: Callable[[PartitionIngest], None] | None = None
                 ) -> list[PartitionIngest]:
    """Ingest every (session, symbol) in [start, end], oldest session first."""
    sessions = sessions_in_range(start, end)
    if not sessions:
        raise ValueError(f"no XNYS sessions between {start.isoformat()} and {end.isoformat()}")
    results = []
    for session in sessions:
        for symbol in symbols:
            result = ingest_partition(source, store, symbol, session, extended_hours, gate=gate)
            results.append(result)
            if on_partition is not None:
                on_partition(result)
    return results
