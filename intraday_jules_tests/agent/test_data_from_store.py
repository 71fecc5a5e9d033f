"""Training and evaluation data from the stored feature rows equal the data built from bars,
bit for bit, on SQLite and PostgreSQL; missing, stale or other-spec rows are refused by name."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from intraday_jules.agent import DateWindow, PreparedData, prepare_data
from intraday_jules.agent.data import cut_to_window
from intraday_jules.domain.calendar import NEW_YORK, partition_key_for
from intraday_jules.features import DEFAULT_SPEC, build_features
from intraday_jules.features.coverage import MissingFeaturesError
from intraday_jules.features.spec import FeatureSpec
from intraday_jules.features.store import read_feature_frame, write_features
from intraday_jules.pipelines.features import session_bars_window

SYMBOLS = ("NVDA", "MSFT")
TRAIN = DateWindow(date(2025, 1, 2), date(2025, 1, 7))  # 4 sessions
VALIDATION = DateWindow(date(2025, 1, 10), date(2025, 1, 13))  # 2 sessions (1-9: closed)


@pytest.fixture(scope="module")
def bars(real_bars: pd.DataFrame) -> pd.DataFrame:
    """Seven sessions of simulated NVDA + MSFT minutes, extended hours included (the features
    keep regular hours only, so the stored rows are a subset of the bars' minutes)."""
    return cut_to_window(real_bars, DateWindow(TRAIN.start, VALIDATION.end))


def sessions(bars: pd.DataFrame) -> list[date]:
    return sorted(set(bars["ts"].dt.tz_convert(NEW_YORK).dt.date))


def store_partitions(engine: Engine, bars: pd.DataFrame, spec: FeatureSpec = DEFAULT_SPEC,
                     skip: tuple[str, ...] = ()) -> None:
    """What the features/feature_table asset stores: per (session, symbol) partition, the
    features of that partition's bars, written with the table's writer."""
    for day in sessions(bars):
        start, end = session_bars_window(day, spec.hours == "extended")
        for symbol in SYMBOLS:
            key = partition_key_for(day, symbol)
            part = bars[(bars["symbol"] == symbol) & (bars["ts"] >= start) & (bars["ts"] < end)]
            if key not in skip:
                write_features(engine, build_features(part, spec), spec, partition=key)


def assert_same_data(built: PreparedData, stored: PreparedData) -> None:
    a, b = built.arrays, stored.arrays
    for field in ("features", "open", "close", "ts", "session", "warmup"):
        left, right = getattr(a, field), getattr(b, field)
        assert left.dtype == right.dtype and np.array_equal(left, right), field
    assert a.features.view(np.uint32).tobytes() == b.features.view(np.uint32).tobytes()
    assert a.session_dates == b.session_dates and a.symbols == b.symbols
    assert ({s: n.to_dict() for s, n in built.normalizers.items()}
            == {s: n.to_dict() for s, n in stored.normalizers.items()})
    assert built.data_hashes == stored.data_hashes
    assert (built.features_from, stored.features_from) == ("bars", "stored rows")


def test_training_and_evaluation_data_from_stored_rows_are_bit_identical(
        db_engine: Engine, bars: pd.DataFrame) -> None:
    store_partitions(db_engine, bars)
    rows = read_feature_frame(db_engine, DEFAULT_SPEC, bars, symbols=SYMBOLS, origin="store")
    fresh = build_features(bars)
    assert not fresh[list(DEFAULT_SPEC.names)].isna().any().any()  # nothing for NaN to hide
    pd.testing.assert_index_equal(rows.index, fresh.index, exact=False)
    assert np.array_equal(rows.to_numpy(np.float64).view(np.uint64),
                          fresh.to_numpy(np.float64).view(np.uint64))  # float8/REAL: exact
    built = prepare_data(bars, train_window=TRAIN, symbols=SYMBOLS)
    stored = prepare_data(bars, train_window=TRAIN, symbols=SYMBOLS, features=rows)
    assert_same_data(built, stored)
    # Evaluation: the validation window's bars, normalised with the model's statistics.
    held_out = cut_to_window(bars, VALIDATION)
    rows = read_feature_frame(db_engine, DEFAULT_SPEC, held_out, symbols=SYMBOLS)
    assert set(rows.index.get_level_values("ts").tz_convert(NEW_YORK).date) == {
        date(2025, 1, 10), date(2025, 1, 13)}  # rows of other sessions are not read
    common = {"train_window": None, "symbols": SYMBOLS, "normalizers": built.normalizers}
    assert_same_data(prepare_data(held_out, **common),  # type: ignore[arg-type]
                     prepare_data(held_out, features=rows, **common))  # type: ignore[arg-type]


def test_partitions_without_rows_are_named_and_nothing_is_recomputed(
        db_engine: Engine, bars: pd.DataFrame) -> None:
    store_partitions(db_engine, bars, skip=("2025-01-06|MSFT", "2025-01-13|NVDA"))
    with pytest.raises(MissingFeaturesError) as info:
        read_feature_frame(db_engine, DEFAULT_SPEC, bars, symbols=SYMBOLS, origin="the bar store")
    message = str(info.value)
    assert message.startswith("the bar store: the features table does not cover the bars")
    assert ("materialise features/feature_table for partitions 2025-01-06|MSFT, "
            "2025-01-13|NVDA first") in message
    assert info.value.partitions == ("2025-01-06|MSFT", "2025-01-13|NVDA")
    # The same rows handed to prepare_data directly are refused the same way.
    rows = read_feature_frame(db_engine, DEFAULT_SPEC, cut_to_window(bars, TRAIN),
                              symbols=("NVDA",))
    with pytest.raises(MissingFeaturesError, match=r"2025-01-06\|MSFT"):
        prepare_data(cut_to_window(bars, TRAIN), train_window=TRAIN, symbols=SYMBOLS,
                     features=rows)


def test_rows_of_other_minutes_or_another_spec_are_refused(db_engine: Engine,
                                                           bars: pd.DataFrame) -> None:
    store_partitions(db_engine, bars)
    with db_engine.begin() as conn:  # one minute of one partition lost: the bars changed since
        first = conn.execute(sa.text("SELECT min(ts) FROM features WHERE symbol = 'NVDA'"))
        conn.execute(sa.text("DELETE FROM features WHERE symbol = 'NVDA' AND ts = :ts"),
                     {"ts": first.scalar()})
    with pytest.raises(MissingFeaturesError, match=r"not the bars' minutes .* 2025-01-02\|NVDA"):
        read_feature_frame(db_engine, DEFAULT_SPEC, bars, symbols=SYMBOLS)
    other = FeatureSpec(DEFAULT_SPEC.features, implementation=2)
    with pytest.raises(MissingFeaturesError) as info:
        read_feature_frame(db_engine, other, bars, symbols=SYMBOLS)
    assert f"other spec version(s) {DEFAULT_SPEC.version[:12]}" in str(info.value)
    assert len(info.value.missing) == 2 * len(sessions(bars))
    rows = read_feature_frame(db_engine, DEFAULT_SPEC, cut_to_window(bars, VALIDATION),
                              symbols=SYMBOLS)
    with pytest.raises(ValueError, match=f"rows are of spec {DEFAULT_SPEC.version[:12]}"):
        prepare_data(cut_to_window(bars, VALIDATION), train_window=VALIDATION,
                     symbols=SYMBOLS, spec=other, features=rows)
