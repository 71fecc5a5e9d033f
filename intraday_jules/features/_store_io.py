"""Backend-specific moves of feature rows: PostgreSQL (binary COPY) and SQLite (executemany).

PostgreSQL: rows are encoded straight into the binary COPY format with numpy (one fixed-size
record per row, grouped by symbol so the text field has one length per group), copied into a
temporary stage and merged with INSERT .. ON CONFLICT DO UPDATE .. WHERE IS DISTINCT FROM.
A per-row ``write_row`` loop in Python would cost more than the database work. Reads use
COPY (SELECT ..) TO STDOUT as CSV with shortest-exact floats, parsed by pyarrow.
SQLite: one executemany of an upsert inside the caller's transaction.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from intraday_jules.db.types import format_sqlite_ts

_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z, PostgreSQL's timestamp origin
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
KEY = ("symbol", "ts", "spec_version")


@dataclass(frozen=True)
class Columns:
    """One checked partition, column-wise: what both backends write."""

    symbol: np.ndarray  # object (str)
    ts_us: np.ndarray  # int64, microseconds since the Unix epoch, UTC
    spec_version: str
    values: dict[str, np.ndarray]  # feature name -> float64
    warmup: np.ndarray  # bool


def _merge_sql(features: tuple[str, ...], source: str, distinct: str) -> str:
    """INSERT .. ON CONFLICT DO UPDATE that skips rows whose values are unchanged.

    ``source``: a SELECT (PostgreSQL stage) or VALUES (SQLite); ``distinct``: the dialect's
    null-safe inequality (IS DISTINCT FROM / IS NOT).
    """
    cols = [*KEY, *features, "warmup"]
    data = [*features, "warmup"]
    assign = ", ".join(f"{c} = excluded.{c}" for c in data)
    old = ", ".join(f"features.{c}" for c in data)
    new = ", ".join(f"excluded.{c}" for c in data)
    return (f"INSERT INTO features ({', '.join(cols)}) {source}"
            f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {assign}"
            f" WHERE ({old}) {distinct} ({new})")


def pg_upsert(conn: Connection, table: Columns, features: tuple[str, ...]) -> None:
    """COPY into a temp stage (dropped at commit), then merge into ``features``."""
    cols = [*KEY, *features, "warmup"]
    conn.exec_driver_sql("CREATE TEMP TABLE features_stage (LIKE features) ON COMMIT DROP")
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(
            f"COPY features_stage ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_COPY_HEADER)
        for chunk in _binary_records(table, features):
            copy.write(chunk)
        copy.write(_COPY_TRAILER)
    stage = f"SELECT {', '.join(cols)} FROM features_stage"
    conn.exec_driver_sql(_merge_sql(features, stage, "IS DISTINCT FROM"))


def _binary_records(table: Columns, features: tuple[str, ...]) -> list[bytes]:
    """Rows in PostgreSQL's binary COPY tuple format, one numpy record array per symbol."""
    version = table.spec_version.encode("ascii")
    chunks = []
    for symbol in pd.unique(table.symbol):
        rows = np.flatnonzero(table.symbol == symbol)
        name = str(symbol).encode("utf-8")
        fields = [("n", ">i2"), ("ls", ">i4"), ("s", f"S{len(name)}"), ("lt", ">i4"),
                  ("t", ">i8"), ("lv", ">i4"), ("v", f"S{len(version)}")]
        fields += [(p, t) for i in range(len(features)) for p, t in
                   ((f"l{i}", ">i4"), (f"f{i}", ">f8"))]
        fields += [("lw", ">i4"), ("w", "u1")]
        rec = np.empty(len(rows), dtype=np.dtype(fields))
        rec["n"], rec["ls"], rec["s"] = 4 + len(features), len(name), name
        rec["lt"], rec["t"] = 8, table.ts_us[rows] - _PG_EPOCH_US
        rec["lv"], rec["v"] = len(version), version
        for i, feature in enumerate(features):
            rec[f"l{i}"], rec[f"f{i}"] = 8, table.values[feature][rows]
        rec["lw"], rec["w"] = 1, table.warmup[rows]
        chunks.append(rec.tobytes())
    return chunks


def sqlite_upsert(conn: Connection, table: Columns, features: tuple[str, ...]) -> None:
    """One executemany of INSERT .. ON CONFLICT DO UPDATE inside the open transaction."""
    n = len(table.symbol)
    ts_text = np.char.add(np.datetime_as_string(table.ts_us.view("M8[us]"), unit="us"), "Z")
    rows = list(zip(table.symbol.tolist(), ts_text.tolist(), [table.spec_version] * n,
                    *(table.values[f].tolist() for f in features),
                    table.warmup.astype(np.int64).tolist(), strict=True))
    marks = ", ".join("?" * (len(KEY) + len(features) + 1))
    conn.exec_driver_sql(_merge_sql(features, f"VALUES ({marks})", "IS NOT"), rows)


def pg_read(conn: Connection, columns: list[str], where: str,
            params: dict[str, Any]) -> pd.DataFrame:
    """COPY (SELECT ..) TO STDOUT as CSV; ts as epoch microseconds, floats shortest-exact."""
    exprs = ["(EXTRACT(EPOCH FROM ts) * 1000000)::bigint" if c == "ts" else
             "warmup::int" if c == "warmup" else c for c in columns]
    query = (f"COPY (SELECT {', '.join(exprs)} FROM features WHERE {where}"
             ' ORDER BY symbol COLLATE "C", ts) TO STDOUT (FORMAT CSV)')  # byte order, as pandas
    conn.exec_driver_sql("SET LOCAL extra_float_digits = 3")
    raw = conn.connection.driver_connection
    assert raw is not None
    buffer = io.BytesIO()
    with raw.cursor() as cur, cur.copy(query, params) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    if not buffer.getbuffer().nbytes:
        return _typed(pd.DataFrame({c: [] for c in columns}), np.array([], dtype=np.int64))
    frame = pd.read_csv(buffer, names=columns, header=None, engine="pyarrow",
                        dtype={"symbol": str})
    return _typed(frame, frame["ts"].to_numpy(dtype=np.int64))


def sqlite_read(conn: Connection, columns: list[str], where: str,
                params: dict[str, Any]) -> pd.DataFrame:
    """Plain SELECT; ts is stored as fixed-width UTC text and parsed back to microseconds."""
    sqlite_params = {k: format_sqlite_ts(v) if hasattr(v, "tzinfo") else v
                     for k, v in params.items()}
    query = f"SELECT {', '.join(columns)} FROM features WHERE {where} ORDER BY symbol, ts"
    raw = conn.connection.driver_connection  # plain tuples: SQLAlchemy Rows cost 10x here
    assert raw is not None
    rows = raw.execute(query, sqlite_params).fetchall()
    frame = pd.DataFrame.from_records(rows, columns=columns)
    text = frame["ts"].to_numpy(dtype=str)
    ts_us = np.char.rstrip(text, "Z").astype("M8[us]").view(np.int64) if len(text) else (
        np.array([], dtype=np.int64))
    return _typed(frame, ts_us)


def _typed(frame: pd.DataFrame, ts_us: np.ndarray) -> pd.DataFrame:
    """Same dtypes as ``build_features``: object symbol, UTC us ts, float64, bool warmup."""
    out = {c: frame[c].to_numpy(dtype=np.float64) for c in frame.columns
           if c not in ("symbol", "ts", "warmup")}
    ts = pd.DatetimeIndex(ts_us.view("M8[us]")).tz_localize("UTC")
    return pd.DataFrame({"symbol": frame["symbol"].to_numpy(dtype=object), "ts": ts, **out,
                         "warmup": frame["warmup"].to_numpy(dtype=np.int64) != 0})
