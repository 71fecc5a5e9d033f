"""The promotion gate, both ways: each failing criterion keeps the champion, with the reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from intraday_jules.agent import (
    DateWindow,
    EvaluationReport,
    ModelBundle,
    ModelStore,
    gate_criteria,
    promote,
)
from intraday_jules.agent.metrics import METRICS
from intraday_jules.db.engine import create_db_engine
from intraday_jules.features import DEFAULT_SPEC, FeatureSpec
from intraday_jules.risk import RiskLimits

GOOD = {"model": (0.010, 1.0), "flat": (0.0, 0.0), "buy_and_hold_nvda": (0.004, 0.8),
        "buy_and_hold_msft": (-0.002, 0.9), "fifty_fifty": (0.001, 0.5), "random": (-0.2, 20.0)}


#: robustness figures that pass the gate: CPCV median $40 over 5 paths (best buy-and-hold
#: $12), deflated Sharpe 0.97, a model from no study (PBO not applicable)
ROBUST = {"cpcv": {"paths": 5, "pnl_usd": {"median": 40.0, "p05": -5.0, "p95": 80.0},
                   "buy_and_hold_pnl_usd": {"median": 12.0, "p05": 12.0, "p95": 12.0}},
          "cpcv_reason": None, "dsr": {"probability": 0.97, "n_trials": 1},
          "dsr_reason": None, "pbo": None, "pbo_reason": "the model has no study",
          "study": None}


def _report(model_id: str, returns: dict[str, tuple[float, float]],
            robustness: dict[str, object] | None = None,
            **model_metrics: float) -> EvaluationReport:
    def metrics(total_return: float, drawdown: float) -> dict[str, float | None]:
        out: dict[str, float | None] = dict.fromkeys(METRICS, 0.0)
        out.update(total_return=total_return, pnl_usd=10_000 * total_return,
                   max_drawdown_pct=drawdown, max_drawdown_usd=60.0,
                   worst_daily_pnl_usd=-20.0)
        return out

    runs = {name: [metrics(*values)] for name, values in returns.items()}
    runs["model"][0].update(model_metrics)
    runs["model_argmax"] = runs["model"]
    return EvaluationReport(
        model_id=model_id, kind="dual", window=DateWindow(date(2025, 2, 5), date(2025, 2, 14)),
        folds=[], dropped=[], seeds=1, action_mode="sample", reference="1x", execution={},
        runs={"1x": runs}, fold_metrics=[],
        robustness=ROBUST if robustness is None else robustness)


@pytest.fixture
def store(tmp_path: Path, sqlite_url: str, foundation: ModelBundle,
          dual: ModelBundle) -> ModelStore:
    clock = iter(datetime(2026, 11, 26, 12, m, tzinfo=UTC) for m in range(60))
    store = ModelStore(tmp_path / "models", create_db_engine(sqlite_url),
                       clock=lambda: next(clock))
    store.save(replace(foundation), model_id="foundation")
    for name in ("champion", "challenger"):
        store.save(replace(dual, parent_id="foundation"), model_id=name)
    store.record_decision("champion", "promoted", "first model")
    return store


def test_a_challenger_that_passes_every_criterion_is_promoted(store: ModelStore) -> None:
    report = promote(store, "challenger", _report("challenger", GOOD))
    assert report.promoted and report.reasons == []
    assert store.champion_id() == "challenger" and store.get("champion").status == "retired"
    assert [c.name for c in report.criteria] == [
        "beats_flat", "beats_buy_and_hold", "max_drawdown", "max_drawdown_usd",
        "worst_daily_loss_usd", "feature_spec_matches", "execution_spec_honoured",
        "cpcv_median_pnl_usd", "cpcv_beats_buy_and_hold", "deflated_sharpe", "pbo"]
    live = {c.name: (c.value, c.threshold) for c in report.criteria}
    assert live["pbo"] == ("n/a: the model has no study", 0.5)
    assert live["cpcv_median_pnl_usd"] == (40.0, 0.0)
    assert live["cpcv_beats_buy_and_hold"] == (40.0, 12.0)
    assert live["deflated_sharpe"] == (0.97, 0.95)
    assert live["max_drawdown_usd"] == (60.0, 100.0)  # $ against RiskLimits() defaults
    assert live["worst_daily_loss_usd"] == (20.0, 50.0)
    assert live["execution_spec_honoured"][0] == "long-only, step $1000, cap $1000"
    last = store.promotion_history()[-1]
    assert (last.model_id, last.decision, last.previous_champion_id) == (
        "challenger", "promoted", "champion")
    assert last.report["criteria"][1]["threshold"] == 0.004


@pytest.mark.parametrize(("change", "criterion", "value", "threshold"), [
    ({"model": (-0.001, 1.0), "buy_and_hold_nvda": (-0.005, 1.0),
      "fifty_fifty": (-0.003, 1.0)}, "beats_flat", -0.001, 0.0),
    ({"model": (0.003, 1.0)}, "beats_buy_and_hold", 0.003, 0.004),
    ({"fifty_fifty": (0.02, 0.4)}, "beats_buy_and_hold", 0.010, 0.02),
    ({"model": (0.010, 2.5)}, "max_drawdown", 2.5, 2.0),
])
def test_a_challenger_failing_one_criterion_stays_unpromoted_with_the_reason(
        store: ModelStore, change: dict[str, tuple[float, float]], criterion: str,
        value: float, threshold: float) -> None:
    report = promote(store, "challenger", _report("challenger", {**GOOD, **change}))
    assert not report.promoted and store.champion_id() == "champion"
    failed = [c for c in report.criteria if not c.passed]
    assert [c.name for c in failed] == [criterion]
    assert (failed[0].value, failed[0].threshold) == (value, threshold)
    assert criterion in report.summary() and "champion stays champion" in report.summary()
    assert store.get("challenger").status == "rejected"
    assert store.promotion_history()[-1].decision == "rejected"


@pytest.mark.parametrize(("model_metrics", "criterion", "value", "threshold"), [
    ({"max_drawdown_usd": 120.0}, "max_drawdown_usd", 120.0, 100.0),
    ({"worst_daily_pnl_usd": -60.0}, "worst_daily_loss_usd", 60.0, 50.0),
])
def test_a_challenger_past_a_live_halt_in_dollars_is_rejected_though_within_two_percent(
        store: ModelStore, model_metrics: dict[str, float], criterion: str, value: float,
        threshold: float) -> None:
    # 1% drawdown passes the percent criterion; the dollars would halt the live loop
    report = promote(store, "challenger", _report("challenger", GOOD, **model_metrics))
    assert not report.promoted and store.champion_id() == "champion"
    failed = [c for c in report.criteria if not c.passed]
    assert [(c.name, c.value, c.threshold) for c in failed] == [(criterion, value, threshold)]
    assert criterion in report.summary()


def test_the_dollar_thresholds_are_the_live_limits_passed_to_the_gate(
        store: ModelStore) -> None:
    limits = RiskLimits(drawdown_limit_usd=Decimal("150"), daily_loss_limit_usd=Decimal("70"))
    report = promote(store, "challenger", _report("challenger", GOOD, max_drawdown_usd=120.0,
                                                  worst_daily_pnl_usd=-60.0), limits=limits)
    assert report.promoted
    live = {c.name: (c.value, c.threshold) for c in report.criteria}
    assert live["max_drawdown_usd"] == (120.0, 150.0)
    assert live["worst_daily_loss_usd"] == (60.0, 70.0)


def test_a_challenger_whose_execution_spec_the_live_limits_cannot_honour_is_rejected(
        store: ModelStore, dual: ModelBundle) -> None:
    env = replace(dual.config.env, allow_short=True, max_position_notional=2000.0)
    store.save(replace(dual, config=replace(dual.config, env=env), execution=None),
               model_id="shorting")
    report = promote(store, "shorting", _report("shorting", GOOD))
    assert not report.promoted and store.champion_id() == "champion"
    failed = [c for c in report.criteria if not c.passed]
    assert [c.name for c in failed] == ["execution_spec_honoured"]
    reason = str(failed[0].value)
    assert "allow_short=True" in reason and "forbid shorts (allow_short=False)" in reason
    assert "$2000.0" in reason and "max position per asset $1000" in reason
    assert failed[0].threshold == "max position $1000, max order $1000, shorts off"
    shorts_allowed = RiskLimits(allow_short=True, max_position_usd=Decimal("2000"),
                                max_order_usd=Decimal("1000"))
    criteria = gate_criteria(_report("shorting", GOOD).to_dict(), DEFAULT_SPEC.version,
                             limits=shorts_allowed, execution=store.execution_spec("shorting"))
    assert all(c.passed for c in criteria)


def test_gate_criteria_read_the_spec_the_evaluation_recorded(store: ModelStore) -> None:
    evaluation = _report("challenger", GOOD)
    without = gate_criteria(evaluation.to_dict(), DEFAULT_SPEC.version)
    assert [c.name for c in without if not c.passed] == ["execution_spec_honoured"]
    spec = store.execution_spec("challenger")
    evaluation.execution_spec = {"version": spec.version, **spec.to_dict()}
    assert all(c.passed for c in gate_criteria(evaluation.to_dict(), DEFAULT_SPEC.version))


def test_a_challenger_on_another_feature_spec_is_not_promoted(store: ModelStore) -> None:
    live = FeatureSpec(features=DEFAULT_SPEC.features, lookback=60)
    report = promote(store, "challenger", _report("challenger", GOOD), live_spec=live)
    assert not report.promoted
    spec = next(c for c in report.criteria if c.name == "feature_spec_matches")
    assert spec.value == DEFAULT_SPEC.version and spec.threshold == live.version


def test_the_gate_refuses_an_evaluation_of_another_model(store: ModelStore) -> None:
    with pytest.raises(ValueError, match="not of the challenger"):
        promote(store, "challenger", _report("champion", GOOD))


def _robust(**changes: object) -> dict[str, object]:
    return {**ROBUST, **changes}


@pytest.mark.parametrize(("robustness", "criterion", "value", "threshold"), [
    (_robust(cpcv={"paths": 5, "pnl_usd": {"median": -3.0},
                   "buy_and_hold_pnl_usd": {"median": -9.0}}),
     "cpcv_median_pnl_usd", -3.0, 0.0),
    (_robust(cpcv={"paths": 5, "pnl_usd": {"median": 30.0},
                   "buy_and_hold_pnl_usd": {"median": 31.0}}),
     "cpcv_beats_buy_and_hold", 30.0, 31.0),
    (_robust(dsr={"probability": 0.94}), "deflated_sharpe", 0.94, 0.95),
    (_robust(study={"study": "s", "n_trials": 20}, pbo=0.6, pbo_reason=None), "pbo", 0.6, 0.5),
    # a model from a study whose PBO cannot be computed is refused, not waved through
    (_robust(study={"study": "s", "n_trials": 1}, pbo=None,
             pbo_reason="study s: 1 complete trial(s)"), "pbo", "study s: 1 complete trial(s)",
     0.5),
    (_robust(dsr=None, dsr_reason="validation P&L per session: constant series"),
     "deflated_sharpe", "validation P&L per session: constant series", 0.95),
])
def test_a_challenger_failing_a_robustness_criterion_is_rejected_with_its_figure(
        store: ModelStore, robustness: dict[str, object], criterion: str, value: object,
        threshold: float) -> None:
    report = promote(store, "challenger", _report("challenger", GOOD, robustness))
    failed = [c for c in report.criteria if not c.passed]
    assert [(c.name, c.value, c.threshold) for c in failed] == [(criterion, value, threshold)]
    assert not report.promoted and store.champion_id() == "champion"


def test_an_evaluation_without_robustness_figures_fails_those_criteria(
        store: ModelStore) -> None:
    # never passed by default: an old evaluation (no CPCV, no DSR) cannot be promoted
    report = promote(store, "challenger", _report("challenger", GOOD, robustness={}))
    failed = {c.name: c.value for c in report.criteria if not c.passed}
    assert failed == {"cpcv_median_pnl_usd": "not measured",
                      "cpcv_beats_buy_and_hold": "not measured",
                      "deflated_sharpe": "not measured", "pbo": "not measured"}
    cpcv_missing = _report("challenger", GOOD, _robust(cpcv=None, cpcv_reason="too few"))
    failed_cpcv = [c.value for c in gate_criteria(cpcv_missing.to_dict(), DEFAULT_SPEC.version)
                   if not c.passed and c.name.startswith("cpcv")]
    assert failed_cpcv == ["too few", "too few"]
