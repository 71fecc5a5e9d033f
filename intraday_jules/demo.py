"""``make demo``: run the pipeline through Dagster on the embedded default and say what it did.

Like ``definitions``, this is an entry point that may import the Dagster wiring: each stage
runs as a real job on the persistent instance under ``$INTRADAY_JULES_HOME/dagster``, so runs,
lineage and check results are in the UI afterwards (``make ui``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg

from intraday_jules.db.engine import mask_url
from intraday_jules.definitions import build_definitions
from intraday_jules.defs.ingestion import INGEST_JOB_NAME
from intraday_jules.defs.partitions import partition_key
from intraday_jules.defs.quality import REPORT_JOB_NAME
from intraday_jules.defs.training import TRAIN_JOB_NAME
from intraday_jules.domain.calendar import last_completed_sessions
from intraday_jules.instance import ensure_dagster_home
from intraday_jules.market_data.store import BarStore
from intraday_jules.settings import Settings

log = logging.getLogger(__name__)
Step = Callable[[str], None]


class DemoFailed(RuntimeError):
    """A demo stage's Dagster run failed; the message names the run and the step."""


@dataclass
class DemoReport:
    sessions: list[date]
    runs: list[dict[str, Any]] = field(default_factory=list)
    rows_per_symbol: dict[str, int] = field(default_factory=dict)
    database: str = ""
    backend: str = ""
    dagster_home: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"sessions": [s.isoformat() for s in self.sessions], "runs": self.runs,
                "rows_per_symbol": self.rows_per_symbol, "database": self.database,
                "backend": self.backend, "dagster_home": self.dagster_home}


def planned_runs(settings: Settings, sessions: list[date]) -> list[tuple[str, str | None]]:
    """(job name, partition key) for every run the demo launches, in order."""
    runs: list[tuple[str, str | None]] = []
    for session in sessions:
        for symbol in settings.symbols:
            runs.append((INGEST_JOB_NAME, str(partition_key(session.isoformat(), symbol))))
        runs.append((REPORT_JOB_NAME, session.isoformat()))
    runs.append((TRAIN_JOB_NAME, None))
    return runs


def run_demo(settings: Settings, *, sessions: int = 10, now: datetime | None = None,
             on_step: Step | None = None) -> DemoReport:
    """Materialize the asset graph for the last ``sessions`` completed sessions."""
    home = ensure_dagster_home(settings)
    days = last_completed_sessions(now or datetime.now(UTC), sessions)
    report = DemoReport(sessions=days, dagster_home=str(home))
    defs = build_definitions(settings)
    with dg.DagsterInstance.get() as instance:
        for job_name, key in planned_runs(settings, days):
            if on_step:
                on_step(f"{job_name} {key or ''}".strip())
            report.runs.append(_execute(defs, instance, job_name, key))
    store = BarStore.open(settings.database_url)
    try:
        summary = store.summary()
        report.rows_per_symbol = {r.symbol: int(r.rows) for r in summary.itertuples()}
        report.backend = store.backend
    finally:
        store.close()
    report.database = mask_url(settings.database_url)
    return report


def _execute(defs: dg.Definitions, instance: dg.DagsterInstance, job_name: str,
             key: str | None) -> dict[str, Any]:
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        instance=instance, partition_key=key, raise_on_error=False,
        # the full event log is in the instance (and the UI); the terminal gets warnings only
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        raise DemoFailed(f"run {result.run_id} of {job_name} ({key}) failed at {failed}; "
                         "open the Dagster UI (make ui) for the step's error")
    return {"job": job_name, "partition": key, "run_id": result.run_id}
