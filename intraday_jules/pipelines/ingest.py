"""Ingestion: the one code path shared by the Dagster asset and ``intraday-jules ingest``.

For one (symbol, session): fetch (with failover and per-row provenance) -> data-quality checks
from the ``market_data`` contract -> quarantine the rows the contract lets us set aside ->
idempotent upsert of the clean rows -> the report stored in ``data_quality_reports``. A batch
that fails parsing or validation writes nothing; a failed ERROR check is recorded and blocks
the partition downstream (features, training, trading), it does not hide the data.

``price_scale_plausible`` compares the session with the symbol's last stored close (read here,
from the store, before anything is written). Rows of a replay file that the request does not
take (other symbols, outside the session window, weekends and holidays) are counted and named
in the result, the stored report and the log (``skipped_rows``).

The checks see the rows this run fetched. Re-fetching a session returns the whole session, so
that is the stored partition; rows stored earlier but absent from a later fetch are kept and
not re-checked until the next full fetch.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from intraday_jules.domain.calendar import (
    partition_key_for,
    previous_session,
    session_window,
)
from intraday_jules.domain.clock import Clock
from intraday_jules.market_data.failover import Attempt, FailoverSource
from intraday_jules.market_data.replay import ReplaySource, SkippedRows
from intraday_jules.market_data.source import BarRequest, BarSource, SourceError
from intraday_jules.market_data.store import BarStore, UpsertResult
from intraday_jules.observability.pipeline_push import (
    CheckOutcome,
    IngestOutcome,
    push_ingest,
    push_quality,
)
from intraday_jules.quality import (
    BARS_ASSET_KEY,
    QualityReport,
    run_with_quarantine,
    store_report,
    write_quarantine,
)
from intraday_jules.quality.base import PriceReference

BAR_LENGTH = timedelta(minutes=1)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QualityGate:
    """How ingestion checks a partition: contract, clock for staleness, cross-vendor source."""

    contract: Any = "market_data"
    clock: Clock | None = None
    cross_source: BarSource | None = None
    run_id: str | None = None
    #: Symbols the deployment trades (settings.symbols): rows of any other symbol in a replay
    #: file are reported as ``unknown_symbol``. None: only the partition's symbol is known.
    known_symbols: tuple[str, ...] | None = None
    #: also run the contract through Great Expectations (the same checks' second engine,
    #: ~1 s a partition); the positive control turns it off for speed
    use_gx: bool = True


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
    #: Source rows this partition's request did not take (``SkippedRows.to_json()``).
    skipped: dict[str, Any] = field(default_factory=dict)

    @property
    def skipped_rows(self) -> int:
        return int(self.skipped.get("rows", 0))

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
    skipped = SkippedRows.none()
    if gate is not None:
        skipped = partition_skipped_rows(source, symbol, session, extended_hours,
                                         gate.known_symbols or (symbol,))
        report, split = run_with_quarantine(
            frame, contract=gate.contract, symbols=[symbol], sessions=[session],
            extended_hours=extended_hours, now=gate.clock() if gate.clock else None,
            other_source_bars=_other_source_bars(gate, request),
            price_history=stored_price_history(store, [symbol], session), use_gx=gate.use_gx)
        if skipped.count:
            report = replace(report, skipped=skipped.to_json())
        frame, quarantined = split.clean, split.quarantined
        write_quarantine(store.engine, quarantined, partition_key=key, run_id=gate.run_id)
    if skipped.count:
        log.warning("%s: %s", key, skipped.describe())
    result = _upsert(store, frame, f"{source.name} {request.describe()}")
    if report is not None:
        store_report(store.engine, report, partition_key=key, asset_key=BARS_ASSET_KEY,
                     run_id=gate.run_id if gate else None)
    log.info("ingested %s: %d rows (%d inserted, %d updated, %d unchanged, %d quarantined,"
             " %d skipped)", request.describe(), result.rows, result.inserted, result.updated,
             result.unchanged, len(quarantined), skipped.count)
    return PartitionIngest(
        symbol=symbol, session=session, rows=result.rows, inserted=result.inserted,
        updated=result.updated, unchanged=result.unchanged, first_ts=result.first_ts,
        last_ts=result.last_ts, sources=result.sources, backend=result.backend,
        attempts=attempts, quarantined=len(quarantined), report=report,
        skipped=skipped.to_json() if skipped.count else {})


def replay_sources(source: BarSource) -> list[ReplaySource]:
    """The replay file(s) behind a source (itself, or inside a failover chain)."""
    inner = source.sources if isinstance(source, FailoverSource) else [source]
    return [s for s in inner if isinstance(s, ReplaySource)]


def skipped_rows(source: BarSource, symbols: Iterable[str], first: date, last: date, *,
                 extended_hours: bool, configured: Iterable[str] = (),
                 include_not_requested: bool = True) -> SkippedRows:
    """Rows of the source's replay file(s) dated first..last that requests for ``symbols``
    do not take, with why; none for sources that only answer what is asked (vendors)."""
    symbols, configured = list(symbols), list(configured)
    return SkippedRows.concat(
        r.skipped_rows(symbols, first, last, extended_hours=extended_hours,
                       configured=configured, include_not_requested=include_not_requested)
        for r in replay_sources(source))


def partition_skipped_rows(source: BarSource, symbol: str, session: date, extended_hours: bool,
                           known: Iterable[str]) -> SkippedRows:
    """What one (session, symbol) partition reports as not taken: the symbol's rows outside
    the session window, its rows on the closed days since the previous session, and rows of
    unknown symbols on those days (other known symbols are their own partitions' business)."""
    if not replay_sources(source):
        return SkippedRows.none()
    try:
        first = previous_session(session) + timedelta(days=1)
    except Exception:  # before the calendar's first session: the session day alone
        first = session
    return skipped_rows(source, [symbol], first, session, extended_hours=extended_hours,
                        configured=known, include_not_requested=False)


def stored_price_history(store: BarStore, symbols: Iterable[str],
                         before: date) -> dict[str, PriceReference]:
    """Per symbol, the last stored close before session ``before`` (the reference of the
    ``price_scale_plausible`` check); symbols with no stored bar before it are left out."""
    table = sa.table("market_data", sa.column("symbol"), sa.column("ts"), sa.column("close"))
    start = session_window(before).extended_open
    bound: Any = start
    if store.backend == "sqlite":
        from intraday_jules.market_data.store.sqlite_backend import format_ts

        bound = format_ts(start)
    out: dict[str, PriceReference] = {}
    with store.engine.connect() as conn:
        for symbol in symbols:
            row = conn.execute(
                sa.select(table.c.ts, table.c.close)
                .where(table.c.symbol == symbol, table.c.ts < bound)
                .order_by(table.c.ts.desc()).limit(1)).first()
            if row is None or row.close is None:
                continue
            ts = row.ts if isinstance(row.ts, datetime) else pd.Timestamp(str(row.ts))
            ts = pd.Timestamp(ts).tz_convert(UTC) if pd.Timestamp(ts).tzinfo else pd.Timestamp(
                ts).tz_localize(UTC)
            day = ts.tz_convert("America/New_York").date()
            out[symbol] = PriceReference(session=day, close=float(row.close))
    return out


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




def check_outcomes(report: QualityReport | None) -> list[CheckOutcome]:
    """(check, severity, passed) of every check of ``report`` (none without a report)."""
    return [] if report is None else [(c.name, str(c.severity), c.passed) for c in report.checks]


def ingest_outcome(result: PartitionIngest) -> IngestOutcome:
    """What the metrics report of one ingested partition."""
    return IngestOutcome(
        symbol=result.symbol, source=",".join(result.sources) or "none",
        rows_written=result.written,
        newest_bar=result.last_ts + BAR_LENGTH if result.last_ts is not None else None,
        checks=tuple(check_outcomes(result.report)))


def push_ingest_metrics(gateway_url: str | None, deployment: str,
                        results: Iterable[PartitionIngest]) -> None:
    """Push the ingest of each symbol of ``results`` (one partition from the Dagster asset,
    a range from ``intraday-jules ingest``) to the Pushgateway, one group per symbol.
    Nothing without a gateway; a failed push is logged, never raised."""
    by_symbol: dict[str, list[IngestOutcome]] = defaultdict(list)
    for result in results:
        by_symbol[result.symbol].append(ingest_outcome(result))
    for symbol, outcomes in by_symbol.items():
        push_ingest(gateway_url, deployment=deployment, symbol=symbol, outcomes=outcomes)


def symbol_check_outcomes(report: QualityReport, symbol: str) -> list[CheckOutcome]:
    """The checks of a range report as they concern ``symbol``: a failed check failed for it
    when one of its kept failures names it or names no symbol (a frame-wide problem), or
    when it kept none to say."""
    outcomes = []
    for check in report.checks:
        named = {f.symbol for f in check.failures}
        concerns = not check.failures or symbol in named or None in named
        outcomes.append((check.name, str(check.severity), check.passed or not concerns))
    return outcomes


def push_quality_metrics(gateway_url: str | None, deployment: str, report: QualityReport,
                         symbols: Sequence[str]) -> None:
    """Push a range check (``intraday-jules quality``) to the Pushgateway, one group per
    symbol. Nothing without a gateway; a failed push is logged, never raised."""
    for symbol in symbols:
        push_quality(gateway_url, deployment=deployment, symbol=symbol,
                     outcomes=symbol_check_outcomes(report, symbol))
