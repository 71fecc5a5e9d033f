"""The figures that tell a good agent from a lucky one, beside an evaluation (issue 15):

- ``cpcv``: combinatorial purged cross-validation of the model's RECIPE over the sessions
  of its training and validation windows (``pipelines.cpcv``: retrained on every split at
  the CPCV budgets, evaluated on the split's test sessions, recombined into paths): the
  distribution of out-of-sample P&L, per-session Sharpe and drawdown over the paths, and the
  best buy-and-hold's on the same paths.
- ``dsr``: the deflated Sharpe ratio (Bailey & Lopez de Prado 2014, ``agent.overfitting``)
  of the model's per-session net P&L on validation at 1x costs, counting EVERY trial of the
  study the model came from (failed and pruned included); one trial when it has no study.
- ``pbo``: the probability of backtest overfitting (CSCV) of that study; null with a
  ``pbo_reason`` when the model has no study or the study cannot give one.
- ``bootstrap``: 95% intervals of the validation P&L over SESSIONS (market uncertainty),
  beside the evaluation's intervals over policy seeds.

Each figure that cannot be computed is null with a ``*_reason``: the gate then fails the
criterion that needs it, it never passes it by default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.agent.bootstrap import session_bootstrap
from intraday_jules.agent.bundle import ModelBundle
from intraday_jules.agent.cpcv import CpcvPlanError
from intraday_jules.agent.data import TrainingDataError
from intraday_jules.agent.evaluation import MODEL, EvaluationReport
from intraday_jules.agent.overfitting import deflated_sharpe
from intraday_jules.pipelines.study_stats import StudyOverfitting

#: the CPCV plan: 6 groups, 2 test groups (15 splits, 5 paths), embargo 1 session, purge 0
#: (every position is flat at the close: no label crosses a session)
CPCV_GROUPS = 6
CPCV_TEST_GROUPS = 2
MIN_CPCV_GROUPS = 3


@dataclass(frozen=True)
class CpcvBudget:
    """Per-split training budgets of the CPCV (a fraction of a full training: the CPCV
    judges the recipe, 15 times over)."""

    foundation_steps: int
    dual_steps: int
    seeds: int = 3

    @classmethod
    def from_settings(cls, settings: Any) -> CpcvBudget:
        return cls(settings.cpcv_foundation_steps, settings.cpcv_dual_steps)


StudyLookup = Callable[[str], StudyOverfitting]


def robustness_figures(report: EvaluationReport, bundle: ModelBundle, bars: pd.DataFrame | None,
                       *, budget: CpcvBudget | None, study: str | None,
                       study_lookup: StudyLookup | None, seed: int = 0) -> dict[str, Any]:
    """``{"cpcv", "cpcv_reason", "dsr", "dsr_reason", "pbo", "pbo_reason", "pbo_detail",
    "study", "bootstrap"}`` for ``report`` (the model's validation evaluation). ``bars``:
    the sessions the CPCV splits (None or ``budget`` None: no CPCV, with the reason)."""
    stats, study_reason = _study_stats(study, study_lookup)
    out: dict[str, Any] = {"study": None if stats is None else stats.to_dict()}
    out.update(_cpcv(bundle, bars, budget, seed))
    out.update(_dsr(report, stats, study_reason))
    out.update(_pbo(stats, study_reason))
    out["bootstrap"] = _bootstrap(report)
    return out


def _study_stats(study: str | None, lookup: StudyLookup | None
                 ) -> tuple[StudyOverfitting | None, str | None]:
    if study is None:
        return None, "the model has no study (it did not come from a sweep)"
    if lookup is None:
        return None, f"study {study!r}: no study storage to read it from"
    try:
        return lookup(study), None
    except KeyError as exc:
        return None, str(exc.args[0] if exc.args else exc)


def _cpcv(bundle: ModelBundle, bars: pd.DataFrame | None, budget: CpcvBudget | None,
          seed: int) -> dict[str, Any]:
    from intraday_jules.pipelines.cpcv import run_cpcv

    if budget is None or bars is None:
        return {"cpcv": None, "cpcv_reason": "CPCV not requested"}
    groups = _groups_that_fit(bars)
    if groups is None:
        return {"cpcv": None, "cpcv_reason": f"{_n_sessions(bars)} sessions are too few for "
                                              f"a CPCV of {MIN_CPCV_GROUPS} groups"}
    try:
        result = run_cpcv(bars, bundle.config, foundation_steps=budget.foundation_steps,
                          dual_steps=budget.dual_steps, seed=seed, seeds=budget.seeds,
                          n_groups=groups, n_test_groups=CPCV_TEST_GROUPS,
                          symbols=bundle.symbols, spec=bundle.spec)
    except (CpcvPlanError, TrainingDataError) as exc:
        return {"cpcv": None, "cpcv_reason": str(exc)}
    return {"cpcv": {**result.to_dict(), "foundation_steps": budget.foundation_steps,
                     "dual_steps": budget.dual_steps}, "cpcv_reason": None}


def _n_sessions(bars: pd.DataFrame) -> int:
    from intraday_jules.pipelines.cpcv import bar_sessions

    return len(bar_sessions(bars))


def _groups_that_fit(bars: pd.DataFrame) -> int | None:
    """6 groups when the sessions allow (>= 3 sessions a group, 1 embargoed), else fewer."""
    sessions = _n_sessions(bars)
    for groups in range(CPCV_GROUPS, MIN_CPCV_GROUPS - 1, -1):
        if sessions >= 3 * groups:
            return groups
    return None


def _dsr(report: EvaluationReport, stats: StudyOverfitting | None,
         study_reason: str | None) -> dict[str, Any]:
    pnl = report.session_pnl[MODEL]
    if stats is None:
        n_trials, variance = 1, 0.0  # no selection among trials: the DSR is the PSR vs 0
    elif stats.trial_sharpe_variance is None and stats.n_trials > 1:
        return {"dsr": None, "dsr_reason": f"study {stats.study}: {stats.variance_reason}"}
    else:
        n_trials, variance = stats.n_trials, stats.trial_sharpe_variance or 0.0
    try:
        dsr = deflated_sharpe(np.asarray(pnl, dtype=np.float64), n_trials=n_trials,
                              trial_sharpe_variance=variance)
    except ValueError as exc:  # < 3 sessions, or a constant series (a flat policy)
        return {"dsr": None, "dsr_reason": f"validation P&L per session: {exc}"}
    return {"dsr": dsr.to_dict(), "dsr_reason": None}


def _pbo(stats: StudyOverfitting | None, study_reason: str | None) -> dict[str, Any]:
    if stats is None:
        return {"pbo": None, "pbo_reason": study_reason, "pbo_detail": None}
    if stats.pbo is None:
        return {"pbo": None, "pbo_reason": f"study {stats.study}: {stats.reason}",
                "pbo_detail": None}
    return {"pbo": stats.pbo.pbo, "pbo_reason": None, "pbo_detail": stats.pbo.to_dict()}


def _bootstrap(report: EvaluationReport) -> dict[str, Any]:
    """Session-bootstrap 95% intervals of the total and the per-session validation P&L."""
    pnl = np.asarray(report.session_pnl[MODEL], dtype=np.float64)
    if len(pnl) < 2:
        return {"sessions": len(pnl), "reason": "fewer than 2 sessions"}
    return {"sessions": len(pnl),
            "pnl_usd": session_bootstrap(pnl, statistic="sum").to_dict(),
            "pnl_usd_per_session": session_bootstrap(pnl, statistic="mean").to_dict()}
