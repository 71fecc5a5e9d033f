"""``BarStore.upsert_bars`` (the trading loop's latency path) stores exactly what ``upsert``
stores for the same bars, on SQLite and PostgreSQL, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from intraday_jules.domain.bars import frame_to_bars
from intraday_jules.market_data.store import BarStore
from intraday_jules_tests.builders import session_bars

CLOCK = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)


def test_upsert_bars_stores_what_upsert_stores(db_url: str) -> None:
    frame = pd.concat([session_bars("NVDA", n=30, source="feed"),
                       session_bars("MSFT", n=30, price=400.0, source="feed")],
                      ignore_index=True)
    by_frame = BarStore.open(db_url, clock=lambda: CLOCK)
    try:
        by_frame.upsert(frame)
        expected = by_frame.read(with_meta=True)
    finally:
        by_frame.close()
    fresh = db_url.replace("intraday_jules.db", "rows.db") if db_url.startswith("sqlite") \
        else None
    if fresh is None:  # PostgreSQL: reuse the database after emptying the table
        store = BarStore.open(db_url, clock=lambda: CLOCK)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM market_data")
    else:
        store = BarStore.open(fresh, clock=lambda: CLOCK)
    try:
        bars = frame_to_bars(frame.drop(columns=["source"]))
        for k in range(0, len(bars), 2):  # as the loop writes them: a minute at a time
            store.upsert_bars(bars[k:k + 2], "feed")
        store.upsert_bars(bars[:4], "feed")  # idempotent
        pd.testing.assert_frame_equal(store.read(with_meta=True), expected)
    finally:
        store.close()
