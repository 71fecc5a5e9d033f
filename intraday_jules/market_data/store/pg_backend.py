"""PostgreSQL / TimescaleDB side of BarStore (psycopg 3).

Write path, chosen per batch:
- *fast path*: when no stored row falls in the batch's (symbols, ts range), COPY straight into
  ``market_data`` (a first load is pure inserts; the primary key still guards against races:
  a unique violation rolls back and the batch is retried on the upsert path);
- *upsert path*: COPY into a temporary staging table, then one
  ``INSERT ... ON CONFLICT (symbol, ts) DO UPDATE ... WHERE (...) IS DISTINCT FROM (...)``;
  the guard keeps unchanged rows from being rewritten (no table bloat on re-loads) and
  ``RETURNING (xmax = 0)`` tells inserts from updates.
Rows are serialised once to CSV by pyarrow (C++), which is faster than ``DataFrame.to_csv``;
doubles are written in shortest round-trip form, so values are exact.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy.engine import Engine

from intraday_jules.market_data.store.frames import typed_bars

_COLUMNS = "symbol, ts, open, high, low, close, volume, source, ingested_at"
_STAGE = "market_data_stage"
_MERGE = f"""
WITH up AS (
  INSERT INTO market_data AS m ({_COLUMNS})
  SELECT {_COLUMNS} FROM {_STAGE}
  ON CONFLICT (symbol, ts) DO UPDATE SET
    open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    volume = EXCLUDED.volume, source = EXCLUDED.source, ingested_at = EXCLUDED.ingested_at
  WHERE (m.open, m.high, m.low, m.close, m.volume, m.source)
    IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close,
                      EXCLUDED.volume, EXCLUDED.source)
  RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
"""


def to_csv_bytes(frame: pd.DataFrame, ingested_at: datetime | None) -> bytes:
    """Serialise a validated bars frame (with source) as CSV without header for COPY."""
    table = pa.Table.from_pandas(
        frame[["symbol", "ts", "open", "high", "low", "close", "volume", "source"]],
        preserve_index=False)
    if ingested_at is not None:
        stamp = pa.array([pd.Timestamp(ingested_at)] * len(frame), pa.timestamp("us", tz="UTC"))
        table = table.append_column("ingested_at", stamp)
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def upsert(engine: Engine, frame: pd.DataFrame, ingested_at: datetime) -> tuple[int, int]:
    """Write a validated frame; returns (inserted, updated)."""
    payload = to_csv_bytes(frame, ingested_at)
    symbols = sorted(frame["symbol"].unique())
    lo, hi = frame["ts"].min().to_pydatetime(), frame["ts"].max().to_pydatetime()
    with engine.connect() as sa_conn:
        conn: psycopg.Connection = sa_conn.connection.driver_connection
        sa_conn.commit()  # start from a clean transaction state
        if not _range_occupied(conn, symbols, lo, hi):
            try:
                with conn.transaction():
                    _copy(conn, "market_data", payload)
                return len(frame), 0
            except psycopg.errors.UniqueViolation:
                pass  # a concurrent writer got there first: fall through to the upsert path
        with conn.transaction():
            conn.execute(f"CREATE TEMP TABLE {_STAGE} (LIKE market_data INCLUDING DEFAULTS) "
                         "ON COMMIT DROP")
            _copy(conn, _STAGE, payload)
            inserted, updated = conn.execute(_MERGE).fetchone()  # type: ignore[misc]
        return int(inserted), int(updated)


def _range_occupied(conn: psycopg.Connection, symbols: list[str], lo: datetime,
                    hi: datetime) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM market_data WHERE symbol = ANY(%s) AND ts BETWEEN %s AND %s)",
        (symbols, lo, hi)).fetchone()
    conn.commit()
    return bool(row and row[0])


def _copy(conn: psycopg.Connection, table: str, payload: bytes) -> None:
    with conn.cursor().copy(f"COPY {table} ({_COLUMNS}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(payload)


def read(engine: Engine, symbols: Sequence[str] | None, start: datetime | None,
         end: datetime | None, with_meta: bool) -> pd.DataFrame:
    """COPY ... TO STDOUT then parse: much faster than pd.read_sql on large reads."""
    columns = ["symbol", "ts", "open", "high", "low", "close", "volume", "source"]
    if with_meta:
        columns.append("ingested_at")
    clauses, params = [], []
    if symbols:
        clauses.append("symbol = ANY(%s)")
        params.append(list(symbols))
    if start is not None:
        clauses.append("ts >= %s")
        params.append(start)
    if end is not None:
        clauses.append("ts < %s")
        params.append(end)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    select_cols = ", ".join(
        f"to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        if c in ("ts", "ingested_at") else c for c in columns)
    buf = io.BytesIO()
    with engine.connect() as sa_conn:
        conn: psycopg.Connection = sa_conn.connection.driver_connection
        cur = psycopg.ClientCursor(conn)  # COPY cannot take server-side parameters
        query = cur.mogrify(f"SELECT {select_cols} FROM market_data{where} ORDER BY symbol, ts",
                            params)
        with cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                buf.write(block)
    buf.seek(0)
    if buf.getbuffer().nbytes == 0:
        return _empty(columns)
    frame = pd.read_csv(buf, header=None, names=columns, dtype={"symbol": str, "source": str},
                        engine="pyarrow")
    return typed_bars(frame, with_meta)


def _empty(columns: list[str]) -> pd.DataFrame:
    return typed_bars(pd.DataFrame({c: [] for c in columns}), "ingested_at" in columns)
