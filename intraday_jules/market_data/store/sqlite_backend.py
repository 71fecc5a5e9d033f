"""SQLite side of BarStore: one transaction, executemany upsert, ISO-text UTC timestamps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from intraday_jules.db.types import format_sqlite_ts
from intraday_jules.domain.bars import Bar
from intraday_jules.market_data.store.frames import typed_bars

_UPSERT = (
    "INSERT INTO market_data (symbol, ts, open, high, low, close, volume, source, ingested_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (symbol, ts) DO UPDATE SET open = excluded.open, high = excluded.high, "
    "low = excluded.low, close = excluded.close, volume = excluded.volume, "
    "source = excluded.source, ingested_at = excluded.ingested_at "
    "WHERE (market_data.open, market_data.high, market_data.low, market_data.close, "
    "market_data.volume, market_data.source) IS NOT "
    "(excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume, "
    "excluded.source)"
)


def format_ts(value: datetime) -> str:
    return format_sqlite_ts(value)


def ts_strings(ts: pd.Series) -> list[str]:
    """UTC ISO text matching ``format_sqlite_ts`` (2025-01-02T14:30:00.000000Z), vectorised.

    Bars are minute-aligned (validated), so each string is a day prefix plus one of 1,440
    minute suffixes: joining two looked-up strings is much cheaper than formatting every instant.
    """
    us = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    ticks = us.astype(np.int64)
    day, rest = np.divmod(ticks, _US_PER_DAY)
    if len(ticks) == 0 or (rest % _US_PER_MINUTE).any():
        return [s + "Z" for s in np.datetime_as_string(us, unit="us").tolist()]
    first = int(day.min())
    days = [f"{np.datetime64(d, 'D')}T" for d in range(first, int(day.max()) + 1)]
    return [days[d - first] + _MINUTES[m]
            for d, m in zip(day.tolist(), (rest // _US_PER_MINUTE).tolist(), strict=True)]


_US_PER_MINUTE = 60_000_000
_US_PER_DAY = 86_400_000_000
_MINUTES = [f"{m // 60:02d}:{m % 60:02d}:00.000000Z" for m in range(1440)]


def upsert(engine: Engine, frame: pd.DataFrame, ingested_at: datetime) -> tuple[int, int]:
    """Write a validated frame; returns (inserted, updated)."""
    stamp = format_ts(ingested_at)
    ts = ts_strings(frame["ts"])
    rows = list(zip(frame["symbol"].tolist(), ts, frame["open"].tolist(),
                    frame["high"].tolist(), frame["low"].tolist(), frame["close"].tolist(),
                    frame["volume"].tolist(), frame["source"].astype(str).tolist(),
                    [stamp] * len(frame), strict=True))
    symbols = sorted(frame["symbol"].unique())
    lo, hi = format_ts(frame["ts"].min()), format_ts(frame["ts"].max())
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        before = _count_range(raw, symbols, lo, hi)
        changes_before = raw.total_changes
        raw.executemany(_UPSERT, rows)
        changed = raw.total_changes - changes_before
        inserted = _count_range(raw, symbols, lo, hi) - before
    return inserted, changed - inserted


def upsert_bars(engine: Engine, bars: Sequence[Bar], source: str,
                ingested_at: datetime) -> None:
    """``upsert`` of already-validated ``Bar`` records, in one transaction, without a frame
    or the inserted/updated counts (the trading loop's latency path)."""
    stamp = format_ts(ingested_at)
    rows = [(b.symbol, format_ts(b.ts), float(b.open), float(b.high), float(b.low),
             float(b.close), int(b.volume), source, stamp) for b in bars]
    with engine.begin() as conn:
        conn.connection.driver_connection.executemany(_UPSERT, rows)


def _count_range(raw: object, symbols: list[str], lo: str, hi: str) -> int:
    marks = ",".join("?" * len(symbols))
    cur = raw.execute(  # type: ignore[attr-defined]
        f"SELECT count(*) FROM market_data WHERE symbol IN ({marks}) AND ts BETWEEN ? AND ?",
        [*symbols, lo, hi])
    return int(cur.fetchone()[0])


def read(engine: Engine, symbols: Sequence[str] | None, start: datetime | None,
         end: datetime | None, with_meta: bool) -> pd.DataFrame:
    columns = "symbol, ts, open, high, low, close, volume, source"
    if with_meta:
        columns += ", ingested_at"
    clauses, params = [], []
    if symbols:
        clauses.append(f"symbol IN ({','.join('?' * len(symbols))})")
        params.extend(symbols)
    if start is not None:
        clauses.append("ts >= ?")
        params.append(format_ts(start))
    if end is not None:
        clauses.append("ts < ?")
        params.append(format_ts(end))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT {columns} FROM market_data{where} ORDER BY symbol, ts"
    with engine.connect() as conn:
        cur = conn.connection.driver_connection.execute(sql, params)
        frame = pd.DataFrame(cur.fetchall(), columns=[c.strip() for c in columns.split(",")])
    return typed_bars(frame, with_meta)
