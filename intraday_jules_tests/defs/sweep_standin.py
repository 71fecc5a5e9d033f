"""A stand-in for ``intraday_jules.pipelines.sweep`` (helper D's library, not merged yet) with
the names of docs' sweep interface, so the Dagster and Celery wiring is tested on its own.

It is a real Optuna sweep on the project database (RDB storage, heartbeat, failed-trial retry)
whose "training" is a pause of ``TRIAL_SECONDS``: long enough to kill a worker mid-trial.
``install()`` puts it in ``sys.modules`` under the library's name only while the library is
absent; a test that needs it calls ``install()`` in every process that runs the job (the
reconstructable job's module does, so Celery workers do too).
"""

from __future__ import annotations

import importlib.util
import sys
import time
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RDBStorage, RetryFailedTrialCallback
from optuna.trial import TrialState

from intraday_jules.settings import Settings

LIBRARY = "intraday_jules.pipelines.sweep"
TRIAL_SECONDS = 3.0
HEARTBEAT_S = 1
GRACE_S = 4


@dataclass(frozen=True)
class SweepRequest:
    study: str
    trials: int
    space: Path
    source: str = "simulated"
    start: date | None = None
    end: date | None = None
    foundation_steps: int = 1
    dual_steps: int = 1
    seed: int = 0


@dataclass(frozen=True)
class SweepReport:
    markdown: str
    images: tuple[Path, ...]
    best: dict[str, Any] | None


def default_space_path() -> Path:
    return Path(__file__).with_name("sweep_standin_space.yaml")


def study_storage_url(settings: Settings) -> str:
    return settings.database_url


def _study(settings: Settings, name: str, seed: int = 0) -> optuna.Study:
    storage = RDBStorage(study_storage_url(settings), heartbeat_interval=HEARTBEAT_S,
                         grace_period=GRACE_S,
                         heartbeat_stale_trial_callback=RetryFailedTrialCallback(max_retry=2))
    return optuna.create_study(study_name=name, storage=storage, direction="maximize",
                               load_if_exists=True, sampler=optuna.samplers.RandomSampler(seed))


def _counts(study: optuna.Study) -> tuple[int, int, int]:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return (states.count(TrialState.COMPLETE), states.count(TrialState.RUNNING),
            states.count(TrialState.WAITING))


def run_sweep_worker(settings: Settings, request: SweepRequest, *, worker: str) -> list[int]:
    # each worker its own sampler seed: with one seed, all workers ask the same parameters
    study = _study(settings, request.study, request.seed + zlib.crc32(worker.encode()))
    completed: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        x = trial.suggest_float("x", 0.0, 1.0)
        time.sleep(TRIAL_SECONDS)
        completed.append(trial.number)
        return -((x - 0.3) ** 2)

    while True:
        optuna.storages.fail_stale_trials(study)  # a dead worker's trial: FAIL, then retried
        done, running, waiting = _counts(study)
        if done >= request.trials:
            return completed
        # a waiting trial (a retry) is taken first; else enough running: wait, maybe for a
        # stale one to fail and come back as a retry
        if not waiting and done + running >= request.trials:
            time.sleep(0.5)
            continue
        study.optimize(objective, n_trials=1)


def sweep_summary(settings: Settings, study: str) -> dict[str, Any]:
    loaded = _study(settings, study)
    trials = [{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
               "worker": t.user_attrs.get("worker"), "model_id": None}
              for t in loaded.get_trials(deepcopy=False)]
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    best = max(complete, key=lambda t: t["value"], default=None)
    return {"study": study, "trials": trials,
            "best": None if best is None else {k: best[k] for k in
                                               ("number", "value", "params", "model_id")}}


def render_sweep_report(settings: Settings, study: str, out_dir: Path) -> SweepReport:
    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization.matplotlib import plot_optimization_history

    summary = sweep_summary(settings, study)
    axes = plot_optimization_history(_study(settings, study))
    image = out_dir / "history.png"
    axes.figure.savefig(image)
    matplotlib.pyplot.close(axes.figure)
    lines = [f"# Sweep {study}", "", "| trial | state | value | worker |", "|---|---|---|---|"]
    lines += [f"| {t['number']} | {t['state']} | {t['value']} | {t['worker']} |"
              for t in summary["trials"]]
    return SweepReport("\n".join(lines), (image,), summary["best"])


def install() -> None:
    """Serve this module as the library, unless the library itself is importable."""
    if LIBRARY in sys.modules or importlib.util.find_spec(LIBRARY) is not None:
        return
    sys.modules[LIBRARY] = sys.modules[__name__]
