"""Issue 11, finding 4: ``price_scale_plausible`` (physical bounds, exact money, and the scale of
a session against the symbol's stored history), as a contract check run by pandas and GX."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest

from intraday_jules.domain.bars import BarValidationError, validate_bars
from intraday_jules.quality import checks as C
from intraday_jules.quality import run_quality_checks, run_with_quarantine
from intraday_jules.quality.base import CheckContext, PriceReference
from intraday_jules.quality.contracts import Contract
from intraday_jules.quality.gx import build_suite

PRICES = ["open", "high", "low", "close"]
JAN2, JAN3 = date(2025, 1, 2), date(2025, 1, 3)
Ctx = Callable[..., CheckContext]


def _jan3(two_sessions: pd.DataFrame, symbol: str = "MSFT") -> pd.DataFrame:
    days = two_sessions["ts"].dt.tz_convert("America/New_York").dt.date
    return two_sessions[(days == JAN3) & (two_sessions["symbol"] == symbol)].reset_index(
        drop=True)


def _history(bars: pd.DataFrame, ratio: float, symbol: str = "MSFT") -> dict[str, PriceReference]:
    """A stored close on 2025-01-02 such that the session's median is ``ratio`` x it."""
    return {symbol: PriceReference(JAN2, float(np.median(bars["close"])) / ratio)}


def test_price_scale_when_the_session_is_x1000_the_stored_close_fails_every_row_quarantinable(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    bars = _jan3(two_sessions)
    history = _history(bars, 1.0)
    bars[PRICES] = bars[PRICES] * 1000
    result = C.price_scale_plausible(bars, ctx_for(sessions=(JAN3,), price_history=history))
    assert not result.passed and result.failure_count == len(bars) == 390
    assert result.offending["quarantinable"].all()
    failure = result.failures[0]
    assert (failure.symbol, failure.session) == ("MSFT", JAN3)
    assert "x1000" in failure.detail and "last stored close of 2025-01-02" in failure.detail


@pytest.mark.parametrize("ratio", [0.83, 1.2, 0.5, 2.0])
def test_price_scale_when_the_session_moves_like_a_real_market_day_passes(
        two_sessions: pd.DataFrame, ctx_for: Ctx, ratio: float) -> None:
    # 0.83: NVDA's 2025-01-27 DeepSeek day (-17%) must pass; so must a halving or doubling
    bars = _jan3(two_sessions)
    ctx = ctx_for(sessions=(JAN3,), price_history=_history(bars, ratio))
    result = C.price_scale_plausible(bars, ctx)
    assert result.passed, result.failures[:1]
    assert result.stats["references"]["MSFT"]["reference"] == "last stored close of 2025-01-02"


@pytest.mark.parametrize("ratio", [10.0, 0.1, 100.0, 0.01])
def test_price_scale_when_the_session_is_a_decimal_shift_of_history_fails(
        two_sessions: pd.DataFrame, ctx_for: Ctx, ratio: float) -> None:
    bars = _jan3(two_sessions)
    ctx = ctx_for(sessions=(JAN3,), price_history=_history(bars, ratio))
    assert not C.price_scale_plausible(bars, ctx).passed


def test_price_scale_when_there_is_no_history_checks_physical_bounds_only_and_says_so(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    bars = _jan3(two_sessions)
    bars[PRICES] = bars[PRICES] * 1000  # plausible on its own: nothing to compare with
    result = C.price_scale_plausible(bars, ctx_for(sessions=(JAN3,)))
    assert result.passed
    assert "no stored price history for MSFT before 2025-01-03" in result.note
    assert "only the physical bounds were checked" in result.note


def test_price_scale_when_history_is_older_than_the_max_age_ignores_it(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    bars = _jan3(two_sessions)
    old = {"MSFT": PriceReference(date(2024, 11, 1), float(bars["close"].median()) / 1000)}
    result = C.price_scale_plausible(bars, ctx_for(sessions=(JAN3,), price_history=old))
    assert result.passed and "no stored price history" in result.note


@pytest.mark.parametrize(("value", "detail"), [
    (1e308, "must be <= 1e+07"), (1e-6, "must be >= 0.0001"), (np.inf, "must be <= 1e+07"),
    (123.456789, "not a whole number of 0.0001 dollars"),
])
def test_price_scale_when_a_price_is_physically_impossible_fails_that_row(
        two_sessions: pd.DataFrame, ctx_for: Ctx, value: float, detail: str) -> None:
    bars = _jan3(two_sessions)
    bars.loc[7, PRICES] = value
    result = C.price_scale_plausible(bars, ctx_for(sessions=(JAN3,)))
    assert not result.passed and result.failure_count == 1
    assert detail in result.failures[0].detail
    assert result.failures[0].ts == bars.loc[7, "ts"].to_pydatetime()


def test_price_scale_without_history_finds_the_one_off_scale_session_among_several(
        two_sessions: pd.DataFrame, ctx_for: Ctx, sim_bars: pd.DataFrame) -> None:
    days = sim_bars["ts"].dt.tz_convert("America/New_York").dt.date
    first = [date(2025, 1, d) for d in (2, 3, 6, 7, 8)]
    bars = sim_bars[days.isin(first) & (sim_bars["symbol"] == "NVDA")].reset_index(drop=True)
    bad = (bars["ts"].dt.tz_convert("America/New_York").dt.date == date(2025, 1, 7)).to_numpy()
    bars.loc[bad, PRICES] = bars.loc[bad, PRICES] * 100  # cents read as dollars
    result = C.price_scale_plausible(bars, ctx_for(symbols=("NVDA",), sessions=tuple(first)))
    assert [f.session for f in result.failures] == [date(2025, 1, 7)]


def test_price_scale_is_in_the_gx_suite_and_in_the_report_from_the_same_contract(
        market_contract: Contract, two_sessions: pd.DataFrame) -> None:
    suite = build_suite(market_contract)
    metas = [e.meta["check"] for e in suite.expectations]
    assert metas.count("price_scale_plausible") == 8  # 4 prices x (lower, upper) bound
    bars = _jan3(two_sessions)
    bars.loc[3, PRICES] = 1e308
    report = run_quality_checks(bars, symbols=["MSFT"], sessions=[JAN3], extended_hours=False,
                                contract=market_contract)
    result = report.result("price_scale_plausible")
    assert not result.passed and report.blocking_failed
    assert result.stats["great_expectations"]["passed"] is False


def test_price_scale_quarantine_of_a_whole_session_keeps_the_check_failed_in_the_report(
        two_sessions: pd.DataFrame, market_contract: Contract) -> None:
    bars = _jan3(two_sessions)
    history = _history(bars, 1.0)
    bars[PRICES] = bars[PRICES] * 1000
    report, split = run_with_quarantine(
        bars, symbols=["MSFT"], sessions=[JAN3], extended_hours=False, contract=market_contract,
        price_history=history, use_gx=False)
    assert len(split.quarantined) == 390 and split.clean.empty
    result = report.result("price_scale_plausible")
    assert not result.passed and result.stats["quarantined"] == 390
    assert "390 row(s) quarantined" in result.note


@pytest.mark.parametrize(("volume", "problem"), [
    (2**63 + 10, "larger than a 64-bit integer"), (2**64 + 5, "larger than a 64-bit integer"),
    (1.5, "whole number of shares"), (1e19, "larger than a 64-bit integer"),
])
def test_validate_bars_when_volume_is_outside_int64_or_fractional_refuses_naming_the_row(
        two_sessions: pd.DataFrame, volume: object, problem: str) -> None:
    bars = _jan3(two_sessions).drop(columns=["source"], errors="ignore")
    column = bars["volume"].astype(object)
    column.iloc[4] = volume
    bars["volume"] = column
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning overflow cast would raise here
        with pytest.raises(BarValidationError) as err:
            validate_bars(bars, "file test.csv")
    message = str(err.value)
    for part in ("file test.csv", "symbol MSFT", "ts 2025-01-03T14:34:00Z", "field volume",
                 problem, repr(volume) if isinstance(volume, int) else ""):
        assert part in message


def test_validate_bars_keeps_the_largest_int64_volume_exactly(
        two_sessions: pd.DataFrame) -> None:
    bars = _jan3(two_sessions).drop(columns=["source"], errors="ignore")
    bars["volume"] = bars["volume"].astype(np.int64)
    bars.loc[4, "volume"] = np.iinfo(np.int64).max
    out = validate_bars(bars, "test")
    assert int(out.loc[4, "volume"]) == 2**63 - 1



def test_price_scale_when_the_session_looks_like_an_unadjusted_split_fails_but_is_not_quarantinable(
        two_sessions: pd.DataFrame, ctx_for: Ctx) -> None:
    bars = _jan3(two_sessions)
    ctx = ctx_for(sessions=(JAN3,), price_history=_history(bars, 0.25))  # a 4:1 split
    result = C.price_scale_plausible(bars, ctx)
    assert not result.passed and not result.offending["quarantinable"].any()
    assert "unadjusted split of about 4:1" in result.failures[0].detail
