"""The checks on the real shared data (../shared/data/market), with the manifests as answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
import pytest

from intraday_jules.domain.calendar import NEW_YORK, session_window
from intraday_jules.quality import run_quality_checks
from intraday_jules.quality.base import CheckContext, prepare_bars
from intraday_jules.quality.calendar_checks import coverage, timestamps_in_session
from intraday_jules.quality.checks import no_price_jumps, sources_agree
from intraday_jules.quality.contracts import Contract
from intraday_jules.quality.rendering import report_markdown
from intraday_jules.quality.results import Severity
from intraday_jules_tests.quality.conftest import (
    FIVE_MIN_PAIR,
    ONE_MIN_NVDA,
    ONE_MIN_PAIR,
    regular_hours,
    sessions_of,
)

# The point of every test here is the recorded data itself (its manifests, its real moves, its
# missing minutes and vendor quirks): they skip on a clone without ../shared.
pytestmark = pytest.mark.recorded_data

Loader = Callable[[str], pd.DataFrame]
HALF_DAYS = (date(2025, 7, 3), date(2025, 11, 28), date(2025, 12, 24))


def _session_dates(frame: pd.DataFrame) -> pd.Series:
    return frame["ts"].dt.tz_convert(NEW_YORK).dt.date


def test_one_minute_pair_regular_hours_passes_error_checks_and_counts_match_manifest(
        bars_file: Loader, manifest: Loader, market_contract: Contract) -> None:
    bars = regular_hours(bars_file(ONE_MIN_PAIR))
    sessions = sessions_of(bars)
    report = run_quality_checks(bars, symbols=("NVDA", "MSFT"), sessions=sessions,
                                extended_hours=False, contract=market_contract)
    assert not report.blocking_failed, report_markdown(report)
    assert all(c.passed for c in report.checks if c.severity is Severity.ERROR)
    assert report.result("no_missing_minutes").passed
    ctx = CheckContext(market_contract, ("NVDA", "MSFT"), tuple(sessions))
    table = coverage(prepare_bars(bars), ctx, 1)
    counted = {(r.symbol, r.session): r.present for r in table.itertuples()}
    expected = {(r.symbol, r.date): r.rth_bars for r in manifest(ONE_MIN_PAIR).itertuples()}
    assert counted == expected
    assert len(counted) == 2 * 39


def test_one_minute_pair_with_extended_hours_passes_and_regular_mode_flags_pre_and_post_bars(
        bars_file: Loader, manifest: Loader, market_contract: Contract) -> None:
    bars = bars_file(ONE_MIN_PAIR)
    kwargs = {"symbols": ("NVDA", "MSFT"), "sessions": sessions_of(bars),
              "contract": market_contract}
    extended = run_quality_checks(bars, extended_hours=True, **kwargs)  # type: ignore[arg-type]
    assert not extended.blocking_failed, report_markdown(extended)
    assert "only regular-hours minutes are required" in extended.result("no_missing_minutes").note
    regular = run_quality_checks(bars, extended_hours=False, use_gx=False, **kwargs)  # type: ignore[arg-type]
    m = manifest(ONE_MIN_PAIR)
    outside = regular.result("timestamps_in_session")
    assert outside.failure_count == int(m["pre_bars"].sum() + m["post_bars"].sum())
    assert outside.failures[0].detail.endswith("is outside regular hours 09:30-16:00 ET")


def test_deepseek_selloff_and_msft_earnings_drop_are_real_moves_not_price_jump_errors(
        bars_file: Loader, market_contract: Contract) -> None:
    bars = regular_hours(bars_file(ONE_MIN_PAIR))
    bars = bars[_session_dates(bars).between(date(2025, 1, 24), date(2025, 1, 31))]
    nvda = bars[bars["symbol"] == "NVDA"].sort_values("ts")
    friday = nvda[_session_dates(nvda) == date(2025, 1, 24)]["close"].iloc[-1]
    monday = nvda[_session_dates(nvda) == date(2025, 1, 27)]["open"].iloc[0]
    assert monday / friday < 0.9  # the gap really is there: the check has something to judge
    ctx = CheckContext(market_contract, ("NVDA", "MSFT"), ())
    result = no_price_jumps(bars, ctx)
    assert result.passed, result.failures[:3]
    assert result.rows_checked == len(bars)


@pytest.mark.parametrize("bar_minutes", [5, None], ids=["given", "inferred"])
def test_five_minute_file_has_full_dst_and_half_day_sessions(
        bars_file: Loader, market_contract: Contract, bar_minutes: int | None) -> None:
    bars = bars_file(FIVE_MIN_PAIR)
    sessions = sessions_of(bars)
    report = run_quality_checks(bars, symbols=("NVDA", "MSFT"), sessions=sessions,
                                extended_hours=False, contract=market_contract,
                                bar_minutes=bar_minutes, use_gx=False)
    missing = report.result("no_missing_minutes")
    assert missing.passed and missing.stats["bar_minutes"] == 5
    assert report.result("no_missing_sessions").passed
    ctx = CheckContext(market_contract, ("NVDA", "MSFT"), tuple(sessions))
    table = coverage(prepare_bars(bars), ctx, 5).set_index(["symbol", "session"])
    for day in HALF_DAYS:
        assert session_window(day).is_half_day
        assert table.loc[("NVDA", day), "present"] == table.loc[("MSFT", day), "present"] == 42
    for day, first_utc in ((date(2025, 10, 31), "13:30"), (date(2025, 11, 3), "14:30")):
        assert table.loc[("NVDA", day), "present"] == 78
        regular = regular_hours(bars[_session_dates(bars) == day])
        assert regular["ts"].min().strftime("%H:%M") == first_utc


def test_five_minute_file_bars_after_half_day_close_and_outside_hours_are_flagged(
        bars_file: Loader, manifest: Loader, market_contract: Contract) -> None:
    bars = bars_file(FIVE_MIN_PAIR)
    m = manifest(FIVE_MIN_PAIR)
    after_close = m[m["date"].isin(HALF_DAYS)]["rth_bars"] - 42
    ctx = CheckContext(market_contract, ("NVDA", "MSFT"), tuple(sessions_of(bars)),
                       bar_minutes=5)
    result = timestamps_in_session(bars, ctx)
    assert result.failure_count == int(m["pre_bars"].sum() + m["post_bars"].sum()
                                       + after_close.sum())
    half = timestamps_in_session(bars[_session_dates(bars).isin(HALF_DAYS)], ctx)
    assert all("(half day)" in f.detail for f in half.failures)
    late = [f for f in half.failures if f.ts >= session_window(f.session).close]  # type: ignore[arg-type, operator]
    assert len(late) == int(after_close.sum()) == 6
    assert {(f.symbol, f.session) for f in late} == {
        ("NVDA", date(2025, 11, 28)), ("MSFT", date(2025, 11, 28)), ("NVDA", date(2025, 12, 24))}
    assert all("outside regular hours 09:30-13:00 ET (half day)" in f.detail for f in late)


def test_nvda_one_minute_file_known_missing_minutes_are_found_exactly(
        bars_file: Loader, manifest: Loader, market_contract: Contract) -> None:
    bars = bars_file(ONE_MIN_NVDA)
    sessions = sessions_of(bars)
    report = run_quality_checks(bars, symbols=("NVDA",), sessions=sessions,
                                extended_hours=False, contract=market_contract, use_gx=False)
    missing = report.result("no_missing_minutes")
    assert not missing.passed and missing.severity is Severity.WARN
    m = manifest(ONE_MIN_NVDA)
    full_days = m[~m["date"].isin(HALF_DAYS) & (m["rth_bars"] < 390)]
    expected = {r.date.isoformat(): 390 - r.rth_bars for r in full_days.itertuples()}
    assert expected == {"2025-09-24": 1, "2025-10-13": 1, "2025-12-26": 1, "2026-01-02": 2,
                        "2026-01-07": 3, "2026-01-16": 1}
    assert missing.stats["missing"] == {"NVDA": expected}
    present = set(bars["ts"])
    absent = {ts.to_pydatetime() for day in sessions for ts in session_window(day).bar_starts()
              if ts not in present}
    assert {f.ts for f in missing.failures} == absent
    assert all(f.symbol == "NVDA" and f.session is not None for f in missing.failures)


def test_nvda_one_minute_file_half_day_bars_after_close_fail_timestamps_in_session(
        bars_file: Loader, manifest: Loader, market_contract: Contract) -> None:
    bars = bars_file(ONE_MIN_NVDA)
    m = manifest(ONE_MIN_NVDA).set_index("date")
    ctx = CheckContext(market_contract, ("NVDA",), tuple(sessions_of(bars)))
    result = timestamps_in_session(bars, ctx)
    extra = {day: int(m.loc[day, "rth_bars"]) - 210 for day in HALF_DAYS[1:]}
    assert extra == {date(2025, 11, 28): 5, date(2025, 12, 24): 1}
    assert result.failure_count == sum(extra.values())
    assert {f.session for f in result.failures} == set(extra)
    assert all(f.ts >= session_window(f.session).close for f in result.failures)  # type: ignore[arg-type, operator]


def test_nvda_one_minute_file_volume_definition_change_is_flagged_once(
        bars_file: Loader, market_contract: Contract) -> None:
    from intraday_jules.quality.checks import volume_regime_stable

    bars = bars_file(ONE_MIN_NVDA)
    result = volume_regime_stable(bars, CheckContext(market_contract, ("NVDA",), ()))
    assert [(f.symbol, f.session) for f in result.failures] == [("NVDA", date(2026, 1, 22))]
    assert "volume definition" in result.failures[0].detail


def test_sources_agree_on_prices_but_not_volume_before_the_feed_change(
        bars_file: Loader, market_contract: Contract) -> None:
    one = bars_file(ONE_MIN_NVDA)
    five = bars_file(FIVE_MIN_PAIR)
    five = five[five["symbol"] == "NVDA"]
    ctx = CheckContext(market_contract, ("NVDA",), ())
    late = sources_agree(one[_session_dates(one) >= date(2026, 1, 22)],
                         five[_session_dates(five) >= date(2026, 1, 22)], ctx)
    assert late.passed and late.stats["overlapping_bars"] == 2418
    assert late.stats["max_close_bps"] == 0.0
    october = (date(2025, 10, 1), date(2025, 10, 31))
    early = sources_agree(one[_session_dates(one).between(*october)],
                          five[_session_dates(five).between(*october)], ctx)
    assert not early.passed
    assert all(f.ts is None and "session volume" in f.detail for f in early.failures)
    assert len(early.failures) == 23  # every October session, prices within tolerance
