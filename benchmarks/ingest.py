"""Ingestion benchmark: BarStore vs a raw COPY of the same rows into a bare table.

    python -m benchmarks.ingest                  # PostgreSQL (INTRADAY_JULES_TEST_PG_URL)
    python -m benchmarks.ingest --backend sqlite

PostgreSQL: loads >= 1,000,000 bars through BarStore (first load, then an identical re-load,
then a re-load with 1% of rows corrected) into a fresh database and, in the same run, times a
raw psycopg COPY of the same rows (pyarrow CSV, the same serialisation) into an unkeyed table:
the limit. Last line: {"benchmark": "ingest_pg", "rows", "rows_per_s", "copy_limit_rows_per_s",
"ratio", ...} with ratio = first-load rows_per_s / limit (target >= 0.5; re-load reported too).
SQLite: same loads; target >= 200,000 rows/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from benchmarks._common import emit_result, synthetic_bars, timer
from intraday_jules.db.engine import normalise_url
from intraday_jules.market_data.store import BarStore
from intraday_jules.market_data.store.pg_backend import to_csv_bytes
from intraday_jules.testing.databases import DEFAULT_TEST_PG_URL, temporary_pg_database


def _loads(store: BarStore, bars: Any) -> dict[str, float]:
    """First load, identical re-load, 1%-corrected re-load; rows/s for each."""
    out: dict[str, float] = {}
    with timer() as first:
        result = store.upsert(bars)
    assert result.inserted == len(bars), result
    out["rows_per_s"] = len(bars) / first()
    with timer() as reload:
        result = store.upsert(bars)
    assert result.unchanged == len(bars), result
    out["reload_rows_per_s"] = len(bars) / reload()
    corrected = bars.copy()
    corrected.loc[corrected.index[::100], "volume"] += 1
    with timer() as changed:
        result = store.upsert(corrected)
    assert result.updated == len(bars[::100]), result
    out["reload_1pct_changed_rows_per_s"] = len(bars) / changed()
    return out


def _copy_limit(url: str, bars: Any) -> float:
    """Rows/s of a raw COPY (same pyarrow CSV serialisation) into a table with no key."""
    conninfo = normalise_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE bare (symbol text, ts timestamptz, open float8, high float8,"
                     " low float8, close float8, volume bigint, source text, ingested_at"
                     " timestamptz)")
        conn.execute("CHECKPOINT")
        with timer() as elapsed, conn.transaction():
            payload = to_csv_bytes(bars, ingested_at=bars["ts"].iloc[0].to_pydatetime())
            with conn.cursor().copy("COPY bare FROM STDIN (FORMAT csv)") as copy:
                copy.write(payload)
        count = conn.execute("SELECT count(*) FROM bare").fetchone()[0]
    assert count == len(bars)
    return len(bars) / elapsed()


def _checkpoint(url: str) -> None:
    conninfo = normalise_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def bench_pg(rows: int) -> dict[str, Any]:
    bars = synthetic_bars(rows)
    server = os.environ.get("INTRADAY_JULES_TEST_PG_URL", DEFAULT_TEST_PG_URL)
    with temporary_pg_database(server, prefix="ij_bench") as url:
        limit = _copy_limit(url, bars)
        _checkpoint(url)
        store = BarStore.open(url)
        try:
            loads = _loads(store, bars)
            backend = store.backend
        finally:
            store.close()
    return {"benchmark": "ingest_pg", "rows": len(bars), "backend": backend, **loads,
            "copy_limit_rows_per_s": limit, "ratio": loads["rows_per_s"] / limit,
            "reload_ratio": loads["reload_rows_per_s"] / limit, "target_ratio": 0.5}


def bench_sqlite(rows: int) -> dict[str, Any]:
    bars = synthetic_bars(rows)
    with tempfile.TemporaryDirectory() as tmp:
        store = BarStore.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            loads = _loads(store, bars)
        finally:
            store.close()
    return {"benchmark": "ingest_sqlite", "rows": len(bars), "backend": "sqlite", **loads,
            "target_rows_per_s": 200_000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    result = bench_pg(args.rows) if args.backend == "pg" else bench_sqlite(args.rows)
    for key, value in result.items():
        if key.endswith("_per_s"):
            print(f"{key:34s} {value:12,.0f}")
        elif "ratio" in key:
            print(f"{key:34s} {value:12.2f}")
    emit_result({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
