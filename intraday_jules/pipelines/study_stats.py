"""What a sweep's study says about the luck of its best model: how many trials were tried, how
much their Sharpe ratios vary (the deflated Sharpe ratio's inputs), and the probability of
backtest overfitting (CSCV) of the study's configurations on their validation sessions.

Every trial counts towards ``n_trials``, whatever its state (complete, pruned, failed,
running, waiting): each was a look at the data. The Sharpe ratios and the PBO can only come
from COMPLETE trials, the ones with a per-session validation P&L (``sweep_trial``,
user attribute ``"session_pnl_usd"``). All figures are per session, never annualised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial, TrialState

from intraday_jules.agent.model_store import ModelStore
from intraday_jules.agent.overfitting import (
    Pbo,
    column_sharpe,
    probability_of_backtest_overfitting,
)
from intraday_jules.db.engine import create_db_engine
from intraday_jules.pipelines.sweep_storage import load_study
from intraday_jules.settings import Settings

SESSION_PNL_ATTR = "session_pnl_usd"
#: CSCV's partitions: the paper's 16, fewer when the sessions are fewer (the largest even
#: number of blocks <= the sessions), never below 4 (C(4, 2) = 6 splits)
MAX_PARTITIONS = 16
MIN_PARTITIONS = 4


@dataclass(frozen=True)
class StudyOverfitting:
    """``n_trials``: every trial of the study; ``states``: how many in each state.
    ``trial_sharpe_variance``: sample variance (ddof 1) of the per-session Sharpe ratios of
    the complete trials (None, with ``variance_reason``, when fewer than 2 have one).
    ``pbo``: CSCV over the complete trials' (sessions x trials) P&L matrix on the sessions
    they all have (None, with ``reason``, when it cannot be computed)."""

    study: str
    n_trials: int
    states: dict[str, int]
    trial_numbers: tuple[int, ...]  # the complete trials in the matrix, in column order
    sessions: tuple[str, ...]  # the matrix's rows, oldest first
    trial_sharpes: tuple[float, ...]
    trial_sharpe_variance: float | None
    pbo: Pbo | None
    reason: str | None = None
    variance_reason: str | None = None
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "n_trials": self.n_trials, "states": dict(self.states),
                "complete_trials": list(self.trial_numbers), "sessions": len(self.sessions),
                "trial_sharpe_variance": self.trial_sharpe_variance,
                "trial_sharpe_variance_reason": self.variance_reason,
                "pbo": None if self.pbo is None else self.pbo.pbo,
                "pbo_detail": None if self.pbo is None else self.pbo.to_dict(),
                "pbo_reason": self.reason}


def study_overfitting(settings: Settings, study_name: str) -> StudyOverfitting:
    """The figures above for the study ``study_name`` of ``settings``' database
    (``KeyError`` naming the study if there is none)."""
    return overfitting_of(study_name, load_study(settings, study_name).get_trials(deepcopy=False))


def overfitting_of(study_name: str, trials: list[FrozenTrial]) -> StudyOverfitting:
    """``study_overfitting`` of a study's trials."""
    states = {state.name: 0 for state in TrialState}
    for trial in trials:
        states[trial.state.name] += 1
    columns = {t.number: t.user_attrs[SESSION_PNL_ATTR] for t in trials
               if t.state == TrialState.COMPLETE and t.user_attrs.get(SESSION_PNL_ATTR)}
    numbers = tuple(sorted(columns))
    sessions = tuple(sorted(set.intersection(*(set(c) for c in columns.values())))
                     if columns else ())
    matrix = np.array([[float(columns[n][s]) for n in numbers] for s in sessions],
                      dtype=np.float64).reshape(len(sessions), len(numbers))
    sharpes = tuple(float(x) for x in column_sharpe(matrix)) if len(sessions) >= 2 else ()
    variance, variance_reason = _variance(sharpes)
    pbo, reason = _pbo(matrix)
    return StudyOverfitting(study_name, len(trials), states, numbers, sessions, sharpes,
                            variance, pbo, reason, variance_reason, matrix)


def _variance(sharpes: tuple[float, ...]) -> tuple[float | None, str | None]:
    """Over the finite Sharpe ratios (a trial with the same P&L every session has none)."""
    finite = [s for s in sharpes if np.isfinite(s)]
    if len(finite) < 2:
        return None, (f"{len(finite)} complete trial(s) with a per-session Sharpe ratio "
                      "(2 sessions or more, not constant): a variance needs 2")
    return float(np.var(finite, ddof=1)), None


def _pbo(matrix: np.ndarray) -> tuple[Pbo | None, str | None]:
    n_sessions, n_configs = matrix.shape
    if n_configs < 2:
        return None, (f"{n_configs} complete trial(s) with per-session P&L: PBO compares "
                      "2 or more")
    partitions = min(MAX_PARTITIONS, n_sessions - n_sessions % 2)
    if partitions < MIN_PARTITIONS:
        return None, (f"{n_sessions} validation session(s) common to the complete trials: "
                      f"CSCV needs {MIN_PARTITIONS} or more")
    return probability_of_backtest_overfitting(matrix, n_partitions=partitions), None


@dataclass(frozen=True)
class ModelStudy:
    """The sweep a registered model came from: its study and trial (``retrain_seed``: set
    when it is a retrain of the study's best trial with another seed)."""

    study: str
    trial: int
    retrain_seed: int | None = None


def model_study(store_or_settings: ModelStore | Settings, model_id: str) -> ModelStudy | None:
    """The study and trial of ``model_id`` (its registry record's ``metrics["sweep"]``, as
    ``sweep_trial`` tags every model it saves); None when the model did not come from a
    sweep. ``ModelStoreError`` for an unknown model id."""
    if isinstance(store_or_settings, ModelStore):
        return _model_study(store_or_settings, model_id)
    store = ModelStore(store_or_settings.models_dir,
                       create_db_engine(store_or_settings.database_url))
    try:
        return _model_study(store, model_id)
    finally:
        store.engine.dispose()


def _model_study(store: ModelStore, model_id: str) -> ModelStudy | None:
    tag = store.get(model_id).metrics.get("sweep")
    if not isinstance(tag, dict) or "study" not in tag or "trial" not in tag:
        return None
    seed = tag.get("retrain_seed")
    return ModelStudy(str(tag["study"]), int(tag["trial"]), None if seed is None else int(seed))
