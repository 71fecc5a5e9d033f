"""BarStore: the one way bars get into and out of ``market_data``.

Writes are idempotent upserts keyed by (symbol, ts): loading the same bars any number of times
leaves the same rows; a corrected vendor bar updates in place (with its new ``source`` and
``ingested_at``); unchanged rows are not rewritten (so re-loads do not bloat PostgreSQL).
Every batch is validated first and written in one transaction: a refused batch writes nothing.

The backend is chosen from the URL and the server, and logged with the reason:
TimescaleDB (extension installed: hypertable + compression), PostgreSQL (psycopg 3: COPY into
a staging table, then INSERT ... ON CONFLICT DO UPDATE; COPY straight into the table when the
batch's key range is empty), or SQLite (WAL, one-transaction executemany upsert).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from intraday_jules.db.engine import Backend, backend_of, create_db_engine
from intraday_jules.db.migrate import upgrade_to_head
from intraday_jules.domain.bars import Bar, bars_to_frame, validate_bars
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.market_data.store import pg_backend, sqlite_backend
from intraday_jules.url_masking import mask_url

log = logging.getLogger(__name__)

_BACKEND_REASONS = {
    "timescaledb": "the timescaledb extension is installed: market_data is a compressed hypertable",
    "postgresql": "PostgreSQL without the timescaledb extension: plain tables, COPY + upsert",
    "sqlite": "SQLite URL (the embedded default): WAL journal, one-transaction upserts",
}


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What one write did: every input row is exactly one of inserted/updated/unchanged."""

    rows: int
    inserted: int
    updated: int
    unchanged: int
    backend: str
    first_ts: datetime | None
    last_ts: datetime | None
    sources: tuple[str, ...]


class BarStore:
    """Idempotent reads and writes of 1-minute bars, whatever the backend."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self.backend: Backend = backend_of(engine)
        self.clock: Clock = clock or system_clock

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, clock: Clock | None = None) -> BarStore:
        """Connect (fail fast, masked URL), bring the schema up to date, log the backend."""
        engine = create_db_engine(url)
        if migrate:
            upgrade_to_head(engine)
        store = cls(engine, clock=clock)
        log.info("BarStore backend %s at %s (%s)", store.backend, mask_url(url),
                 _BACKEND_REASONS[store.backend])
        return store

    @property
    def backend_reason(self) -> str:
        return _BACKEND_REASONS[self.backend]

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"BarStore(backend={self.backend!r}, url={mask_url(self.engine.url)!r})"

    def upsert(self, bars: pd.DataFrame, *, source: str | None = None,
               origin: str = "batch") -> UpsertResult:
        """Validate and write a bars frame (with a ``source`` column, or pass ``source``)."""
        frame = bars if source is None else bars.assign(source=source)
        if "source" not in frame.columns:
            raise ValueError(f"{origin}: every row needs a source (column or source=...)")
        frame = validate_bars(frame, origin)
        bad_source = frame["source"].isna() | (frame["source"].astype(str).str.len() == 0)
        if bad_source.any():
            raise ValueError(f"{origin}: rows without a source; nothing was written")
        ingested_at = self.clock()
        if self.backend == "sqlite":
            inserted, updated = sqlite_backend.upsert(self.engine, frame, ingested_at)
        else:
            inserted, updated = pg_backend.upsert(self.engine, frame, ingested_at)
        return UpsertResult(
            rows=len(frame), inserted=inserted, updated=updated,
            unchanged=len(frame) - inserted - updated, backend=self.backend,
            first_ts=frame["ts"].min().to_pydatetime(), last_ts=frame["ts"].max().to_pydatetime(),
            sources=tuple(sorted(frame["source"].unique())),
        )

    def upsert_bars(self, bars: Sequence[Bar], source: str) -> None:
        """Idempotent upsert of ``Bar`` records on a latency path (the trading loop).

        ``Bar`` validates itself on construction with the same rules as ``validate_bars``, so
        only the batch-level rule is checked here (no duplicate (symbol, ts)); this skips the
        pandas validation of ``upsert``, whose fixed cost is large next to a two-row frame.
        """
        keys = {(b.symbol, b.ts) for b in bars}
        if len(keys) != len(bars):
            raise ValueError(f"duplicate (symbol, ts) among {len(bars)} bars; nothing written")
        if not bars:
            return
        if self.backend == "sqlite":  # straight to the upsert: no frame, no counting
            sqlite_backend.upsert_bars(self.engine, bars, source, self.clock())
            return
        frame = bars_to_frame(list(bars), source=source)
        pg_backend.upsert(self.engine, frame, self.clock())

    def read(self, symbols: Sequence[str] | None = None, start: datetime | None = None,
             end: datetime | None = None, *, with_meta: bool = False) -> pd.DataFrame:
        """Bars with start <= ts < end, sorted by (symbol, ts); with ``source`` (and
        ``ingested_at`` when ``with_meta``)."""
        if self.backend == "sqlite":
            return sqlite_backend.read(self.engine, symbols, start, end, with_meta)
        return pg_backend.read(self.engine, symbols, start, end, with_meta)

    def count(self, symbol: str | None = None, start: datetime | None = None,
              end: datetime | None = None) -> int:
        table = sa.table("market_data", sa.column("symbol"), sa.column("ts"))
        query = sa.select(sa.func.count()).select_from(table)
        query = _where(query, table, [symbol] if symbol else None, start, end, self.backend)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def summary(self) -> pd.DataFrame:
        """Rows, sessions' first/last ts and sources per symbol (for CLI and status screens)."""
        query = sa.text(
            "SELECT symbol, count(*) AS rows, min(ts) AS first_ts, max(ts) AS last_ts, "
            "count(DISTINCT source) AS sources FROM market_data GROUP BY symbol ORDER BY symbol")
        with self.engine.connect() as conn:
            return pd.DataFrame(conn.execute(query).mappings().all(),
                                columns=["symbol", "rows", "first_ts", "last_ts", "sources"])

    def latest_ts(self, symbol: str, source: str | None = None) -> datetime | None:
        """The newest stored bar start for a symbol (optionally from one source)."""
        table = sa.table("market_data", sa.column("symbol"), sa.column("ts"), sa.column("source"))
        query = sa.select(sa.func.max(table.c.ts)).where(table.c.symbol == symbol)
        if source is not None:
            query = query.where(table.c.source == source)
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return _to_datetime(value)


def _to_datetime(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return pd.Timestamp(str(value)).tz_convert("UTC").to_pydatetime()


def _where(query: sa.Select, table: sa.TableClause, symbols: Sequence[str] | None,
           start: datetime | None, end: datetime | None, backend: str) -> sa.Select:
    convert = sqlite_backend.format_ts if backend == "sqlite" else (lambda t: t)
    if symbols:
        query = query.where(table.c.symbol.in_(list(symbols)))
    if start is not None:
        query = query.where(table.c.ts >= convert(start))
    if end is not None:
        query = query.where(table.c.ts < convert(end))
    return query
