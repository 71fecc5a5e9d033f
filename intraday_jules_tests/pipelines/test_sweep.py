"""Sweeps for real: worker processes on one Optuna study in the project database (SQLite
file and PostgreSQL), tiny trainings on simulated sessions. Two workers reach N complete
trials with no duplicate, every complete trial a registered, tagged model; a worker killed
with SIGKILL mid-trial has its trial failed by the heartbeat and retried, none lost."""

import multiprocessing
import os
import signal
import time
from datetime import date
from pathlib import Path

import optuna
import pytest
from optuna.exceptions import ExperimentalWarning
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from intraday_jules.agent.model_store import ModelStore
from intraday_jules.cli.sweep_cmd import _process_main
from intraday_jules.db.engine import create_db_engine
from intraday_jules.pipelines.sweep import SweepRequest, run_sweep_worker, sweep_summary
from intraday_jules.pipelines.sweep_storage import open_storage
from intraday_jules.settings import Settings

#: 10 simulated sessions: train 03-03..03-06 (4), embargo, validation 03-10..03-11,
#: embargo, test 03-13..03-14
#: n_steps 32: one rollout of 16 envs x 32 bars covers the 256-step budgets
SPACE = """dimensions:
  n_steps: {choices: [32]}
  learning_rate: {low: 1.0e-4, high: 1.0e-3, log: true}
  train_sessions: {low: 2, high: 4}
"""
pytestmark = pytest.mark.filterwarnings("ignore", category=ExperimentalWarning)
TRIAL_KEYS = {"number", "state", "value", "params", "worker", "model_id"}
BEST_KEYS = {"number", "value", "params", "model_id"}


def make_settings(tmp_path: Path, url: str) -> Settings:
    env = {"INTRADAY_JULES_HOME": str(tmp_path / "home"), "INTRADAY_JULES_DEPLOYMENT": "ci"}
    return Settings.from_env(env, database_url=url)


def make_request(tmp_path: Path, study: str, trials: int, **kwargs) -> SweepRequest:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    return SweepRequest(study=study, trials=trials, space=space, source="simulated",
                        start=date(2025, 3, 3), end=date(2025, 3, 14), foundation_steps=256,
                        dual_steps=256, evaluation_seeds=1, **kwargs)


def start_worker(settings: Settings, request: SweepRequest, name: str):
    process = multiprocessing.get_context("spawn").Process(
        target=_process_main, args=(settings, request, name), name=name)
    process.start()
    return process


def test_two_worker_processes_reach_n_complete_trials_without_duplicates(tmp_path, db_url):
    settings = make_settings(tmp_path, db_url)
    request = make_request(tmp_path, "two-workers", trials=3)
    # no study yet: the two workers race to create Optuna's tables and the study
    workers = [start_worker(settings, request, f"w{i}") for i in range(2)]
    for worker in workers:
        worker.join(timeout=240)
        assert worker.exitcode == 0, f"{worker.name} exit {worker.exitcode}"
    summary = sweep_summary(settings, "two-workers")
    assert set(summary) == {"study", "trials", "best"} and summary["study"] == "two-workers"
    assert all(set(t) == TRIAL_KEYS for t in summary["trials"])
    numbers = [t["number"] for t in summary["trials"]]
    assert len(numbers) == len(set(numbers))
    complete = [t for t in summary["trials"] if t["state"] == "COMPLETE"]
    # at N, or N + 1 when both workers started the last trial at the same instant
    assert len(complete) in (3, 4)
    assert {t["worker"] for t in complete} <= {"w0", "w1"}
    assert set(summary["best"]) == BEST_KEYS
    assert summary["best"]["value"] == max(t["value"] for t in complete)
    store = ModelStore(settings.models_dir, create_db_engine(settings.database_url))
    for trial in complete:
        record = store.get(trial["model_id"])
        assert record.kind == "dual" and record.status == "evaluated"
        assert record.metrics["sweep"] == {"study": "two-workers", "trial": trial["number"],
                                           "params": trial["params"],
                                           "worker": trial["worker"]}
        assert record.metrics["evaluation"]["costs"]["1x"]["model"]["pnl_usd"] == \
            pytest.approx(trial["value"])
        assert store.get(record.parent_id).metrics["sweep"]["trial"] == trial["number"]
        assert (settings.tensorboard_dir / trial["model_id"]).is_dir()  # run named by id
    store.engine.dispose()
    study = optuna.load_study(study_name="two-workers", storage=open_storage(settings))
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        # where a trial's time went (benchmarks.sweep reads these)
        assert trial.user_attrs["train_s"] > 0 and trial.user_attrs["evaluate_s"] > 0
        assert trial.user_attrs["foundation_id"].startswith("foundation-two-workers-t")


def _running_trial(settings: Settings, name: str, process, timeout_s: float = 120
                   ) -> optuna.trial.FrozenTrial:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.is_alive(), f"worker exited ({process.exitcode}) before a trial ran"
        try:
            study = optuna.load_study(study_name=name, storage=open_storage(settings))
        except KeyError:
            time.sleep(0.2)
            continue
        # its "worker" attribute is set once ALL its params are drawn (the objective runs, so
        # the heartbeat thread has started); waiting for the first param only once compared
        # a half-drawn trial with its retry under load
        running = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                   if "worker" in t.user_attrs]
        if running:
            return running[0]
        time.sleep(0.05)
    raise AssertionError(f"no trial of {name} started within {timeout_s} s")


def test_a_worker_killed_mid_trial_has_its_trial_failed_by_heartbeat_and_retried(tmp_path):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'home' / 'ij.db'}")
    request = make_request(tmp_path, "killed", trials=2, heartbeat_interval_s=1,
                           grace_period_s=2)
    doomed = start_worker(settings, request, "doomed")
    killed = _running_trial(settings, "killed", doomed)
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.join()
    assert doomed.exitcode == -signal.SIGKILL
    done = run_sweep_worker(settings, request, worker="survivor")
    study = optuna.load_study(study_name="killed", storage=open_storage(settings))
    trials = {t.number: t for t in study.get_trials()}
    assert trials[killed.number].state == TrialState.FAIL  # the heartbeat went stale
    retries = [t for t in trials.values()
               if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == killed.number]
    assert len(retries) == 1, "the killed trial is retried exactly once"
    assert retries[0].state == TrialState.COMPLETE
    assert retries[0].params == killed.params == trials[killed.number].params
    complete = [t.number for t in trials.values() if t.state == TrialState.COMPLETE]
    assert len(complete) == 2  # exactly N: one worker finished the study
    assert retries[0].number in done and set(done) <= set(complete)
    assert all(trials[n].user_attrs["worker"] == "survivor" for n in done)


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_failed_and_retried(tmp_path):
    # a trial asked for but never heartbeating (its worker died in between): Optuna alone
    # would wait for it forever; the worker fails it after the grace period and retries it
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'home' / 'ij.db'}")
    request = make_request(tmp_path, "orphan", trials=1, heartbeat_interval_s=1,
                           grace_period_s=2)
    storage = open_storage(settings, heartbeat_interval_s=1, grace_period_s=2)
    orphan = optuna.create_study(study_name="orphan", storage=storage,
                                 direction="maximize").ask()
    worker = start_worker(settings, request, "survivor")
    worker.join(timeout=60)
    if worker.exitcode is None:
        worker.kill()
        worker.join()
    assert worker.exitcode == 0, "the worker waited for the orphan instead of failing it"
    study = optuna.load_study(study_name="orphan", storage=open_storage(settings))
    trials = {t.number: t for t in study.get_trials()}
    assert trials[orphan.number].state == TrialState.FAIL
    retried = [t for t in trials.values()
               if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == orphan.number]
    assert [t.state for t in retried] == [TrialState.COMPLETE]


def test_the_median_pruner_is_on_unless_the_request_turns_it_off(tmp_path):
    from intraday_jules.pipelines.sweep_storage import open_study

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'home' / 'ij.db'}")
    storage = open_storage(settings)
    assert isinstance(open_study(storage, "p").pruner, optuna.pruners.MedianPruner)
    assert isinstance(open_study(storage, "p", prune=False).pruner, optuna.pruners.NopPruner)
    with pytest.raises(ValueError, match="grace_period_s must exceed heartbeat_interval_s"):
        make_request(tmp_path, "bad", trials=1, heartbeat_interval_s=5, grace_period_s=5)
    with pytest.raises(ValueError, match=r"SweepRequest\.trials must be >= 1, got 0"):
        make_request(tmp_path, "bad", trials=0)
