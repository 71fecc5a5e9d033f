"""``sweep_job_celery`` on two real Celery worker processes and the local RabbitMQ: one worker is
killed with SIGKILL mid-trial, and the study still reaches N complete trials with none evaluated
twice: Optuna's heartbeat fails the dead worker's trial and it is retried once, and the broker
hands the dead worker's step (acknowledged late) to the surviving worker.

Needs RabbitMQ (127.0.0.1:5672, guest/guest, or INTRADAY_JULES_CELERY_BROKER_URL) and the test
PostgreSQL (the study's storage). Without RabbitMQ it skips, or fails when
INTRADAY_JULES_REQUIRE_RABBITMQ=1 (CI).
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import optuna
import pytest
from optuna.storages import RetryFailedTrialCallback
from optuna.trial import TrialState

from intraday_jules.defs.sweeps.celery_config import broker_url
from intraday_jules.pipelines.sweep_storage import load_study
from intraday_jules.settings import Settings
from intraday_jules_tests.defs import sweep_celery_target

REPO = Path(__file__).resolve().parents[2]
TRIALS = 4
WORKERS = 2
STUDY = "celery-kill"
# small budgets: a trial lasts seconds, long enough to be killed in, short enough for CI
BUDGETS = {"foundation_steps": 512, "dual_steps": 1024}

pytestmark = pytest.mark.pg


@pytest.fixture(scope="module")
def rabbitmq() -> str:
    url = broker_url()
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5672), 3).close()
    except OSError as exc:
        if os.environ.get("INTRADAY_JULES_REQUIRE_RABBITMQ") == "1":
            pytest.fail(f"INTRADAY_JULES_REQUIRE_RABBITMQ=1 but the broker at "
                        f"{parsed.hostname}:{parsed.port or 5672} is unreachable: {exc}")
        pytest.skip(f"RabbitMQ unreachable at {parsed.hostname}:{parsed.port or 5672} "
                    f"(set INTRADAY_JULES_CELERY_BROKER_URL): {exc}")
    return url


class Worker:
    """One `celery worker` process group (its pool child included), logging to a file."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "intraday_jules.defs.sweeps.celery_app",
                 "worker", "-Q", "dagster", "--concurrency", "1", "-n", f"{name}@%h",
                 "--without-gossip", "--without-mingle", "-l", "INFO"],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)

    def wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text():
                return
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.5)
        pytest.fail(f"celery worker {self.name} not ready in {timeout_s}s:\n"
                    f"{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL to the whole group: a machine lost, no chance to say goodbye."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def environment(tmp_path: Path, pg_url: str, rabbitmq: str,
                monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """One persistent Dagster instance (SQLite under a temp DAGSTER_HOME, shared by the run and
    the workers on this machine) and one project database, for this process and the workers."""
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    values = {"DAGSTER_HOME": str(dagster_home), "INTRADAY_JULES_HOME": str(tmp_path / "home"),
              "INTRADAY_JULES_DATABASE_URL": pg_url, "INTRADAY_JULES_DEPLOYMENT": "ci",
              "INTRADAY_JULES_CELERY_BROKER_URL": rabbitmq, "OMP_NUM_THREADS": "1"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return {**os.environ, **values,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture
def workers(environment: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Worker]]:
    started = {name: Worker(name, environment, tmp_path / f"{name}.log")
               for name in ("w1", "w2")}
    try:
        for worker in started.values():
            worker.wait_ready()
        yield started
    finally:
        for worker in started.values():
            worker.kill()


def _study() -> optuna.Study:
    # through the library: the studies live in their own schema (an Optuna table created in
    # the project's schema would clash with the project's migrations, as it once did here)
    return load_study(Settings.from_env(), STUDY)


def _step_hosts(instance: dg.DagsterInstance) -> list[tuple[str, str]]:
    """(step key, celery worker) for each step execution a worker started, in order."""
    hosts = []
    for run in instance.get_runs():
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event is None or not event.is_engine_event or not record.step_key:
                continue
            metadata = event.engine_event_data.metadata
            if "Celery worker" in metadata:
                hosts.append((record.step_key, str(metadata["Celery worker"].value)))
    return hosts


def _running_trials(study: optuna.Study | None) -> list[optuna.trial.FrozenTrial]:
    return [] if study is None else study.get_trials(deepcopy=False,
                                                     states=(TrialState.RUNNING,))


def _kill_one_mid_trial(instance: dg.DagsterInstance, workers: dict[str, Worker],
                        victim: list[str], timeout_s: float = 120) -> None:
    """Once both workers run a step, kill the first worker seen holding a running trial (its
    step key is the trial's ``worker`` attribute); record which step and worker that was."""
    deadline = time.monotonic() + timeout_s
    hosts: dict[str, str] = {}
    study = None
    while time.monotonic() < deadline:
        if len(hosts) < WORKERS:
            hosts = {step: host for step, host in _step_hosts(instance)
                     if step.startswith("sweep_worker[")}
        if study is None:
            with contextlib.suppress(KeyError):  # the first trial creates the study
                study = _study()
        running = _running_trials(study)
        victim[:] = [f"last seen: steps on {hosts}, {len(running)} running trials"]
        held = [t.user_attrs.get("worker") for t in running]
        if len(hosts) == WORKERS and (step := next((s for s in held if s in hosts), None)):
            victim[:] = [step, hosts[step]]
            workers[hosts[step].split("@")[0]].kill()
            return
        time.sleep(0.1)


def _assert_no_trial_lost_or_repeated(study: optuna.Study, killed_step: str) -> None:
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(complete) >= TRIALS, [(t.number, t.state) for t in trials]
    assert [t.user_attrs["worker"] for t in failed] == [killed_step], failed
    # the killed trial is run again exactly once, with its own parameters (to the end, or
    # pruned after its foundation like any other trial)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    retries = [t for t in finished
               if RetryFailedTrialCallback.retried_trial_number(t) == failed[0].number]
    assert len(retries) == 1, [(t.number, t.state, t.system_attrs) for t in trials]
    assert retries[0].params == failed[0].params
    # no configuration is evaluated twice
    evaluated = [tuple(sorted(t.params.items())) for t in finished]
    assert len(set(evaluated)) == len(evaluated), evaluated
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


# a step lost with its worker leaves the run waiting forever: fail in minutes, not at the
# suite's 15-minute timeout
@pytest.mark.timeout(300)
def test_sweep_survives_a_celery_worker_killed_mid_trial(environment, workers) -> None:
    started = time.monotonic()
    victim: list[str] = []
    with dg.DagsterInstance.get() as instance:
        monitor = threading.Thread(target=_kill_one_mid_trial, args=(instance, workers, victim),
                                   daemon=True)
        monitor.start()
        job = dg.reconstructable(sweep_celery_target.celery_sweep_job)
        with dg.execute_job(job, instance=instance, run_config={
                "study": STUDY, "trials": TRIALS, "workers": WORKERS,
                **BUDGETS}) as result:
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            summary = result.output_for_node("summarize_sweep")
        monitor.join(5)
        assert len(victim) == 2, f"no moment found with both workers mid-trial ({victim})"
        killed_step, killed_host = victim
        # the broker gave the killed worker's step to the survivor, which ran it again
        runs_of_step = [host for step, host in _step_hosts(instance) if step == killed_step]
        assert runs_of_step[0] == killed_host and len(runs_of_step) == 2
        assert runs_of_step[1] != killed_host
        assert instance.get_dynamic_partitions("sweep_study") == [STUDY]
    _assert_no_trial_lost_or_repeated(_study(), killed_step)
    assert summary["study"] == STUDY
    assert sum(t["state"] == "COMPLETE" for t in summary["trials"]) >= TRIALS
    assert time.monotonic() - started < 180
