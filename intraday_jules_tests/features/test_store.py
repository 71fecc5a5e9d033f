"""The features table on SQLite and PostgreSQL: exact round trip, idempotent upsert,
all-or-nothing writes with errors naming the partition."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from intraday_jules.db import create_db_engine, upgrade_to_head
from intraday_jules.db.migrate import alembic_config
from intraday_jules.domain.calendar import NEW_YORK
from intraday_jules.features import DEFAULT_SPEC, build_features
from intraday_jules.features.spec import FeatureSpec
from intraday_jules.features.store import (
    FeatureWriteError,
    read_features,
    stored_spec,
    write_features,
)

VERSION = DEFAULT_SPEC.version


@pytest.fixture(scope="module")
def features(rth_bars: pd.DataFrame) -> pd.DataFrame:
    """Two sessions of both symbols (1,560 rows)."""
    day = rth_bars["ts"].dt.tz_convert(NEW_YORK).dt.strftime("%Y-%m-%d")
    return build_features(rth_bars[day.isin(["2025-01-27", "2025-01-28"])])


def _count(engine: Engine, table: str = "features") -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_written_features_read_back_bit_for_bit(db_engine: Engine, features: pd.DataFrame) -> None:
    assert write_features(db_engine, features, partition="2025-01-27..28") == len(features)

    back = read_features(db_engine, VERSION)
    pd.testing.assert_frame_equal(back, features, check_exact=True)
    assert back.attrs["spec_version"] == VERSION
    assert stored_spec(db_engine, VERSION) == DEFAULT_SPEC


def test_reads_filter_by_symbol_and_half_open_time_range(db_engine: Engine,
                                                         features: pd.DataFrame) -> None:
    write_features(db_engine, features, partition="p")
    start, end = pd.Timestamp("2025-01-28T14:30Z"), pd.Timestamp("2025-01-28T15:00Z")
    back = read_features(db_engine, VERSION, symbols=["NVDA"], start=start, end=end)

    expected = features.loc[["NVDA"]]
    ts = expected.index.get_level_values("ts")
    pd.testing.assert_frame_equal(back, expected[(ts >= start) & (ts < end)], check_exact=True)
    assert len(back) == 30
    assert read_features(db_engine, "0" * 64).empty


def test_rewriting_a_partition_leaves_the_same_rows(db_engine: Engine,
                                                    features: pd.DataFrame) -> None:
    for _ in range(3):
        write_features(db_engine, features, partition="p")
    assert _count(db_engine) == len(features)
    assert _count(db_engine, "feature_specs") == 1
    pd.testing.assert_frame_equal(read_features(db_engine, VERSION), features, check_exact=True)


def test_a_corrected_partition_overwrites_in_place(db_engine: Engine,
                                                   features: pd.DataFrame) -> None:
    write_features(db_engine, features, partition="p")
    corrected = features.copy()
    corrected["ret_1"] += 1.0
    corrected["warmup"] = ~corrected["warmup"]
    write_features(db_engine, corrected, partition="p")

    assert _count(db_engine) == len(features)
    pd.testing.assert_frame_equal(read_features(db_engine, VERSION), corrected, check_exact=True)


def _all_nan(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(rsi_14=np.nan)


def _one_inf(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out.iloc[700, out.columns.get_loc("vwap_dist")] = np.inf
    return out


@pytest.mark.parametrize(("mutate", "problem"), [
    (_all_nan, "feature column rsi_14 is entirely NaN"),
    (_one_inf, "feature vwap_dist is inf at symbol MSFT"),
    (lambda f: f.iloc[0:0], "no feature rows"),
    (lambda f: f.drop(columns="hl_range"), "are not the spec's"),
    (lambda f: f[[*reversed(DEFAULT_SPEC.names), "warmup"]], "are not the spec's"),
    (lambda f: pd.concat([f, f.iloc[[3]]]), "duplicate"),
])
def test_a_bad_partition_is_refused_naming_it_and_nothing_is_written(
        db_engine: Engine, features: pd.DataFrame, mutate: Callable[[pd.DataFrame], pd.DataFrame],
        problem: str) -> None:
    with pytest.raises(FeatureWriteError, match=problem) as info:
        write_features(db_engine, mutate(features), partition="2025-01-27|MSFT")
    assert "features partition 2025-01-27|MSFT" in str(info.value)
    assert _count(db_engine) == 0 and _count(db_engine, "feature_specs") == 0


def test_features_of_another_spec_are_refused(db_engine: Engine, features: pd.DataFrame) -> None:
    other = FeatureSpec(DEFAULT_SPEC.features, implementation=2)
    with pytest.raises(FeatureWriteError, match="built with spec"):
        write_features(db_engine, features, other, partition="p")
    renamed = FeatureSpec(DEFAULT_SPEC.features[:-1])
    with pytest.raises(FeatureWriteError, match="add a migration"):
        write_features(db_engine, features, renamed, partition="p")
    assert _count(db_engine) == 0


def test_a_write_the_database_rejects_rolls_back_entirely(pg_url: str,
                                                          features: pd.DataFrame) -> None:
    """PostgreSQL enforces the 16-character symbol column mid-write: nothing may remain."""
    db_engine = create_db_engine(pg_url)
    upgrade_to_head(db_engine)
    long_symbol = features.rename(index={"NVDA": "N" * 17}, level="symbol")
    with pytest.raises(psycopg.errors.DataError) as info:
        write_features(db_engine, long_symbol, partition="2025-01-27|N")
    assert "partition 2025-01-27|N" in "".join(info.value.__notes__)
    assert _count(db_engine) == 0 and _count(db_engine, "feature_specs") == 0
    db_engine.dispose()


def test_migration_creates_the_features_tables_on_its_own_branch(db_engine: Engine) -> None:
    inspector = sa.inspect(db_engine)
    assert {"features", "feature_specs"} <= set(inspector.get_table_names())
    key = inspector.get_pk_constraint("features")["constrained_columns"]
    assert set(key) == {"symbol", "ts", "spec_version"}
    columns = [c["name"] for c in inspector.get_columns("features")]
    assert columns == ["symbol", "ts", "spec_version", *DEFAULT_SPEC.names, "warmup"]
    revision = ScriptDirectory.from_config(alembic_config(db_engine)).get_revision("0003_features")
    assert revision is not None and revision.down_revision == "0001_market_data"
