"""Great Expectations suites are built from the contracts and fold back into CheckResults."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from intraday_jules.quality import run_quality_checks
from intraday_jules.quality.contracts import CONTRACTS_DIR, Contract, load_contract, parse_contract
from intraday_jules.quality.gx import build_suite, run_gx_suite
from intraday_jules.quality.results import CheckResult, Failure, Severity
from intraday_jules.quality.run import merge_gx

BAR_COLUMNS = ["symbol", "ts", "open", "high", "low", "close", "volume"]


def _by_check(suite: object) -> dict[str, list[tuple[str, dict[str, object]]]]:
    out: dict[str, list[tuple[str, dict[str, object]]]] = {}
    for e in suite.expectations:  # type: ignore[attr-defined]
        kwargs = {k: v for k, v in e.configuration.kwargs.items() if v is not None}
        out.setdefault(e.meta["check"], []).append((e.expectation_type, kwargs))
    return out


def test_suite_is_derived_from_the_market_data_contract(market_contract: Contract) -> None:
    suite = _by_check(build_suite(market_contract, BAR_COLUMNS))
    assert set(suite) == {"contract_schema_valid", "timestamps_unique", "ohlc_consistent",
                          "volume_nonnegative", "price_scale_plausible"}
    bounds = suite["price_scale_plausible"]  # issue 11 f4: 4 prices x (lower, upper) bound
    assert [t for t, _ in bounds] == ["expect_column_values_to_be_between"] * 8
    assert suite["timestamps_unique"] == [("expect_compound_columns_to_be_unique",
                                           {"column_list": ["symbol", "ts"]})]
    ohlc = suite["ohlc_consistent"]
    assert sum(t == "expect_column_values_to_be_between" for t, _ in ohlc) == 4
    pairs = {(k["column_A"], k["column_B"]) for t, k in ohlc
             if t == "expect_column_pair_values_a_to_be_greater_than_b"}
    assert pairs == {("open", "low"), ("high", "open"), ("close", "low"), ("high", "close")}
    schema_types = {t for t, _ in suite["contract_schema_valid"]}
    assert schema_types == {"expect_table_columns_to_match_set",
                            "expect_column_values_to_be_of_type",
                            "expect_column_values_to_not_be_null"}
    with_source = _by_check(build_suite(market_contract, [*BAR_COLUMNS, "source"]))
    assert len(with_source["contract_schema_valid"]) == len(suite["contract_schema_valid"]) + 1


def test_changing_the_contract_changes_the_suite() -> None:
    text = (CONTRACTS_DIR / "market_data.yaml").read_text(encoding="utf-8")
    edited = text.replace("columns: [volume], at_least: 0}", "columns: [volume], at_least: 100}")
    edited = edited.replace("  volume_nonnegative:\n    severity: ERROR\n    quarantine: true\n",
                            "  volume_nonnegative:\n    severity: WARN\n")
    assert edited != text
    before = _by_check(build_suite(load_contract("market_data"), BAR_COLUMNS))
    after = _by_check(build_suite(parse_contract(edited, "edited.yaml"), BAR_COLUMNS))
    assert before["volume_nonnegative"][0][1]["min_value"] == 0
    assert after["volume_nonnegative"][0][1]["min_value"] == 100
    dropped = parse_contract(text.replace("  - {check: ohlc_consistent, ordered: [low, open, high]}"
                                          "\n", ""), "dropped.yaml")
    assert len(_by_check(build_suite(dropped, BAR_COLUMNS))["ohlc_consistent"]) == 6


def test_gx_failures_become_check_results_with_symbol_session_ts(
        two_sessions: pd.DataFrame, market_contract: Contract,
        capfd: pytest.CaptureFixture[str]) -> None:
    bars = two_sessions.copy()
    at = pd.Timestamp("2025-01-03T15:00Z")
    bars.loc[(bars["symbol"] == "MSFT") & (bars["ts"] == at), "volume"] = -5
    results = {r.name: r for r in run_gx_suite(bars, market_contract)}
    assert results["ohlc_consistent"].passed and results["contract_schema_valid"].passed
    volume = results["volume_nonnegative"]
    assert not volume.passed and volume.severity is Severity.ERROR
    assert volume.failure_count == 1 and volume.rows_checked == len(bars)
    failure = volume.failures[0]
    assert (failure.symbol, failure.session, failure.ts) == ("MSFT", date(2025, 1, 3),
                                                            at.to_pydatetime())
    assert "great_expectations expect_column_values_to_be_between" in failure.detail
    assert "volume=-5" in failure.detail
    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.err + captured.out


def test_a_problem_only_gx_sees_fails_the_merged_check() -> None:
    pandas_ok = CheckResult("ohlc_consistent", Severity.ERROR, True, 10)
    gx_bad = CheckResult("ohlc_consistent", Severity.ERROR, False, 10,
                         failures=[Failure("NVDA", None, None, "great_expectations: x")])
    merged = merge_gx([pandas_ok], [gx_bad])[0]
    assert not merged.passed and merged.failure_count == 1
    assert merged.stats["great_expectations"]["passed"] is False
    both_ok = merge_gx([pandas_ok], [CheckResult("ohlc_consistent", Severity.ERROR, True, 10)])
    assert both_ok[0].passed and both_ok[0].stats["great_expectations"]["passed"] is True


def _features(n_sessions: int = 2, bars: int = 60, features: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ts = np.concatenate([pd.date_range(f"2025-01-0{2 + d}T14:30Z", periods=bars, freq="1min")
                         for d in range(n_sessions)])
    frame = pd.DataFrame({"symbol": "NVDA", "ts": pd.to_datetime(ts, utc=True).as_unit("us"),
                          "spec_version": "abc123"})
    for k in range(features):
        values = rng.normal(size=len(frame))
        values[[0, bars]] = np.nan  # warm-up at the start of each session
        frame[f"f{k:02d}"] = values
    frame["symbol"] = frame["symbol"].astype(object)
    frame["spec_version"] = frame["spec_version"].astype(object)
    frame["warmup"] = np.tile(np.arange(bars) < 50, n_sessions)  # as build_features marks it
    return frame


def test_features_contract_accepts_warmup_nans_and_refuses_them_after_warmup() -> None:
    contract = load_contract("features")
    kwargs = {"symbols": (), "sessions": (), "extended_hours": False, "contract": contract}
    good = run_quality_checks(_features(), **kwargs)  # type: ignore[arg-type]
    assert not good.blocking_failed, [(c.name, c.failures[:2]) for c in good.failed]
    assert good.result("contract_schema_valid").stats["great_expectations"]["passed"]
    bad = _features()
    bad.loc[55, "f03"] = np.inf
    result = run_quality_checks(bad, **kwargs).result("features_finite_after_warmup")  # type: ignore[arg-type]
    assert not result.passed
    assert result.failures[0].ts == bad.loc[55, "ts"].to_pydatetime()
    assert "non-finite f03 at bar 56 of the session (warm-up is 50 bars)" in (
        result.failures[0].detail)
    short = run_quality_checks(_features(features=11), **kwargs)  # type: ignore[arg-type]
    schema = short.result("contract_schema_valid")
    assert not schema.passed and "expected 12 feature columns, found 11" in (
        schema.failures[0].detail)
    assert schema.stats["great_expectations"]["passed"] is False
