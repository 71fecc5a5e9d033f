from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from intraday_jules.domain.bars import (
    Bar,
    BarValidationError,
    bars_to_frame,
    frame_to_bars,
    validate_bars,
)
from intraday_jules_tests.builders import session_bars


def test_valid_frame_is_returned_sorted_and_typed():
    frame = session_bars(n=5).iloc[::-1]
    out = validate_bars(frame, "t")
    assert list(out["ts"]) == sorted(frame["ts"])
    assert str(out["ts"].dtype) == "datetime64[us, UTC]"
    assert out["volume"].dtype == np.int64


@pytest.mark.parametrize(
    ("mutate", "field", "problem"),
    [
        (lambda f: f.assign(close=f["close"].where(f.index != 2, np.nan)), "close", "NaN"),
        (lambda f: f.assign(high=f["high"].where(f.index != 2, 1.0)), "high", "high < low"),
        (lambda f: f.assign(volume=f["volume"].where(f.index != 2, -5)), "volume", ">= 0"),
        (lambda f: f.assign(low=f["low"].where(f.index != 2, 0.0)), "low", "> 0"),
        (lambda f: f.assign(volume=f["volume"].astype(float).where(f.index != 2, 1.5)), "volume",
         "whole number"),
        (lambda f: f.assign(ts=f["ts"].where(f.index != 2, f["ts"] + pd.Timedelta(seconds=30))),
         "ts", "aligned"),
        (lambda f: f.assign(ts=f["ts"].where(f.index != 2, f["ts"].iloc[1])), "ts", "duplicate"),
    ],
)
def test_bad_bar_is_refused_with_symbol_ts_and_field(mutate, field, problem):
    frame = mutate(session_bars(n=5))
    with pytest.raises(BarValidationError) as err:
        validate_bars(frame, "file bars.csv")
    message = str(err.value)
    assert "file bars.csv" in message
    assert "symbol NVDA" in message
    assert f"field {field}" in message
    assert problem in message
    assert "nothing was written" in message
    assert err.value.ts is not None


def test_naive_timestamps_are_refused():
    frame = session_bars(n=3)
    frame["ts"] = frame["ts"].dt.tz_localize(None)
    with pytest.raises(BarValidationError, match="tz-aware"):
        validate_bars(frame, "x")


def test_unknown_layout_and_empty_batches_are_refused():
    with pytest.raises(BarValidationError, match="unknown column layout"):
        validate_bars(session_bars(n=3).rename(columns={"close": "last"}), "x")
    with pytest.raises(BarValidationError, match="empty batch"):
        validate_bars(session_bars(n=3).iloc[:0], "x")


def test_bar_record_validates_itself():
    ts = datetime(2025, 1, 3, 14, 30, tzinfo=UTC)
    with pytest.raises(BarValidationError, match="naive"):
        Bar("NVDA", ts.replace(tzinfo=None), 1, 2, 1, 1, 10)
    with pytest.raises(BarValidationError, match="field high"):
        Bar("NVDA", ts, 1.0, 0.5, 0.9, 1.0, 10)
    with pytest.raises(BarValidationError, match="field volume"):
        Bar("NVDA", ts, 1.0, 1.0, 1.0, 1.0, -1)
    est = timezone(timedelta(hours=-5))
    bar = Bar("NVDA", datetime(2025, 1, 3, 9, 30, tzinfo=est), 1.0, 1.0, 1.0, 1.0, 1)
    assert bar.ts == ts and bar.ts.tzinfo == UTC


def test_bars_round_trip_between_records_and_frames():
    frame = validate_bars(session_bars(n=4, source=None), "x")
    again = bars_to_frame(frame_to_bars(frame))
    pd.testing.assert_frame_equal(frame, again)
