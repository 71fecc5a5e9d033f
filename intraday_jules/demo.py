"""``make demo``: run the pipeline through Dagster on the embedded default and say what it did.

Like ``definitions``, this is an entry point that may import the Dagster wiring: each stage
runs as a real job on the persistent instance under ``$INTRADAY_JULES_HOME/dagster``, so runs,
lineage and check results are in the UI afterwards (``make ui``):
ingest + check + features per (session, symbol) -> quality report per session -> train,
evaluate and gate the models -> trade the last session (replayed at full speed, simulated
broker) with the promoted model, or with the random policy if the gate kept no champion.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg

from intraday_jules.definitions import build_definitions
from intraday_jules.defs.common.keys import INGEST_JOB_NAME
from intraday_jules.defs.common.partitions import partition_key
from intraday_jules.defs.models.jobs import TRAIN_JOB_NAME
from intraday_jules.defs.quality.jobs import REPORT_JOB_NAME
from intraday_jules.defs.trading.jobs import TRADE_JOB_NAME
from intraday_jules.domain.calendar import last_completed_sessions
from intraday_jules.instance import ensure_dagster_home
from intraday_jules.market_data.store import BarStore
from intraday_jules.settings import Settings
from intraday_jules.url_masking import mask_url

log = logging.getLogger(__name__)
Step = Callable[[str], None]
QUIET = {"console": {"config": {"log_level": "WARNING"}}}


class DemoFailed(RuntimeError):
    """A demo stage's Dagster run failed; the message names the run and the step."""


@dataclass(frozen=True)
class DemoRun:
    job: str
    partition: str | None = None
    run_config: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        return f"{self.job} {self.partition or ''}".strip()


@dataclass
class DemoReport:
    sessions: list[date]
    runs: list[dict[str, Any]] = field(default_factory=list)
    rows_per_symbol: dict[str, int] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    trading: dict[str, Any] = field(default_factory=dict)
    database: str = ""
    backend: str = ""
    dagster_home: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"sessions": [s.isoformat() for s in self.sessions], "runs": self.runs,
                "rows_per_symbol": self.rows_per_symbol, "models": self.models,
                "trading": self.trading, "database": self.database, "backend": self.backend,
                "dagster_home": self.dagster_home}


def planned_runs(settings: Settings, sessions: list[date]) -> list[DemoRun]:
    """Every run the demo launches, in order, except the trading run (decided at the end)."""
    runs: list[DemoRun] = []
    for session in sessions:
        for symbol in settings.symbols:
            runs.append(DemoRun(INGEST_JOB_NAME, str(partition_key(session.isoformat(),
                                                                   symbol))))
        runs.append(DemoRun(REPORT_JOB_NAME, session.isoformat()))
    runs.append(DemoRun(TRAIN_JOB_NAME))
    return runs


def trading_run(session: date, policy: str) -> DemoRun:
    return DemoRun(TRADE_JOB_NAME, None, {"ops": {"trade_session": {"config": {
        "session": session.isoformat(), "feed": "replay", "policy": policy}}}})


def run_demo(settings: Settings, *, sessions: int = 10, now: datetime | None = None,
             on_step: Step | None = None) -> DemoReport:
    """Materialize the asset graph for the last ``sessions`` completed sessions, then trade."""
    home = ensure_dagster_home(settings)
    days = last_completed_sessions(now or datetime.now(UTC), sessions)
    report = DemoReport(sessions=days, dagster_home=str(home))
    defs = build_definitions(settings)
    with dg.DagsterInstance.get() as instance:
        for run in planned_runs(settings, days):
            report.runs.append(_execute(defs, instance, run, on_step))
        report.models = _models(settings)
        policy = "promoted" if report.models.get("champion") else "random"
        trade = _execute(defs, instance, trading_run(days[-1], policy), on_step)
        report.runs.append(trade)
        report.trading = {"session": days[-1].isoformat(), "policy": policy,
                          **trade.get("output", {})}
    _bars_summary(settings, report)
    return report


def _execute(defs: dg.Definitions, instance: dg.DagsterInstance, run: DemoRun,
             on_step: Step | None) -> dict[str, Any]:
    if on_step:
        on_step(run.label())
    job = defs.resolve_job_def(run.job)
    # the full event log is in the instance (and the UI); the terminal gets warnings only
    result = job.execute_in_process(instance=instance, partition_key=run.partition,
                                    raise_on_error=False,
                                    run_config={**run.run_config, "loggers": QUIET})
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        raise DemoFailed(f"run {result.run_id} of {run.label()} failed at {failed}; "
                         "open the Dagster UI (make ui) for the step's error")
    out: dict[str, Any] = {"job": run.job, "partition": run.partition, "run_id": result.run_id}
    if run.job == TRADE_JOB_NAME:
        out["output"] = result.output_for_node("trade_session")
    return out


def _models(settings: Settings) -> dict[str, Any]:
    from intraday_jules.agent import ModelStore
    from intraday_jules.db.engine import create_db_engine

    engine = create_db_engine(settings.database_url)
    try:
        store = ModelStore(settings.models_dir, engine)
        latest = {r.kind: r for r in store.records()}
        history = store.promotion_history()
        return {"foundation": latest["foundation"].id if "foundation" in latest else None,
                "dual": latest["dual"].id if "dual" in latest else None,
                "champion": store.champion_id(),
                "last_decision": _decision(history[-1]) if history else None}
    finally:
        engine.dispose()


def _decision(row: Any) -> dict[str, Any]:
    criteria = row.report.get("criteria", [])
    return {"model": row.model_id, "decision": row.decision, "reason": row.reason,
            "failed_criteria": [c["name"] for c in criteria if not c["passed"]]}


def _bars_summary(settings: Settings, report: DemoReport) -> None:
    store = BarStore.open(settings.database_url)
    try:
        summary = store.summary()
        report.rows_per_symbol = {r.symbol: int(r.rows) for r in summary.itertuples()}
        report.backend = store.backend
    finally:
        store.close()
    report.database = mask_url(settings.database_url)
