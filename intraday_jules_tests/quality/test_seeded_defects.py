"""Each check fails on a seeded defect in real bars, naming symbol, session, ts and detail;
and holds on the same bars without the defect (so no test here passes vacuously)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from intraday_jules.quality import checks as C
from intraday_jules.quality.base import CheckContext
from intraday_jules.quality.results import CheckResult
from intraday_jules_tests.quality.conftest import regular_hours

T = pd.Timestamp("2025-01-03T15:00:00Z")
DAY = date(2025, 1, 3)
Ctx = Callable[..., CheckContext]


def _row(bars: pd.DataFrame, ts: pd.Timestamp = T, symbol: str = "NVDA") -> int:
    return int(bars.index[(bars["symbol"] == symbol) & (bars["ts"] == ts)][0])


def _null_close(b: pd.DataFrame) -> pd.DataFrame:
    b.loc[_row(b), "close"] = np.nan
    return b


def _duplicate(b: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([b, b.loc[[_row(b)]]], ignore_index=True)


def _low_above_open(b: pd.DataFrame) -> pd.DataFrame:
    b.loc[_row(b), "low"] = b.loc[_row(b), "open"] + 1
    return b


def _negative_price(b: pd.DataFrame) -> pd.DataFrame:
    b.loc[_row(b), "close"] = -1.0
    return b


def _negative_volume(b: pd.DataFrame) -> pd.DataFrame:
    b.loc[_row(b), "volume"] = -5
    return b


def _after_close(b: pd.DataFrame) -> pd.DataFrame:
    b.loc[_row(b, pd.Timestamp("2025-01-03T20:59Z")), "ts"] = pd.Timestamp("2025-01-03T21:05Z")
    return b


def _unaligned(b: pd.DataFrame) -> pd.DataFrame:
    b.loc[_row(b), "ts"] = T + pd.Timedelta(seconds=30)
    return b


def _drop_minute(b: pd.DataFrame) -> pd.DataFrame:
    return b.drop(index=_row(b))


def _zero_volume_run(b: pd.DataFrame) -> pd.DataFrame:
    start = _row(b)
    b.loc[start:start + 11, "volume"] = 0
    return b


def _bad_tick(b: pd.DataFrame) -> pd.DataFrame:
    i = _row(b)
    b.loc[i, "close"] *= 1.08
    b.loc[i, "high"] = b.loc[i, "close"]
    return b


DEFECTS = [
    ("contract_schema_valid", _null_close, T, "null in column(s) close"),
    ("timestamps_unique", _duplicate, T, "duplicate (symbol, ts): 2 rows share this key"),
    ("ohlc_consistent", _low_above_open, T, "low "),
    ("ohlc_consistent", _negative_price, T, "close = -1, must be > 0"),
    ("volume_nonnegative", _negative_volume, T, "volume = -5, must be >= 0"),
    ("timestamps_in_session", _after_close, pd.Timestamp("2025-01-03T21:05Z"),
     "bar at 16:05 ET is outside regular hours 09:30-16:00 ET"),
    ("timestamps_in_session", _unaligned, T + pd.Timedelta(seconds=30), "not aligned"),
    ("no_missing_minutes", _drop_minute, T, "no bar starting 2025-01-03T15:00Z; 389 of 390"),
    ("no_zero_volume_runs", _zero_volume_run, T, "12 consecutive zero-volume bars from"
                                                 " 2025-01-03T15:00Z to 2025-01-03T15:11Z"),
    ("no_price_jumps", _bad_tick, T, "likely a bad tick"),
]


@pytest.mark.parametrize(("name", "defect", "ts", "words"), DEFECTS,
                         ids=[f"{d[0]}-{d[1].__name__}" for d in DEFECTS])
def test_check_fails_on_seeded_defect_naming_symbol_session_ts_and_detail(
        two_sessions: pd.DataFrame, ctx_for: Ctx, name: str,
        defect: Callable[[pd.DataFrame], pd.DataFrame], ts: pd.Timestamp, words: str) -> None:
    check: Callable[[pd.DataFrame, CheckContext], CheckResult] = getattr(C, name)
    assert check(two_sessions, ctx_for()).passed
    result = check(defect(two_sessions.copy()), ctx_for())
    assert not result.passed and result.failure_count >= 1
    assert result.name == name
    hit = [f for f in result.failures if f.ts == ts.to_pydatetime()]
    assert hit, result.failures[:3]
    assert (hit[0].symbol, hit[0].session) == ("NVDA", DAY)
    assert words in hit[0].detail


def test_missing_column_fails_schema_without_location_and_time_checks_not_evaluated(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    schema = C.contract_schema_valid(two_sessions.drop(columns=["volume"]), ctx_for())
    assert [(f.symbol, f.session, f.ts) for f in schema.failures] == [(None, None, None)]
    assert schema.failures[0].detail == "required column 'volume' is missing"
    naive = two_sessions.assign(ts=two_sessions["ts"].dt.tz_localize(None))
    assert "expected tz-aware UTC" in C.contract_schema_valid(naive, ctx_for()).failures[0].detail
    result = C.no_missing_minutes(naive, ctx_for())
    assert not result.passed and result.failures[0].detail.startswith("not evaluated: ts has")


def test_no_missing_sessions_fails_for_an_absent_and_a_truncated_session(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    ctx = ctx_for(sessions=(date(2025, 1, 2), DAY, date(2025, 1, 6)))
    nvda_day = two_sessions[(two_sessions["symbol"] == "NVDA") & (two_sessions["ts"] >= T)]
    bars = two_sessions.drop(index=nvda_day.index[60:])
    assert C.no_missing_sessions(two_sessions, ctx_for()).passed
    result = C.no_missing_sessions(bars, ctx)
    found = {(f.symbol, f.session, f.ts): f.detail for f in result.failures}
    assert found[("NVDA", date(2025, 1, 6), None)] == "no bars for this session"
    assert found[("MSFT", date(2025, 1, 6), None)] == "no bars for this session"
    assert found[("NVDA", DAY, None)].startswith("only 90 of 390 regular-hours bars (23%")
    assert len(found) == 3


def test_unadjusted_split_gap_fails_and_cannot_be_quarantined(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    bars = two_sessions.copy()
    later = (bars["symbol"] == "NVDA") & (bars["ts"].dt.date == DAY)
    bars.loc[later, ["open", "high", "low", "close"]] /= 10
    bars.loc[later, "volume"] *= 10
    result = C.no_price_jumps(bars, ctx_for())
    assert not result.passed
    first = result.failures[0]
    assert (first.symbol, first.session) == ("NVDA", DAY)
    assert first.ts == datetime(2025, 1, 3, 14, 30, tzinfo=UTC)
    assert "unadjusted split of about 10:1" in first.detail
    assert not result.offending["quarantinable"].any()


def test_large_move_with_volume_and_no_reversal_is_real_but_without_volume_fails(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    bars = two_sessions.copy()
    after = (bars["symbol"] == "NVDA") & (bars["ts"] >= T) & (bars["ts"].dt.date == DAY)
    bars.loc[after, ["open", "high", "low", "close"]] *= 1.05
    bars.loc[_row(bars), "open"] /= 1.05
    unconfirmed = C.no_price_jumps(bars, ctx_for())
    assert [f.ts for f in unconfirmed.failures] == [T.to_pydatetime()]
    assert "not confirmed by volume" in unconfirmed.failures[0].detail
    bars.loc[_row(bars), "volume"] *= 20
    confirmed = C.no_price_jumps(bars, ctx_for())
    assert confirmed.passed
    assert confirmed.stats["confirmed_moves"] == 1
    assert "confirmed by volume" in confirmed.stats["confirmed_examples"][0]["detail"]


def test_newest_bar_fresh_fails_when_data_stops_during_a_live_session(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    now = datetime(2025, 1, 3, 16, 0, tzinfo=UTC)
    stale = two_sessions[two_sessions["ts"] <= pd.Timestamp("2025-01-03T15:50Z")]
    result = C.newest_bar_fresh(stale, ctx_for(now=now))
    assert not result.passed
    assert {(f.symbol, f.session, f.ts) for f in result.failures} == {
        (s, DAY, datetime(2025, 1, 3, 15, 50, tzinfo=UTC)) for s in ("NVDA", "MSFT")}
    assert "data is 9.0 min old (limit 5 min)" in result.failures[0].detail
    fresh = two_sessions[two_sessions["ts"] <= pd.Timestamp("2025-01-03T15:58Z")]
    assert C.newest_bar_fresh(fresh, ctx_for(now=now)).passed
    future = C.newest_bar_fresh(two_sessions, ctx_for(now=now))
    assert not future.passed and "bar starts after now" in future.failures[0].detail
    weekend = C.newest_bar_fresh(stale, ctx_for(now=datetime(2025, 1, 4, 16, tzinfo=UTC)))
    assert weekend.passed and "outside the regular hours" in weekend.note


def test_sources_agree_fails_on_a_diverging_close_and_on_session_volume(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    other = two_sessions.copy()
    assert C.sources_agree(two_sessions, other, ctx_for()).passed
    other.loc[_row(other), "close"] *= 1.01
    result = C.sources_agree(two_sessions, other, ctx_for())
    assert [(f.symbol, f.session, f.ts) for f in result.failures] == [
        ("NVDA", DAY, T.to_pydatetime())]
    assert "bps apart (limit 25)" in result.failures[0].detail
    thin = C.sources_agree(two_sessions, other.assign(volume=other["volume"] * 5), ctx_for())
    sessions = [f for f in thin.failures if f.ts is None]
    assert len(sessions) == 4 and "0.200x" in sessions[0].detail


def test_volume_regime_stable_flags_only_the_session_where_volume_changes_meaning(
        sim_bars: pd.DataFrame, ctx_for: Ctx) -> None:
    bars = regular_hours(sim_bars)
    days = bars["ts"].dt.tz_convert("America/New_York").dt.date
    sessions = sorted(days.unique())[:14]
    bars = bars[days.isin(sessions)].copy()
    assert C.volume_regime_stable(bars, ctx_for(sessions=())).passed
    change = sessions[9]
    bars.loc[(bars["symbol"] == "MSFT") & (days >= change), "volume"] *= 30
    result = C.volume_regime_stable(bars, ctx_for(sessions=()))
    assert [(f.symbol, f.session, f.ts) for f in result.failures] == [("MSFT", change, None)]
    assert "did the volume definition or feed change?" in result.failures[0].detail


def test_during_a_live_session_only_bars_that_have_ended_are_expected(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    now = datetime(2025, 1, 3, 16, 0, 30, tzinfo=UTC)
    so_far = two_sessions[two_sessions["ts"] <= pd.Timestamp("2025-01-03T15:59Z")]  # ended 16:00
    live = ctx_for(now=now)
    assert C.no_missing_minutes(so_far, live).passed
    assert C.no_missing_sessions(so_far, live).passed
    assert C.newest_bar_fresh(so_far, live).passed
    gap = C.no_missing_minutes(so_far, ctx_for())  # the same bars judged after the close
    assert not gap.passed and gap.failure_count == 2 * (390 - 90)
    early = ctx_for(now=datetime(2025, 1, 3, 15, 59, 30, tzinfo=UTC))  # 15:59 bar not ended
    assert C.no_missing_minutes(so_far[so_far["ts"] < T + pd.Timedelta(minutes=59)], early).passed


def test_offending_rows_are_the_callers_rows_with_their_reason(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    from intraday_jules.quality import offending_rows

    bars = _low_above_open(two_sessions.sample(frac=1.0, random_state=1))  # any row order
    result = C.ohlc_consistent(bars, ctx_for())
    rows = offending_rows(bars, result)
    assert list(rows.index) == [_row(bars)]
    assert rows["check_name"].iloc[0] == "ohlc_consistent"
    assert rows["detail"].iloc[0].startswith("low ")
