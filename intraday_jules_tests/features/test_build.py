"""build_features: matches a slow reference, per-session and per-symbol independence,
warm-up, hours, and clear errors for bad input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest

from intraday_jules.domain.calendar import NEW_YORK
from intraday_jules.features import DEFAULT_SPEC, FeatureInputError, build_features
from intraday_jules.features.spec import FeatureSpec

from .conftest import regular_hours, synthetic_session
from .reference import NAMES, slow_features

Mutation = Callable[[pd.DataFrame], pd.DataFrame]


def _sessions(frame: pd.DataFrame, days: list[str]) -> pd.DataFrame:
    local_day = frame["ts"].dt.tz_convert(NEW_YORK).dt.strftime("%Y-%m-%d")
    return frame[local_day.isin(days)].reset_index(drop=True)


def _assert_matches_reference(bars: pd.DataFrame) -> pd.DataFrame:
    ours = build_features(bars)
    slow = slow_features(bars)
    assert list(ours.index) == list(slow.index)
    for name in NAMES:
        np.testing.assert_allclose(ours[name].to_numpy(), slow[name].to_numpy(dtype=float),
                                   rtol=1e-9, atol=1e-12, err_msg=name)
    assert (ours["warmup"].to_numpy() == slow["warmup"].to_numpy(dtype=bool)).all()
    return ours


def test_realistic_bars_of_two_symbols_and_three_sessions_match_the_slow_reference(
        rth_bars: pd.DataFrame) -> None:
    bars = _sessions(rth_bars, ["2025-01-24", "2025-01-27", "2025-01-28"])  # over a weekend
    ours = _assert_matches_reference(bars)
    assert len(ours) == 2 * 3 * 390


def test_half_day_and_dst_change_sessions_match_the_slow_reference(
        five_minute_bars: pd.DataFrame) -> None:
    """5-minute bars: 2025-07-03 closes at 13:00; 2025-11-03 opens at 14:30Z, not 13:30Z."""
    bars = _sessions(five_minute_bars, ["2025-07-02", "2025-07-03", "2025-10-31", "2025-11-03"])
    ours = _assert_matches_reference(bars)
    half_day = ours.xs("NVDA", level="symbol").loc["2025-07-03"]
    assert len(half_day) == 42
    assert half_day["session_time"].iloc[-1] == pytest.approx(41 / 42)


def test_synthetic_edge_cases_match_the_slow_reference() -> None:
    """Zero volume at the open (VWAP undefined), a flat-volume stretch (zero variance), a
    session shorter than the warm-up."""
    bars = pd.concat([synthetic_session("AAA", date(2025, 3, 3), seed=1),
                      synthetic_session("AAA", date(2025, 3, 4), seed=2, n=30),
                      synthetic_session("BBB", date(2025, 3, 3), seed=3, price=7.5)])
    ours = _assert_matches_reference(bars)
    first = ours.xs("AAA", level="symbol").iloc[0]
    assert first["vwap_dist"] == 0.0 and first["volume_z"] == 0.0


def test_output_is_indexed_by_symbol_and_ts_with_spec_columns_then_warmup(
        rth_bars: pd.DataFrame) -> None:
    bars = _sessions(rth_bars, ["2025-02-03"])
    features = build_features(bars)

    assert list(features.index.names) == ["symbol", "ts"]
    assert features.index.is_monotonic_increasing and features.index.is_unique
    assert list(features.columns) == [*DEFAULT_SPEC.names, "warmup"]
    assert all(features[n].dtype == np.float64 for n in DEFAULT_SPEC.names)
    assert features["warmup"].dtype == bool
    assert str(features.index.get_level_values("ts").tz) == "UTC"
    assert features.attrs["spec_version"] == DEFAULT_SPEC.version
    assert np.isfinite(features[list(DEFAULT_SPEC.names)].to_numpy()).all()


def test_first_lookback_bars_of_every_session_and_symbol_are_warmup(
        rth_bars: pd.DataFrame) -> None:
    features = build_features(_sessions(rth_bars, ["2025-02-03", "2025-02-04"]))
    day = features.index.get_level_values("ts").tz_convert(NEW_YORK).date
    keys = [features.index.get_level_values("symbol"), day]
    position = features.groupby(keys).cumcount().to_numpy()

    assert (features["warmup"].to_numpy() == (position < 50)).all()
    assert features["warmup"].sum() == 2 * 2 * 50


def test_a_session_never_sees_the_previous_session(rth_bars: pd.DataFrame) -> None:
    """Overnight gaps are not returns: a session's features are identical with or without
    the sessions before it."""
    two = build_features(_sessions(rth_bars, ["2025-01-24", "2025-01-27"]))
    alone = build_features(_sessions(rth_bars, ["2025-01-27"]))
    pd.testing.assert_frame_equal(two.loc[alone.index], alone, check_exact=True)


def test_a_symbol_never_sees_another_symbol(rth_bars: pd.DataFrame) -> None:
    bars = _sessions(rth_bars, ["2025-01-27", "2025-01-28"])
    both = build_features(bars)
    msft = build_features(bars[bars["symbol"] == "MSFT"])
    pd.testing.assert_frame_equal(both.loc[msft.index], msft, check_exact=True)


def test_row_order_of_the_input_does_not_matter(rth_bars: pd.DataFrame) -> None:
    bars = _sessions(rth_bars, ["2025-01-27", "2025-01-28"])
    shuffled = bars.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(build_features(shuffled), build_features(bars),
                                  check_exact=True)


def test_bars_outside_regular_hours_are_dropped_unless_the_spec_says_extended(
        all_hours_bars: pd.DataFrame) -> None:
    bars = _sessions(all_hours_bars, ["2025-01-27"])
    regular = build_features(bars)
    pd.testing.assert_frame_equal(regular, build_features(regular_hours(bars)),
                                  check_exact=True)
    extended_spec = FeatureSpec(DEFAULT_SPEC.features, hours="extended")
    extended = build_features(bars, extended_spec)
    assert len(regular) == 2 * 390 < len(extended) == len(bars)
    assert extended["session_time"].min() < 0.0 < 1.0 < extended["session_time"].max()


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda b: b.iloc[0:0], "no bars"),
    (lambda b: b.drop(columns="volume"), "missing columns"),
    (lambda b: b.assign(close=np.nan), "close must be a finite price"),
    (lambda b: b.assign(ts=b["ts"].dt.tz_localize(None)), "tz-aware"),
    (lambda b: pd.concat([b, b.iloc[[7]]]), "duplicate"),
    (lambda b: b.assign(volume=-1), "volume must be finite and >= 0"),
    (lambda b: b.assign(open=0.0), "open must be a finite price > 0"),
    (lambda b: b.assign(ts=b["ts"] + pd.Timedelta(hours=12)), "no bars inside regular"),
    (lambda b: b.assign(ts=b["ts"].where(b.index != 3)), "missing timestamp"),
])
def test_bad_input_is_refused_with_a_clear_error_naming_the_partition(
        rth_bars: pd.DataFrame, mutate: Mutation, expected: str) -> None:
    bars = _sessions(rth_bars, ["2025-01-27"])
    with pytest.raises(FeatureInputError, match=expected) as info:
        build_features(mutate(bars), origin="market_data/bars[2025-01-27|NVDA]")
    assert str(info.value).startswith("market_data/bars[2025-01-27|NVDA]")


def test_a_bad_bar_is_located_by_symbol_ts_and_field(rth_bars: pd.DataFrame) -> None:
    bars = _sessions(rth_bars, ["2025-01-27"]).copy()
    bad = bars.index[(bars["symbol"] == "NVDA")][100]
    bars.loc[bad, "high"] = np.nan
    with pytest.raises(FeatureInputError) as info:
        build_features(bars)
    err = info.value
    assert (err.symbol, err.field) == ("NVDA", "high")
    assert pd.Timestamp(err.ts) == bars.loc[bad, "ts"]
