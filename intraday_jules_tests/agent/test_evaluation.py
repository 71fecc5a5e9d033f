"""Evaluation: JSON shape, baselines through the one execution model, costs, windows."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from intraday_jules.agent import (
    DateWindow,
    EvaluationReport,
    EvaluationWindowError,
    ModelBundle,
    PreparedData,
    Splits,
    evaluate,
    evaluation_data,
    walk_forward_folds,
)
from intraday_jules.agent.data import cut_to_window
from intraday_jules.agent.report import write_artifacts
from intraday_jules.agent.rollout import evaluation_env_config
from intraday_jules.env import DualTickerTradingEnv, ExecutionConfig, ExecutionModel

METRICS = ("total_return", "pnl_usd", "sharpe", "sortino", "max_drawdown_pct", "calmar",
           "turnover", "trades_per_day")
BASELINES = {"flat", "buy_and_hold_nvda", "buy_and_hold_msft", "fifty_fifty", "random",
             "momentum"}


@pytest.fixture(scope="module")
def report(dual: ModelBundle, real_data: PreparedData,
           short_validation: DateWindow) -> EvaluationReport:
    return evaluate(dual, real_data, window=short_validation, seeds=3)


def test_evaluation_json_has_exactly_the_cli_shape(report: EvaluationReport) -> None:
    out = report.to_dict()
    assert list(out) == ["model", "baselines", "seeds", "ci95", "costs", "execution_spec"]
    assert out["seeds"] == 3 and set(out["baselines"]) == BASELINES
    for metrics in (out["model"], *out["baselines"].values()):
        assert set(METRICS) <= set(metrics)
    assert set(METRICS) <= set(out["ci95"])
    lo, hi = out["ci95"]["total_return"]
    assert lo <= out["model"]["total_return"] <= hi
    assert {"0x", "1x", "2x"} <= set(out["costs"]) and out["costs"]["reference"] == "1x"
    assert out["costs"]["1x"]["model"] == out["model"]


def test_evaluation_runs_under_the_models_execution_spec(
        report: EvaluationReport, dual: ModelBundle, real_data: PreparedData,
        short_validation: DateWindow) -> None:
    spec = dual.execution
    out = report.to_dict()
    assert out["execution_spec"] == {"version": spec.version, **spec.to_dict()}
    assert out["costs"]["execution"] == spec.costs.to_dict()
    # the spec's cost model is the one evaluated: dearer costs in the spec, lower 1x P&L
    dear = replace(spec, costs=ExecutionConfig(half_spread_bps="5"))
    dearer = evaluate(replace(dual, execution=dear), real_data, window=short_validation,
                      seeds=1, cost_multipliers=(1.0,))
    assert dearer.to_dict()["costs"]["execution"]["half_spread_bps"] == "5"
    buy_hold = report.metrics("buy_and_hold_nvda")["pnl_usd"]
    assert dearer.metrics("buy_and_hold_nvda")["pnl_usd"] < buy_hold


def test_shorts_are_evaluated_only_when_the_spec_allows_them(
        dual: ModelBundle, real_data: PreparedData, short_validation: DateWindow) -> None:
    shorting = replace(dual.config, env=replace(dual.config.env, allow_short=True))
    long_short = evaluate(replace(dual, config=shorting, execution=None), real_data,
                          window=short_validation, seeds=1, cost_multipliers=(1.0,))
    long_only = evaluate(dual, real_data, window=short_validation, seeds=1,
                         cost_multipliers=(1.0,))
    # the random baseline's sells from flat go short only under a long/short spec
    assert long_only.metrics("random")["exposure"] < long_short.metrics("random")["exposure"]
    assert long_short.execution_spec is not None and long_short.execution_spec["allow_short"]


@pytest.mark.parametrize("cost", ["0x", "1x", "2x"])
def test_flat_baseline_has_zero_pnl_and_zero_trades_at_any_cost(report: EvaluationReport,
                                                                cost: str) -> None:
    flat = report.metrics("flat", cost)
    assert flat["pnl_usd"] == 0.0 and flat["trades_per_day"] == 0.0
    assert flat["max_drawdown_pct"] == 0.0 and flat["exposure"] == 0.0


@pytest.mark.parametrize(("cost", "multiplier"), [("0x", 0.0), ("1x", 1.0), ("2x", 2.0)])
def test_buy_and_hold_equals_the_price_change_minus_costs(
        report: EvaluationReport, dual: ModelBundle, real_data: PreparedData, cost: str,
        multiplier: float) -> None:
    arrays = real_data.window(report.window, ("NVDA", "MSFT"))
    schedule = DualTickerTradingEnv(arrays, evaluation_env_config(dual.config.env)).schedule
    model = ExecutionModel().with_cost_multiplier(multiplier)
    expected = 0.0
    for s in range(len(arrays.session_dates)):
        bars = schedule.bars[arrays.session[schedule.bars] == s]
        first, last = int(bars[0]), int(bars[-1])
        shares = int(1000.0 / arrays.close[first, 0])
        buy, buy_fee, _ = model.fill_float(shares, arrays.open[first + 1, 0])
        sell, sell_fee, _ = model.fill_float(-shares, arrays.open[last + 1, 0])
        expected += shares * (sell - buy) - buy_fee - sell_fee
    got = report.metrics("buy_and_hold_nvda", cost)
    assert got["pnl_usd"] == pytest.approx(expected, abs=1e-6)
    assert got["trades_per_day"] == 2.0


def test_buy_and_holds_gross_pnl_is_the_open_to_open_price_change_and_costs_the_rest(
        report: EvaluationReport, dual: ModelBundle, real_data: PreparedData) -> None:
    arrays = real_data.window(report.window, ("NVDA", "MSFT"))
    schedule = DualTickerTradingEnv(arrays, evaluation_env_config(dual.config.env)).schedule
    gross = 0.0
    for s in range(len(arrays.session_dates)):
        bars = schedule.bars[arrays.session[schedule.bars] == s]
        first, last = int(bars[0]), int(bars[-1])
        shares = int(1000.0 / arrays.close[first, 0])
        gross += shares * (arrays.open[last + 1, 0] - arrays.open[first + 1, 0])
    for cost in ("0x", "1x", "2x"):
        got = report.metrics("buy_and_hold_nvda", cost)
        assert got["gross_pnl_usd"] == pytest.approx(gross, abs=1e-6)
        assert got["costs_usd"] == pytest.approx(gross - got["pnl_usd"], abs=1e-6)
        assert got["trades"] == 2 * len(arrays.session_dates)
        assert got["cost_per_trade_usd"] == pytest.approx(got["costs_usd"] / got["trades"])
    one = report.metrics("buy_and_hold_nvda", "1x")
    assert one["break_even_cost_x"] == pytest.approx(gross / one["costs_usd"])


def test_gross_pnl_and_trades_do_not_depend_on_costs_and_costs_scale_with_them(
        report: EvaluationReport) -> None:
    for name in ("model", "model_argmax", "random", "momentum"):
        zero, one, two = (report.metrics(name, c) for c in ("0x", "1x", "2x"))
        assert zero["gross_pnl_usd"] == pytest.approx(one["gross_pnl_usd"], abs=1e-6)
        assert two["gross_pnl_usd"] == pytest.approx(one["gross_pnl_usd"], abs=1e-6)
        assert zero["trades"] == one["trades"] == two["trades"] > 0
        assert zero["costs_usd"] == 0.0 and zero["break_even_cost_x"] is None
        assert two["costs_usd"] == pytest.approx(2 * one["costs_usd"])


def test_more_costs_never_raise_the_return_of_a_trading_policy(report: EvaluationReport) -> None:
    for name in ("model", "random", "momentum"):
        runs = [[r["total_return"] for r in report.runs[c][name]] for c in ("0x", "1x", "2x")]
        for zero, one, two in zip(*runs, strict=True):
            assert two < one < zero
        assert report.metrics(name, "1x")["trades_per_day"] > 0


def test_evaluation_refuses_sessions_of_the_training_window(
        dual: ModelBundle, real_data: PreparedData, splits: Splits) -> None:
    with pytest.raises(EvaluationWindowError) as caught:
        evaluate(dual, real_data, window=DateWindow(date(2025, 2, 3), date(2025, 2, 6)))
    assert "overlap" in str(caught.value) and str(splits.train) in str(caught.value)


def test_sessions_inside_the_embargo_after_training_are_dropped(
        dual: ModelBundle, real_data: PreparedData) -> None:
    out = evaluate(dual, real_data, window=DateWindow(date(2025, 2, 4), date(2025, 2, 5)),
                   seeds=1, cost_multipliers=(1.0,))
    assert out.dropped == [date(2025, 2, 4)]
    assert out.window == DateWindow(date(2025, 2, 5), date(2025, 2, 5))


def test_an_unseen_replay_window_is_evaluated_with_the_models_normalisation(
        foundation: ModelBundle, real_bars: pd.DataFrame, splits: Splits) -> None:
    window = DateWindow(splits.test.start, date(2025, 2, 20))  # type: ignore[union-attr]
    unseen = cut_to_window(real_bars, window)
    data = evaluation_data(foundation, unseen, origin="unseen.csv")
    assert data.normalizers["NVDA"] is foundation.normalizers["NVDA"]
    out = evaluate(foundation, data, seeds=2).to_dict()
    assert set(out["baselines"]) == {"flat", "buy_and_hold_nvda", "random", "momentum"}
    assert out["seeds"] == 2


@pytest.mark.parametrize(("train", "test", "embargo", "anchored"),
                         [(10, 3, 1, False), (5, 2, 2, True), (8, 4, 0, False)])
def test_walk_forward_test_windows_never_overlap_and_follow_an_embargo(
        train: int, test: int, embargo: int, anchored: bool, real_data: PreparedData) -> None:
    days = list(real_data.sessions)
    folds = walk_forward_folds(days, train_sessions=train, test_sessions=test,
                               embargo_sessions=embargo, anchored=anchored)
    assert len(folds) == (len(days) - train - embargo) // test
    for fold, nxt in itertools.pairwise(folds):
        assert fold.test.end < nxt.test.start
        assert days.index(nxt.test.start) == days.index(fold.test.end) + 1
    for fold in folds:
        assert not fold.train.overlaps(fold.test)
        assert days.index(fold.test.start) - days.index(fold.train.end) - 1 == embargo
        assert days.index(fold.test.end) - days.index(fold.test.start) + 1 == test
        assert fold.train.start == days[0] if anchored else True
        if not anchored:
            assert days.index(fold.train.end) - days.index(fold.train.start) + 1 == train


def test_folds_split_the_window_into_consecutive_parts(report: EvaluationReport) -> None:
    assert report.folds == [DateWindow(date(2025, 2, 5), date(2025, 2, 5)),
                            DateWindow(date(2025, 2, 6), date(2025, 2, 6))]
    assert len(report.fold_metrics) == 2 and "flat" in report.fold_metrics[0]


def test_artifacts_are_a_markdown_table_and_an_equity_drawdown_png(
        report: EvaluationReport, tmp_path: Path) -> None:
    paths = write_artifacts(report, tmp_path / "eval")
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = paths["markdown"].read_text()
    assert "| model |" in table and "| buy_and_hold_nvda |" in table and "95% CI" in table


def test_per_session_pnl_adds_up_to_each_policys_pnl(report: EvaluationReport) -> None:
    # the unit of the session bootstrap and of the deflated Sharpe ratio: one net P&L per
    # evaluated session and policy, mean over seeds, summing to the policy's P&L
    assert len(report.session_dates) == len(report.session_pnl["model"]) >= 2
    assert list(report.session_dates) == sorted(set(report.session_dates))
    assert all(report.window.contains(d) for d in report.session_dates)
    for name in ("model", "flat", "buy_and_hold_nvda", "random"):
        assert report.session_pnl[name].sum() == pytest.approx(
            report.metrics(name)["pnl_usd"], abs=1e-6)
    book = report.to_dict()["execution_spec"]["evaluation_book_usd"]
    assert report.session_returns("flat").tolist() == [0.0] * len(report.session_dates)
    assert report.session_returns("model") * book == pytest.approx(report.session_pnl["model"])
