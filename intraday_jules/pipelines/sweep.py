"""Sweeps: many workers pull trials from one Optuna study until it has N complete trials.

A worker (``run_sweep_worker``; a process of ``intraday-jules sweep --workers K``, or a
Dagster op of ``sweep_job``, on any machine that reaches the project database) loops:
ask a trial -> train foundation + dual with the trial's params (``sweep_trial``) -> score on
the validation window -> tell. The objective is ``sweep_trial.OBJECTIVE`` (the promotion
gate's figure, maximised). The foundation's score is reported as an intermediate value, so
the median pruner stops a trial whose foundation already scores below the median of the
trials before it. The study lives in the project database (``sweep_storage``): a killed
worker's trial is marked FAILED by the heartbeat and retried with the same params.

A worker starts a trial only while complete + running trials are below N, so the study
stops at N complete trials (two workers that look at the same instant may both start the
last one: the study then ends with N + 1, never fewer).
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from intraday_jules.agent.config import TrainingConfig
from intraday_jules.agent.model_store import ModelStore
from intraday_jules.db.engine import create_db_engine
from intraday_jules.pipelines.sweep_report import SweepReport, render_sweep_report
from intraday_jules.pipelines.sweep_space import SearchSpace, apply_params, load_space
from intraday_jules.pipelines.sweep_storage import (
    GRACE_PERIOD_S,
    HEARTBEAT_INTERVAL_S,
    OrphanWatch,
    load_study,
    open_storage,
    open_study,
    quiet_experimental,
    retrying,
    study_storage_url,
)
from intraday_jules.pipelines.sweep_trial import (
    OBJECTIVE,
    Budgets,
    SweepData,
    load_sweep_data,
    run_trial,
)
from intraday_jules.settings import Settings

__all__ = ["OBJECTIVE", "SweepReport", "SweepRequest", "default_space_path",
           "render_sweep_report", "retrain_best", "run_sweep_worker", "study_storage_url",
           "sweep_summary"]
log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]


def default_space_path() -> Path:
    """``sweeps/default.yaml`` at the repository root."""
    return REPO_ROOT / "sweeps" / "default.yaml"


@dataclass(frozen=True)
class SweepRequest:
    """One sweep: study name, target of complete trials, search space, data, budgets."""

    study: str
    trials: int
    space: Path
    source: str = "simulated"
    start: date | None = None
    end: date | None = None
    foundation_steps: int = 2_048
    dual_steps: int = 4_096
    seed: int = 0
    evaluation_seeds: int = 3
    heartbeat_interval_s: int = HEARTBEAT_INTERVAL_S
    grace_period_s: int = GRACE_PERIOD_S
    #: stop trials whose foundation scores below the median (False: every trial runs to
    #: the end, e.g. to compare worker counts on trials of equal cost)
    prune: bool = True

    def __post_init__(self) -> None:
        if not self.study.strip():
            raise ValueError("SweepRequest.study must be a non-empty name")
        for name in ("trials", "foundation_steps", "dual_steps", "evaluation_seeds",
                     "heartbeat_interval_s", "grace_period_s"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"SweepRequest.{name} must be >= 1, got {getattr(self, name)}")
        if self.grace_period_s <= self.heartbeat_interval_s:
            raise ValueError("SweepRequest.grace_period_s must exceed heartbeat_interval_s")

    def budgets(self) -> Budgets:
        return Budgets(self.foundation_steps, self.dual_steps, self.evaluation_seeds)


@dataclass
class _Worker:
    """What one worker's trials share: the study, the space, the bars, the model store."""

    settings: Settings
    request: SweepRequest
    name: str
    storage: optuna.storages.RDBStorage
    study: optuna.Study
    space: SearchSpace
    data: SweepData
    store: ModelStore
    completed: list[int]

    def objective(self, trial: optuna.Trial) -> float:
        params = self.space.suggest(trial)
        trial.set_user_attr("worker", self.name)
        tag = {"study": self.request.study, "trial": trial.number, "params": params,
               "worker": self.name}

        def report(value: float, step: int) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"foundation scored {value:.2f} at step {step}")

        outcome = run_trial(self.store, self.data, apply_params(params, TrainingConfig()),
                            budgets=self.request.budgets(), seed=self.request.seed, tag=tag,
                            tensorboard_root=self.settings.tensorboard_dir, report=report)
        trial.set_user_attr("model_id", outcome.model_id)
        trial.set_user_attr("foundation_id", outcome.foundation_id)
        trial.set_user_attr("train_s", outcome.train_s)  # the rest of the trial's time is
        trial.set_user_attr("evaluate_s", outcome.evaluate_s)  # data, saving, the study
        # the study's sessions x trials matrix: its probability of backtest overfitting
        trial.set_user_attr("session_pnl_usd", outcome.session_pnl_usd)
        self.completed.append(trial.number)
        return outcome.value


def open_worker(settings: Settings, request: SweepRequest, name: str) -> _Worker:
    """Check the space first (before touching the database), then join the study."""
    space = load_space(request.space)
    storage = open_storage(settings, heartbeat_interval_s=request.heartbeat_interval_s,
                           grace_period_s=request.grace_period_s)
    # each worker samples with its own seed: the same seed would propose the same params
    # to workers that ask at the same time
    sampler = optuna.samplers.TPESampler(seed=request.seed + zlib.crc32(name.encode()) % 2**20)
    study = open_study(storage, request.study, sampler=sampler, prune=request.prune)
    data = load_sweep_data(settings, request.source, request.start, request.end)
    store = retrying(lambda: ModelStore(settings.models_dir,
                                        create_db_engine(settings.database_url)))
    return _Worker(settings, request, name, storage, study, space, data, store, [])


def run_sweep_worker(settings: Settings, request: SweepRequest, *, worker: str) -> list[int]:
    """Run trials of ``request.study`` until it has ``request.trials`` COMPLETE trials;
    the numbers of the trials this worker completed. Safe in many processes at once."""
    state = open_worker(settings, request, worker)
    poll_s = min(request.heartbeat_interval_s, 2)
    orphans = OrphanWatch(state.storage, request.grace_period_s)
    try:
        while True:
            with quiet_experimental():  # dead workers' trials -> FAILED, and retried
                optuna.storages.fail_stale_trials(state.study)
                orphans.check(state.study)
            counts = _counts(state.study)
            if counts[TrialState.COMPLETE] >= request.trials:
                return list(state.completed)
            busy = counts[TrialState.COMPLETE] + counts[TrialState.RUNNING]
            if busy >= request.trials and not counts[TrialState.WAITING]:
                time.sleep(poll_s)  # the last trials are running elsewhere: wait for them
                continue
            # optimize, not ask/tell: Optuna's heartbeat only runs inside optimize
            state.study.optimize(state.objective, n_trials=1, gc_after_trial=False)
    finally:
        state.store.engine.dispose()


def _counts(study: optuna.Study) -> dict[TrialState, int]:
    counts = dict.fromkeys(TrialState, 0)
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state] += 1
    return counts


def sweep_summary(settings: Settings, study: str) -> dict[str, Any]:
    """``{"study", "trials": [{"number", "state", "value", "params", "worker",
    "model_id"}], "best": {"number", "value", "params", "model_id"} | None}``."""
    loaded = load_study(settings, study)
    trials = [{"number": t.number, "state": t.state.name, "value": t.value,
               "params": dict(t.params), "worker": t.user_attrs.get("worker"),
               "model_id": t.user_attrs.get("model_id")}
              for t in loaded.get_trials(deepcopy=False)]
    complete = [t for t in loaded.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    best = None
    if complete:
        top = loaded.best_trial
        best = {"number": top.number, "value": top.value, "params": dict(top.params),
                "model_id": top.user_attrs.get("model_id")}
    return {"study": study, "trials": trials, "best": best}


def retrain_best(settings: Settings, request: SweepRequest, seeds: int = 5) -> dict[str, Any]:
    """Retrain the study's best params with seeds ``request.seed .. + seeds - 1`` (each a
    registered model tagged with the study, the best trial and its retrain seed) and report
    the spread of the objective over them: how much of the best score was the seed."""
    import numpy as np

    if seeds < 1:
        raise ValueError(f"retrain_best needs seeds >= 1, got {seeds}")
    best = load_study(settings, request.study).best_trial  # ValueError: no complete trial
    data = load_sweep_data(settings, request.source, request.start, request.end)
    store = ModelStore(settings.models_dir, create_db_engine(settings.database_url))
    runs = []
    try:
        for seed in range(request.seed, request.seed + seeds):
            tag = {"study": request.study, "trial": best.number, "params": best.params,
                   "retrain_seed": seed}
            outcome = run_trial(store, data, apply_params(best.params, TrainingConfig()),
                                budgets=request.budgets(), seed=seed, tag=tag,
                                tensorboard_root=settings.tensorboard_dir)
            runs.append({"seed": seed, "model_id": outcome.model_id, "value": outcome.value})
    finally:
        store.engine.dispose()
    values = np.array([r["value"] for r in runs])
    return {"number": best.number, "params": dict(best.params), "objective": OBJECTIVE,
            "runs": runs, "mean": float(values.mean()), "std": float(values.std(ddof=0)),
            "min": float(values.min()), "max": float(values.max())}
