"""Building ``MarketArrays`` from bars and features frames: alignment, sessions, errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intraday_jules.domain.calendar import NEW_YORK, session_window, sessions_in_range
from intraday_jules.env import DualTickerTradingEnv, TradingEnvConfig
from intraday_jules.env.data import MarketArrays, MarketArraysError, WindowTooShortError
from intraday_jules.env.synthetic import synthetic_market_arrays
from intraday_jules_tests.env.builders import frames_from_arrays

LOOKBACK = 50


def _build(bars: pd.DataFrame, feats: pd.DataFrame, arrays: MarketArrays,
           **kwargs: object) -> MarketArrays:
    return MarketArrays.from_frames(bars, feats, arrays.symbols, arrays.feature_names,
                                    **kwargs)  # type: ignore[arg-type]


def test_from_frames_reproduces_the_arrays_it_was_built_from(arrays: MarketArrays) -> None:
    bars, feats = frames_from_arrays(arrays)
    built = _build(bars.sample(frac=1.0, random_state=0), feats.sample(frac=1.0, random_state=1),
                   arrays)
    np.testing.assert_array_equal(built.features, arrays.features)
    np.testing.assert_array_equal(built.open, arrays.open)
    np.testing.assert_array_equal(built.close, arrays.close)
    np.testing.assert_array_equal(built.ts, arrays.ts)
    np.testing.assert_array_equal(built.session, arrays.session)
    assert built.session_dates == arrays.session_dates


def test_a_timestamp_missing_for_one_symbol_is_dropped_for_all(arrays: MarketArrays) -> None:
    bars, feats = frames_from_arrays(arrays)
    gone = bars["ts"].iloc[100]
    bars = bars[~((bars["symbol"] == "MSFT") & (bars["ts"] == gone))]
    built = _build(bars, feats, arrays)
    assert built.n_bars == arrays.n_bars - 1
    assert np.datetime64(gone.tz_convert(None), "us") not in built.ts


def test_warmup_is_true_where_any_symbol_is_warming_up(arrays: MarketArrays) -> None:
    bars, feats = frames_from_arrays(arrays)
    row = ("MSFT", pd.Timestamp(arrays.ts[200]).tz_localize("UTC"))
    feats.loc[row, "warmup"] = True
    assert _build(bars, feats, arrays).warmup.nonzero()[0].tolist() == [200]


def test_non_finite_feature_outside_warmup_is_refused_naming_symbol_ts_and_feature(
        arrays: MarketArrays) -> None:
    bars, feats = frames_from_arrays(arrays)
    ts = pd.Timestamp(arrays.ts[300]).tz_localize("UTC")
    feats.loc[("NVDA", ts), "f03"] = np.nan
    with pytest.raises(MarketArraysError, match=r"f03 is not finite for NVDA at 2025-01-02"):
        _build(bars, feats, arrays)


def test_nan_feature_inside_warmup_becomes_zero(arrays: MarketArrays) -> None:
    bars, feats = frames_from_arrays(arrays)
    ts = pd.Timestamp(arrays.ts[3]).tz_localize("UTC")
    feats.loc[("NVDA", ts), ["f03", "warmup"]] = [np.nan, True]
    assert _build(bars, feats, arrays).features[3, 0, 3] == 0.0


def test_missing_feature_column_is_refused_by_name(arrays: MarketArrays) -> None:
    bars, feats = frames_from_arrays(arrays)
    with pytest.raises(MarketArraysError, match=r"lacks columns \['f11'\]"):
        _build(bars, feats.drop(columns=["f11"]), arrays)


def test_window_shorter_than_the_lookback_gives_a_clear_error() -> None:
    tiny = synthetic_market_arrays(n_sessions=2, bars_per_session=40)
    bars, feats = frames_from_arrays(tiny)
    with pytest.raises(WindowTooShortError, match=r"longest session has 40 bars.*lookback 50"):
        _build(bars, feats, tiny)


def test_bars_outside_regular_hours_are_dropped_and_half_days_end_at_1300_et() -> None:
    # 2025-11-28 is a half day (close 13:00 ET); bars run 09:00-15:59 ET as if extended.
    early = synthetic_market_arrays(n_sessions=1, bars_per_session=420,
                                    first_session=date(2025, 11, 28))
    shifted = early.ts - np.timedelta64(30, "m")  # start at 09:00 ET
    arrays = MarketArrays(**{**{f: getattr(early, f) for f in early.__slots__}, "ts": shifted})
    bars, feats = frames_from_arrays(arrays)
    built = _build(bars, feats, arrays)
    window = session_window(date(2025, 11, 28))
    assert built.n_bars == 210
    assert built.timestamps()[0] == window.open
    assert built.timestamps()[-1] == window.close - pd.Timedelta(minutes=1)


def test_select_and_between_cut_symbols_and_whole_sessions(arrays: MarketArrays) -> None:
    msft = arrays.select(["MSFT"])
    np.testing.assert_array_equal(msft.close[:, 0], arrays.close[:, 1])
    middle = arrays.between(arrays.session_dates[1], arrays.session_dates[1])
    assert middle.n_bars == 390
    assert middle.session_dates == (arrays.session_dates[1],)
    np.testing.assert_array_equal(middle.open, arrays.open[390:780])


def _stand_in_features(bars: pd.DataFrame) -> pd.DataFrame:
    """Simple returns over 1..12 bars per symbol and ET day, warm-up = the day's first 50 bars
    (pre-market included, so warm-up mostly ends before the regular open)."""
    bars = bars.sort_values(["symbol", "ts"])
    day = bars["ts"].dt.tz_convert(NEW_YORK).dt.date
    groups = bars.groupby([bars["symbol"], day])["close"]
    out = pd.DataFrame({f"ret_{k}": groups.pct_change(k) for k in range(1, 13)})
    out["warmup"] = (groups.cumcount() < LOOKBACK).to_numpy()
    out.index = pd.MultiIndex.from_frame(bars[["symbol", "ts"]])
    return out


def test_two_months_of_nvda_msft_bars_align_on_regular_hours_sessions(
        sim_minute_file: Path) -> None:
    bars = pd.read_csv(sim_minute_file)  # 04:00-20:00 ET, like a vendor's extended-hours file
    bars["ts"] = pd.to_datetime(bars["ts"], utc=True)
    feats = _stand_in_features(bars)  # extended hours too: from_frames must drop them
    names = [f"ret_{k}" for k in range(1, 13)]
    arrays = MarketArrays.from_frames(bars, feats, ["NVDA", "MSFT"], names)
    sessions = sessions_in_range(date(2025, 1, 2), date(2025, 2, 28))
    assert len(sessions) == 39  # XNYS sessions of Jan-Feb 2025, 390 regular bars each
    assert arrays.session_dates == tuple(sessions)
    assert arrays.n_bars == 39 * 390
    starts, stops = arrays.session_bounds()
    assert set((stops - starts).tolist()) == {390}
    assert arrays.timestamps()[starts[5]] == session_window(arrays.session_dates[5]).open
    keyed = bars.set_index(["symbol", "ts"])
    for t in (60, 4000, 15209):
        ts = arrays.timestamps()[t]
        for i, symbol in enumerate(arrays.symbols):
            assert arrays.open[t, i] == keyed.loc[(symbol, ts), "open"]
            assert arrays.close[t, i] == keyed.loc[(symbol, ts), "close"]
            expected = feats.loc[(symbol, ts), names].to_numpy(np.float32)
            np.testing.assert_array_equal(arrays.features[t, i], expected)
    env = DualTickerTradingEnv(arrays, TradingEnvConfig(episode_length=None))
    assert env.n_decisions == 39 * (390 - LOOKBACK - 5)
