"""The promotion gate: a challenger replaces the champion only if it earns it.

On the validation windows, after 1x costs, the challenger must
1. beat flat (total return strictly above the flat book's, which is 0),
2. beat buy-and-hold (strictly above the best of the buy-and-hold baselines present:
   each single-asset one and, for two assets, the 50/50 book),
3. keep its max drawdown <= 2% (the seed's target),
4. keep its max drawdown in $ <= the live drawdown halt (``RiskLimits.drawdown_limit_usd``,
   $100 by default),
5. keep its worst session's loss in $ <= the live daily loss halt
   (``RiskLimits.daily_loss_limit_usd``, $50 by default),
6. have the live FeatureSpec hash (a model on other features cannot be served), and
7. have an ExecutionSpec the live risk limits honour (its cap <= the max position per
   asset, its step <= the max order, shorts only if the limits allow them),
8. have a CPCV median P&L (its recipe retrained on every split of combinatorial purged
   cross-validation over the training and validation sessions, ``pipelines.robustness``)
   above $0 and
9. above the best buy-and-hold's median P&L on the same paths,
10. have a deflated Sharpe probability >= 0.95 (its per-session validation P&L, every trial
    of its study counted; one trial when it has no study), and
11. have a probability of backtest overfitting <= 0.5 for the study it came from (a model
    that did not come from a sweep was not selected among trials: not applicable, shown so).
A figure the evaluation could not compute (too few sessions, a flat policy, no CPCV run)
fails its criterion, with the reason as its value.
The percent and dollar figures are both measured by the evaluation, which runs on the
model's ExecutionSpec: its evaluation book ($10,000 by default) and its position caps, which
equal the live caps by default ($1,000 per asset = ``RiskLimits.max_position_usd``), so the
dollar criteria are the halts the model would meet live. The figures are means over the
evaluation's seeds, as for every other criterion.
Otherwise the champion stays; the report lists every criterion with its value and threshold,
and the decision (promoted or rejected) is appended to ``model_promotions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from intraday_jules.agent.evaluation import EvaluationReport
from intraday_jules.agent.execution_spec import ExecutionSpec
from intraday_jules.agent.model_store import ModelStore
from intraday_jules.features import DEFAULT_SPEC, FeatureSpec
from intraday_jules.risk.limits import RiskLimits

MAX_DRAWDOWN_PCT = 2.0
MIN_DEFLATED_SHARPE = 0.95
MAX_PBO = 0.5
GATE_COST = "1x"
HOLD_BASELINES = ("buy_and_hold_", "fifty_fifty")


@dataclass(frozen=True)
class Criterion:
    """One gate test: ``value`` compared with ``threshold`` by ``rule``."""

    name: str
    passed: bool
    value: float | str | None
    threshold: float | str | None
    rule: str

    def line(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return f"{self.name}: {verdict}: {self.value} {self.rule} {self.threshold}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "value": self.value,
                "threshold": self.threshold, "rule": self.rule}


@dataclass(frozen=True)
class GateReport:
    """The gate's verdict on one challenger, with the champion before and after."""

    challenger_id: str | None
    champion_before: str | None
    promoted: bool
    criteria: tuple[Criterion, ...]
    cost: str = GATE_COST

    @property
    def champion_after(self) -> str | None:
        return self.challenger_id if self.promoted else self.champion_before

    @property
    def reasons(self) -> list[str]:
        """Why the challenger was rejected (empty when promoted)."""
        return [c.line() for c in self.criteria if not c.passed]

    def summary(self) -> str:
        if self.promoted:
            return f"{self.challenger_id} promoted: every criterion passed at {self.cost} costs"
        return (f"{self.challenger_id} rejected, champion stays {self.champion_before}: "
                + "; ".join(self.reasons))

    def to_dict(self) -> dict[str, Any]:
        return {"challenger_id": self.challenger_id, "champion_before": self.champion_before,
                "champion_after": self.champion_after, "promoted": self.promoted,
                "cost": self.cost, "criteria": [c.to_dict() for c in self.criteria],
                "summary": self.summary()}

    def markdown(self) -> str:
        from intraday_jules.agent.report import gate_table_markdown

        return "\n".join([f"**{self.summary()}**", "",
                          gate_table_markdown(c.to_dict() for c in self.criteria)])


def gate_criteria(evaluation: Mapping[str, Any], challenger_spec_version: str,
                  live_spec: FeatureSpec = DEFAULT_SPEC, *,
                  max_drawdown_pct: float = MAX_DRAWDOWN_PCT,
                  cost: str = GATE_COST, limits: RiskLimits | None = None,
                  execution: ExecutionSpec | None = None) -> tuple[Criterion, ...]:
    """The eleven criteria, from an evaluation in its JSON form (``EvaluationReport.to_dict``).

    ``limits``: the live risk limits (default ``RiskLimits()``: $100 drawdown, $50 daily
    loss, $1,000 per asset). ``execution``: the challenger's ExecutionSpec (default: the one
    the evaluation records under "execution_spec")."""
    limits = limits or RiskLimits()
    level = evaluation["costs"][cost]
    model, baselines = level["model"], level["baselines"]
    ret = model["total_return"]
    holds = {n: b["total_return"] for n, b in baselines.items() if n.startswith(HOLD_BASELINES)}
    best_hold = max(holds.values()) if holds else None
    flat = baselines["flat"]["total_return"]
    drawdown = model["max_drawdown_pct"]
    return (
        Criterion("beats_flat", ret is not None and ret > flat, ret, flat,
                  "total_return > flat's"),
        Criterion("beats_buy_and_hold", best_hold is not None and ret is not None
                  and ret > best_hold, ret, best_hold,
                  f"total_return > best of {sorted(holds)}"),
        Criterion("max_drawdown", drawdown is not None and drawdown <= max_drawdown_pct,
                  drawdown, max_drawdown_pct, "max_drawdown_pct <="),
        *_live_unit_criteria(model, limits),
        Criterion("feature_spec_matches", challenger_spec_version == live_spec.version,
                  challenger_spec_version, live_spec.version, "FeatureSpec hash =="),
        _execution_criterion(execution or _recorded_spec(evaluation), limits),
        *robustness_criteria(evaluation),
    )


def robustness_criteria(evaluation: Mapping[str, Any]) -> tuple[Criterion, ...]:
    """CPCV median P&L > 0 and > the best buy-and-hold's, deflated Sharpe >= 0.95, PBO <=
    0.5, from the evaluation's JSON (``pipelines.robustness`` keys)."""
    cpcv = evaluation.get("cpcv")
    missing = evaluation.get("cpcv_reason") or "not measured"
    median = None if cpcv is None else cpcv["pnl_usd"]["median"]
    hold = None if cpcv is None else cpcv["buy_and_hold_pnl_usd"]["median"]
    dsr = evaluation.get("dsr")
    probability = None if dsr is None else dsr["probability"]
    return (
        Criterion("cpcv_median_pnl_usd", median is not None and median > 0,
                  missing if median is None else median, 0.0, "CPCV median P&L $ >"),
        Criterion("cpcv_beats_buy_and_hold", median is not None and hold is not None
                  and median > hold, missing if median is None else median, hold,
                  "CPCV median P&L $ > best buy-and-hold's median"),
        Criterion("deflated_sharpe", probability is not None
                  and probability >= MIN_DEFLATED_SHARPE,
                  (evaluation.get("dsr_reason") or "not measured") if probability is None
                  else probability, MIN_DEFLATED_SHARPE, "deflated Sharpe probability >="),
        _pbo_criterion(evaluation),
    )


def _pbo_criterion(evaluation: Mapping[str, Any]) -> Criterion:
    pbo, rule = evaluation.get("pbo"), "probability of backtest overfitting <="
    if pbo is not None:
        return Criterion("pbo", pbo <= MAX_PBO, pbo, MAX_PBO, rule)
    if "pbo" in evaluation and evaluation.get("study") is None:
        # not selected among trials: nothing to overfit by selection (the DSR counts 1 trial)
        return Criterion("pbo", True, "n/a: the model has no study", MAX_PBO, rule)
    return Criterion("pbo", False, evaluation.get("pbo_reason") or "not measured", MAX_PBO,
                     rule)


def _live_unit_criteria(model: Mapping[str, Any], limits: RiskLimits) -> tuple[Criterion, ...]:
    """Drawdown and worst session loss in $, against the live halts."""
    drawdown_usd = model.get("max_drawdown_usd")
    worst_pnl = model.get("worst_daily_pnl_usd")
    worst_loss = None if worst_pnl is None else max(-float(worst_pnl), 0.0)
    dd_limit, loss_limit = float(limits.drawdown_limit_usd), float(limits.daily_loss_limit_usd)
    return (
        Criterion("max_drawdown_usd", drawdown_usd is not None and drawdown_usd <= dd_limit,
                  drawdown_usd, dd_limit, "max_drawdown_usd <= live drawdown limit"),
        Criterion("worst_daily_loss_usd", worst_loss is not None and worst_loss <= loss_limit,
                  worst_loss, loss_limit, "worst_daily_loss_usd <= live daily loss limit"),
    )


def _recorded_spec(evaluation: Mapping[str, Any]) -> ExecutionSpec | None:
    recorded = evaluation.get("execution_spec")
    if recorded is None:
        return None
    return ExecutionSpec.from_dict({k: v for k, v in recorded.items() if k != "version"})


def _execution_criterion(spec: ExecutionSpec | None, limits: RiskLimits) -> Criterion:
    threshold = (f"max position ${limits.max_position_usd}, max order "
                 f"${limits.max_order_usd}, shorts {'allowed' if limits.allow_short else 'off'}")
    if spec is None:
        return Criterion("execution_spec_honoured", False, None, threshold,
                         "ExecutionSpec honoured by the live limits")
    reasons = spec.unhonoured(limits)
    value = ("; ".join(reasons) if reasons else
             f"{'long/short' if spec.allow_short else 'long-only'}, step "
             f"${spec.step_notional:g}, cap ${spec.max_position_notional:g}")
    return Criterion("execution_spec_honoured", not reasons, value, threshold,
                     "ExecutionSpec honoured by the live limits")


def promote(store: ModelStore, challenger_id: str, evaluation: EvaluationReport, *,
            live_spec: FeatureSpec = DEFAULT_SPEC,
            max_drawdown_pct: float = MAX_DRAWDOWN_PCT,
            limits: RiskLimits | None = None) -> GateReport:
    """Run the gate on ``challenger_id``'s validation evaluation against the live ``limits``
    (default ``RiskLimits()``; pass ``RiskLimits.from_settings(settings)``) and record the
    decision (promoted: it becomes the champion and the old one is retired; rejected: the
    champion stays). Returns the report that says why."""
    if evaluation.model_id not in (None, challenger_id):
        raise ValueError(f"the evaluation is of model {evaluation.model_id}, "
                         f"not of the challenger {challenger_id}")
    record = store.get(challenger_id)
    criteria = gate_criteria(evaluation.to_dict(), record.spec_version, live_spec,
                             max_drawdown_pct=max_drawdown_pct, limits=limits,
                             execution=store.execution_spec(challenger_id))
    report = GateReport(challenger_id, store.champion_id(),
                        all(c.passed for c in criteria), criteria)
    store.record_decision(challenger_id, "promoted" if report.promoted else "rejected",
                          report.summary(), {**report.to_dict(),
                                             "evaluation": evaluation.summary()})
    return report
