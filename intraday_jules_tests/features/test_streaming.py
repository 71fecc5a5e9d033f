"""The streaming form of every feature (``features.streaming``) is the batch form, bit for bit.

``build_features`` (vectorised over months) and ``SegmentFeatures`` (one bar at a time) are the
one formula of each feature in two forms; these tests are the proof that they agree exactly,
over every session of the simulated months (extended hours included, so the hours filter is
exercised) and, where the recorded bars are present, over the recorded ones.
``SessionStreams`` (several symbols of one session, the trading loop's feature state) must
give, at every minute, the rows ``build_features`` gives over the same bars.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intraday_jules.domain.calendar import session_window
from intraday_jules.features import (
    DEFAULT_SPEC,
    FeatureInputError,
    OutOfOrder,
    SegmentFeatures,
    SessionStreams,
    build_features,
    streams,
)
from intraday_jules.market_data.replay import read_bars_file

RECORDED_FILE = "nvda_msft_1min_2025-01-02_2025-02-28.csv"
NAMES = list(DEFAULT_SPEC.names)


def stepped_segments(bars: pd.DataFrame) -> int:
    """Step every (symbol, session) of ``bars`` through ``SegmentFeatures`` and assert each
    row equals ``build_features``' bytes; the number of segments checked."""
    full = build_features(bars, DEFAULT_SPEC)
    days = full.index.get_level_values("ts").tz_convert("America/New_York").date
    symbols = full.index.get_level_values("symbol")
    ohlcv = bars.set_index(["symbol", "ts"])[["open", "high", "low", "close", "volume"]]
    segments = 0
    for symbol, day in sorted(set(zip(symbols, days, strict=True))):
        rows = full[(symbols == symbol) & (days == day)]
        window = session_window(day)
        segment = SegmentFeatures(DEFAULT_SPEC, pd.Timestamp(window.open).value // 1000,
                                  pd.Timestamp(window.close).value // 1000)
        values = ohlcv.loc[rows.index].to_numpy(np.float64)
        stamps = rows.index.get_level_values("ts").as_unit("us").asi8
        stepped = np.array([segment.step(int(t), *map(float, bar))
                            for t, bar in zip(stamps, values, strict=True)])
        assert stepped.tobytes() == rows[NAMES].to_numpy(np.float64).tobytes(), (symbol, day)
        segments += 1
    return segments


def test_streaming_equals_build_features_bit_for_bit_on_every_simulated_session(
        all_hours_bars: pd.DataFrame) -> None:
    assert streams(DEFAULT_SPEC)
    assert stepped_segments(all_hours_bars) == 2 * 39


@pytest.mark.recorded_data
def test_streaming_equals_build_features_bit_for_bit_on_every_recorded_session(
        market_dir: Path) -> None:
    assert stepped_segments(read_bars_file(market_dir / RECORDED_FILE)) == 2 * 39


def session_of(bars: pd.DataFrame, day: str) -> pd.DataFrame:
    local = bars["ts"].dt.tz_convert("America/New_York").dt.date.astype(str)
    return bars[local == day].sort_values(["ts", "symbol"]).reset_index(drop=True)


def test_session_streams_give_build_features_rows_at_every_minute(
        all_hours_bars: pd.DataFrame) -> None:
    """Pre-market bars skipped, and minutes where one symbol has no bar (that symbol's
    positions lag the other's): each minute's matrix and warm flag are the batch's."""
    bars = session_of(all_hours_bars, "2025-02-03")
    opening = pd.Timestamp(session_window(pd.Timestamp("2025-02-03").date()).open)
    stamps = bars["ts"]
    regular = stamps[stamps >= opening].unique()
    dropped = (bars["symbol"] == "MSFT") & stamps.isin(regular[[0, 120, 121]])
    bars = bars[~dropped].reset_index(drop=True)
    stream = SessionStreams(DEFAULT_SPEC, ("NVDA", "MSFT"))
    used = [stream.add(r.symbol, r.ts.value // 1000, r.open, r.high, r.low, r.close,
                       float(r.volume)) for r in bars.itertuples()]
    full = build_features(bars, DEFAULT_SPEC)
    assert sum(used) == len(full) == stream.rows_computed
    both = full.index.get_level_values("ts").value_counts()
    checked = 0
    for ts in sorted(both.index[both == 2]):
        matrix, warm = stream.at(ts.value // 1000)
        rows = full.loc[[("NVDA", ts), ("MSFT", ts)]]
        assert matrix.tobytes() == rows[NAMES].to_numpy(np.float64).tobytes(), ts
        assert warm is not bool(rows["warmup"].any())
        checked += 1
    assert checked == 390 - 3
    with pytest.raises(KeyError, match="MSFT"):
        stream.at(regular[120].value // 1000)


def test_session_streams_refuse_what_the_build_cannot_take(
        all_hours_bars: pd.DataFrame) -> None:
    bars = session_of(all_hours_bars, "2025-02-03")
    regular = bars[bars["ts"] >= pd.Timestamp(session_window(
        pd.Timestamp("2025-02-03").date()).open)]
    first, second = (regular.iloc[i] for i in (0, 2))
    stream = SessionStreams(DEFAULT_SPEC, ("NVDA", "MSFT"), origin="test bars")

    def add(row: pd.Series, **changes: float) -> bool:
        values = {k: float(row[k]) for k in ("open", "high", "low", "close", "volume")}
        values |= changes
        return stream.add(str(row["symbol"]), pd.Timestamp(row["ts"]).value // 1000,
                          values["open"], values["high"], values["low"], values["close"],
                          values["volume"])

    assert add(second) and not stream.add("AAPL", 0, 1.0, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(OutOfOrder):
        add(first)
    later = second.copy()
    later["ts"] = second["ts"] + pd.Timedelta(minutes=2)
    with pytest.raises(FeatureInputError, match="close must be a finite price") as caught:
        add(later, close=np.nan)
    assert caught.value.symbol == second["symbol"] and caught.value.field == "close"
    next_day = session_of(all_hours_bars, "2025-02-04")
    late = next_day[next_day["ts"] >= regular["ts"].iloc[0] + pd.Timedelta(days=1)].iloc[0]
    with pytest.raises(FeatureInputError, match="two sessions"):
        add(late)
