"""Where sweeps live: Optuna's RDB storage in the project database, with heartbeats.

The project's own migrations and Optuna's both keep their Alembic revision in a table named
``alembic_version``, so the two cannot share one schema: on PostgreSQL the studies live in
the project database's ``optuna`` schema (the URL carries ``options=-csearch_path=optuna``),
on the embedded SQLite default in a file next to the database file (``<name>.optuna.db``).
Either way every worker that reaches the project database reaches the study.

A running trial records a heartbeat every ``heartbeat_interval_s``; a trial without one for
``grace_period_s`` (its worker was killed) is marked FAILED the next time any worker asks
for a trial, and ``RetryHeartbeatStaleTrialCallback`` (Optuna 4.9+'s name for
``RetryFailedTrialCallback``) queues a copy of it (same params, state WAITING) that the next
free worker runs: no trial is lost, and none is evaluated twice.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import optuna
import sqlalchemy as sa
from sqlalchemy.engine import URL

from intraday_jules.db.engine import (
    create_db_engine,
    database_password,
    normalise_url,
    url_lacks_password,
)
from intraday_jules.settings import Settings

T = TypeVar("T")
STUDY_SCHEMA = "optuna"
#: seconds between heartbeats of a running trial, and without one before it counts as dead
HEARTBEAT_INTERVAL_S = 10
GRACE_PERIOD_S = 30
#: how often a killed trial is retried (a trial that kills its worker every time stops)
MAX_RETRY = 3


@contextmanager
def quiet_experimental() -> Iterator[None]:
    """Optuna flags the heartbeat API as experimental at every call; we rely on it knowingly
    (pinned Optuna version, tested here), so the warning is noise in every worker's log."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def study_storage_url(settings: Settings) -> str:
    """The Optuna storage URL of the project database (no password in it: see
    ``open_storage``), usable by ``optuna-dashboard`` as well."""
    parsed = normalise_url(settings.database_url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_study_url(parsed)
    return parsed.update_query_dict({"options": f"-csearch_path={STUDY_SCHEMA}"}).render_as_string(
        hide_password=False)


def _sqlite_study_url(parsed: URL) -> str:
    database = parsed.database
    if not database or database == ":memory:":
        raise ValueError("sweeps need a database file or server: an in-memory SQLite "
                         "database is private to one process")
    path = Path(database)
    return f"sqlite:///{path.with_name(path.stem + '.optuna.db')}"


def open_storage(settings: Settings, *, heartbeat_interval_s: int = HEARTBEAT_INTERVAL_S,
                 grace_period_s: int = GRACE_PERIOD_S,
                 max_retry: int | None = MAX_RETRY) -> optuna.storages.RDBStorage:
    """The RDB storage, its schema created first on PostgreSQL; the database password (when
    the URL has none) comes from the project's secret, as for every other connection."""
    url = study_storage_url(settings)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "postgresql":
        _create_schema(settings)
        if url_lacks_password(parsed):
            secret, _problem = database_password(home=settings.home)
            if secret is not None:
                kwargs["connect_args"] = {"password": secret.reveal()}
    else:
        Path(parsed.database or ".").parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 60}  # wait for the other workers' writes
    with quiet_experimental():
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
        return retrying(lambda: optuna.storages.RDBStorage(
            url, engine_kwargs=kwargs, heartbeat_interval=heartbeat_interval_s,
            grace_period=grace_period_s, heartbeat_stale_trial_callback=retry))


def _create_schema(settings: Settings) -> None:
    engine = create_db_engine(settings.database_url, home=settings.home)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {STUDY_SCHEMA}"))
    except sa.exc.IntegrityError:
        pass  # another worker created it at the same moment
    finally:
        engine.dispose()


def retrying(make: Callable[[], T], attempts: int = 8) -> T:
    """Workers starting together race to create the same tables (Optuna's, the study, the
    project's migrations); the loser of such a race sees an integrity error (or, on SQLite,
    a lock or "already exists") and simply tries again: it then finds them."""
    for attempt in range(attempts):
        try:
            return make()
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError,
                optuna.exceptions.DuplicatedStudyError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.25 * (attempt + 1))
    raise AssertionError("unreachable")


def open_study(storage: optuna.storages.RDBStorage, name: str, *,
               sampler: optuna.samplers.BaseSampler | None = None,
               prune: bool = True) -> optuna.Study:
    """Create the study (maximise, median pruning) or join it if it exists. The pruner is
    the worker's own (Optuna stores none): ``prune=False`` lets this worker's trials run
    to the end."""
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0) if prune
              else optuna.pruners.NopPruner())
    return retrying(lambda: optuna.create_study(
        storage=storage, study_name=name, direction="maximize", load_if_exists=True,
        sampler=sampler, pruner=pruner))


def load_study(settings: Settings, name: str) -> optuna.Study:
    """An existing study (``KeyError`` naming the study and the storage if there is none)."""
    storage = open_storage(settings)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        known = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise KeyError(f"no study {name!r} in {mask(study_storage_url(settings))}; "
                       f"studies: {', '.join(known) or 'none'}") from None


def mask(url: str) -> str:
    from intraday_jules.url_masking import mask_url

    return mask_url(url)


class OrphanWatch:
    """Fails RUNNING trials that never recorded a heartbeat.

    Optuna only fails a trial whose heartbeat went stale; a worker killed between asking for
    a trial and its first heartbeat (a few milliseconds) leaves a RUNNING trial without any,
    which Optuna never fails: the study would wait for it forever. A worker that sees such a
    trial still without a heartbeat ``grace_period_s`` later (by its own clock, so no clock
    skew between machines matters) fails it and hands it to the retry callback, exactly as
    the heartbeat would have."""

    def __init__(self, storage: optuna.storages.RDBStorage, grace_period_s: float) -> None:
        self.storage = storage
        self.grace_period_s = grace_period_s
        self._first_seen: dict[int, float] = {}

    def check(self, study: optuna.Study, now: float | None = None) -> list[int]:
        """Fail the orphans seen for longer than the grace period; their trial numbers."""
        now = time.monotonic() if now is None else now
        storage = self.storage
        orphans = _heartbeatless(storage, storage.get_study_id_from_name(study.study_name))
        self._first_seen = {i: self._first_seen.get(i, now) for i in orphans}
        failed = []
        for trial_id, seen in list(self._first_seen.items()):
            if now - seen >= self.grace_period_s and storage.set_trial_state_values(
                    trial_id, optuna.trial.TrialState.FAIL):
                frozen = storage.get_trial(trial_id)
                callback = storage.get_heartbeat_stale_trial_callback()
                if callback is not None:
                    callback(study, frozen)
                failed.append(frozen.number)
                del self._first_seen[trial_id]
        return failed


def _heartbeatless(storage: Any, study_id: int) -> set[int]:
    query = sa.text("SELECT t.trial_id FROM trials t LEFT JOIN trial_heartbeats h "
                    "ON h.trial_id = t.trial_id WHERE t.study_id = :study AND "
                    "t.state = 'RUNNING' AND h.trial_id IS NULL")
    with storage.engine.connect() as conn:
        return {int(row[0]) for row in conn.execute(query, {"study": study_id})}
