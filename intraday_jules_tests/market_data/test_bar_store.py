"""The same store tests on SQLite and on the real PostgreSQL server (``db_url``)."""

from datetime import UTC, date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from intraday_jules.db.engine import DatabaseUnreachable
from intraday_jules.domain.bars import BarValidationError, validate_bars
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.market_data.store import BarStore
from intraday_jules_tests.builders import session_bars

CLOCK = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)


@pytest.fixture
def store(db_url):
    store = BarStore.open(db_url, clock=lambda: CLOCK)
    yield store
    store.close()


def _rows(store: BarStore) -> pd.DataFrame:
    return store.read(with_meta=True)


def test_loading_the_same_bars_three_times_leaves_identical_rows(store):
    bars = session_bars(n=390)
    first = store.upsert(bars)
    snapshot = _rows(store)
    for _ in range(2):
        again = store.upsert(bars)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 390)
    assert (first.inserted, first.updated) == (390, 0)
    pd.testing.assert_frame_equal(_rows(store), snapshot)


def test_corrected_vendor_bar_updates_in_place_with_its_new_source(store):
    bars = session_bars(n=10)
    store.upsert(bars)
    corrected = bars.copy()
    corrected.loc[4, ["close", "high"]] = [200.0, 200.5]
    corrected.loc[4, "source"] = "alpha_vantage"
    result = store.upsert(corrected.iloc[[4]])
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 0)
    rows = store.read()
    assert len(rows) == 10
    row = rows.iloc[4]
    assert (row["close"], row["high"], row["source"]) == (200.0, 200.5, "alpha_vantage")
    assert store.count() == 10


def test_partial_overlap_counts_inserts_updates_and_unchanged(store):
    bars = session_bars(n=20)
    store.upsert(bars.iloc[:10])
    changed = bars.copy()
    changed.loc[0, "volume"] = 99
    result = store.upsert(changed)
    assert (result.inserted, result.updated, result.unchanged) == (10, 1, 9)


def test_a_refused_batch_writes_nothing(store):
    bars = session_bars(n=10)
    bars.loc[7, "high"] = 1.0  # high < low
    with pytest.raises(BarValidationError, match="ts 2025-01-03T14:37:00Z"):
        store.upsert(bars, origin="vendor batch")
    assert store.count() == 0


def test_rows_without_source_are_refused(store):
    with pytest.raises(ValueError, match="source"):
        store.upsert(session_bars(n=3, source=None))


def test_two_months_of_realistic_bars_round_trip_exactly(store, sim_minute_file):
    bars = ReplaySource(sim_minute_file).bars
    store.upsert(bars)
    got = store.read()
    pd.testing.assert_frame_equal(got, validate_bars(bars, "expected"))
    january = store.read(["MSFT"], start=datetime(2025, 1, 1, tzinfo=UTC),
                         end=datetime(2025, 2, 1, tzinfo=UTC))
    msft = bars[bars["symbol"] == "MSFT"]
    assert set(january["symbol"]) == {"MSFT"}
    assert len(january) == (msft["ts"] < pd.Timestamp("2025-02-01", tz="UTC")).sum() > 0
    assert january["ts"].max() < pd.Timestamp("2025-02-01", tz="UTC")
    nvda_last = bars.loc[bars["symbol"] == "NVDA", "ts"].max()
    assert store.latest_ts("NVDA") == nvda_last.to_pydatetime()


def test_ingested_at_comes_from_the_injected_clock(store):
    store.upsert(session_bars(n=2))
    assert set(_rows(store)["ingested_at"]) == {pd.Timestamp(CLOCK)}


def test_backend_is_detected_and_logged(db_url, caplog):
    caplog.set_level("INFO", logger="intraday_jules")
    store = BarStore.open(db_url)
    expected = "sqlite" if db_url.startswith("sqlite") else ("postgresql", "timescaledb")
    assert store.backend in expected
    assert f"BarStore backend {store.backend}" in caplog.text
    store.close()


def test_migrations_are_idempotent_and_never_drop(db_url):
    store = BarStore.open(db_url)
    store.upsert(session_bars(n=5))
    store.close()
    again = BarStore.open(db_url)  # migrates again
    assert again.count() == 5
    tables = set(sa.inspect(again.engine).get_table_names())
    assert {"market_data", "data_quality_reports", "alembic_version"} <= tables
    again.close()


def test_unreachable_database_fails_fast_with_masked_url():
    with pytest.raises(DatabaseUnreachable) as err:
        BarStore.open("postgresql://trader:hunter2@127.0.0.1:1/market")
    assert "hunter2" not in str(err.value)
    assert "trader:***@127.0.0.1:1/market" in str(err.value)


def test_summary_lists_rows_per_symbol(store):
    store.upsert(session_bars("NVDA", n=5))
    store.upsert(session_bars("MSFT", date(2025, 1, 6), n=3, price=400))
    summary = store.summary().set_index("symbol")
    assert summary.loc["NVDA", "rows"] == 5 and summary.loc["MSFT", "rows"] == 3
