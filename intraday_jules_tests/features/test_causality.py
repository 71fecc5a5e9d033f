"""The look-ahead audit on real data: truncation gives identical features; leaks are caught."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from intraday_jules.domain.calendar import NEW_YORK
from intraday_jules.features import build_features
from intraday_jules.features.audit import BuildFn, audit_causality, random_cut_points

N_RANDOM_CUTS = 120


@pytest.fixture(scope="module")
def cut_points(rth_bars: pd.DataFrame) -> list[pd.Timestamp]:
    """Random cuts plus the edges that matter: a session's first bar, the last warm-up bar,
    the first bar after warm-up, a session's last bar, the data's last bar."""
    ts = pd.DatetimeIndex(rth_bars["ts"].unique()).sort_values()
    day = ts.tz_convert(NEW_YORK).date
    firsts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    edges = [ts[firsts[3]], ts[firsts[3] + 49], ts[firsts[3] + 50], ts[firsts[4] - 1], ts[-1]]
    return sorted({*random_cut_points(rth_bars, N_RANDOM_CUTS, seed=20250102), *edges})


def test_features_on_bars_up_to_t_equal_full_data_features_exactly(
        rth_bars: pd.DataFrame, cut_points: list[pd.Timestamp]) -> None:
    result = audit_causality(build_features, rth_bars, cut_points)

    assert result.passed, result.summary()
    assert result.cuts_checked == len(cut_points) >= N_RANDOM_CUTS
    assert result.rows_compared > 1_000_000  # every row before each cut, not only row t


def _leaks_next_close(bars: pd.DataFrame) -> pd.DataFrame:
    """A deliberately leaking build: 'next_ret' uses bar t+1's close."""
    features = build_features(bars)
    close = bars.set_index(["symbol", "ts"])["close"].reindex(features.index)
    nxt = close.groupby(level="symbol").shift(-1)
    features.insert(0, "next_ret", np.log(nxt / close).fillna(0.0).to_numpy())
    return features


def _leaks_session_mean(bars: pd.DataFrame) -> pd.DataFrame:
    """A subtler leak: ret_1 centred by its whole-session mean (which includes later bars)."""
    features = build_features(bars)
    day = features.index.get_level_values("ts").tz_convert(NEW_YORK).date
    keys = [features.index.get_level_values("symbol"), day]
    features["ret_1"] -= features.groupby(keys)["ret_1"].transform("mean").to_numpy()
    return features


@pytest.mark.parametrize("leaky_build", [_leaks_next_close, _leaks_session_mean],
                         ids=["next-bar", "session-mean"])
def test_audit_catches_a_feature_that_uses_later_bars(
        leaky_build: BuildFn, rth_bars: pd.DataFrame, cut_points: list[pd.Timestamp]) -> None:
    result = audit_causality(leaky_build, rth_bars, cut_points[:30])

    assert not result.passed
    leaked = "next_ret" if leaky_build is _leaks_next_close else "ret_1"
    assert result.leaking_columns == (leaked,)
    assert "LOOK-AHEAD" in result.summary()
    first = result.violations[0]
    assert first.ts <= first.cut


def test_audit_flags_a_build_whose_rows_change_with_the_cut(rth_bars: pd.DataFrame) -> None:
    def drops_last_row(bars: pd.DataFrame) -> pd.DataFrame:
        return build_features(bars).iloc[:-1]

    cut = rth_bars["ts"].iloc[5000]
    result = audit_causality(drops_last_row, rth_bars, [cut])

    assert [v.column for v in result.violations] == ["<index>"]


def test_random_cut_points_are_seeded_distinct_bar_timestamps(rth_bars: pd.DataFrame) -> None:
    a = random_cut_points(rth_bars, 50, seed=1)

    assert a == random_cut_points(rth_bars, 50, seed=1)
    assert a != random_cut_points(rth_bars, 50, seed=2)
    assert len(set(a)) == 50 and a == sorted(a)
    assert set(a) <= set(rth_bars["ts"])
