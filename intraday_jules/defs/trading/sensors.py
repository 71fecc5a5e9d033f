"""``trading_session_sensor``: launches the trade job once per session, opt-in (stopped by
default), and again if that run failed while the session is still open."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from intraday_jules.defs.common.resources import ModelStoreResource
from intraday_jules.defs.trading.jobs import SESSION_TAG, TRADE_JOB_NAME
from intraday_jules.domain.calendar import is_session, session_date_of, session_window

OPEN_LEAD = timedelta(minutes=10)


def trading_session_sensor(job: dg.JobDefinition) -> dg.SensorDefinition:
    # The job by name, not the object: Definitions binds resources to a job object by copying
    # each sensor that holds it, and that copy passes ``owners`` and trips Dagster 1.13's
    # BetaWarning on every load (``make ui`` printed it). By name, the sensor is left as is.
    @dg.sensor(job_name=job.name, name="trading_session_sensor", minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.STOPPED,
               description="Launches trade_session_job once per XNYS session (run_key = "
                           "session date) when a promoted model exists; relaunches a failed "
                           "run while the session is open. Turn on to trade (opt-in).")
    def trading_session_sensor(context: dg.SensorEvaluationContext,  # type: ignore[no-untyped-def]
                               model_store: ModelStoreResource):
        return evaluate_trading_sensor(context, model_store, datetime.now(UTC))

    return trading_session_sensor


def no_model_reason(store) -> str:  # type: ignore[no-untyped-def]
    """Why nothing trades: the gate's latest rejection (training ran, the challenger failed
    criteria) named with its failed criteria, else that no model was trained yet."""
    from intraday_jules.agent.promotion import Criterion

    rejected = [row for row in store.promotion_history() if row.decision == "rejected"]
    if not rejected:
        return "no promoted model: run the training job (models/promoted_model)"
    row = rejected[-1]
    failed = [Criterion(**c).line() for c in row.report.get("criteria", []) if not c["passed"]]
    why = "; ".join(failed) or row.reason
    return (f"no promoted model: the promotion gate rejected {row.model_id} "
            f"({row.decided_at:%Y-%m-%d %H:%M} UTC): {why}. Nothing trades until a model "
            "passes the gate (see models/promoted_model's gate metadata)")


def evaluate_trading_sensor(context, model_store, now: datetime):  # type: ignore[no-untyped-def]
    """The sensor's decision, separate so tests can pass their own clock."""
    day = session_date_of(now)
    if not is_session(day):
        return dg.SkipReason(f"{day} is not an XNYS session")
    window = session_window(day)
    if not (window.open - OPEN_LEAD <= now < window.close):
        return dg.SkipReason(f"session {day} is not open or about to open")
    store = model_store.open()
    if store.champion_id() is None:
        return dg.SkipReason(no_model_reason(store))
    runs = context.instance.get_runs(filters=dg.RunsFilter(job_name=TRADE_JOB_NAME,
                                                           tags={SESSION_TAG: day.isoformat()}))
    if runs and runs[0].status != dg.DagsterRunStatus.FAILURE:
        return dg.SkipReason(f"session {day} already has run {runs[0].run_id}")
    attempt = len(runs)
    run_key = day.isoformat() if attempt == 0 else f"{day.isoformat()}-restart-{attempt}"
    return dg.RunRequest(run_key=run_key, tags={SESSION_TAG: day.isoformat()},
                         run_config={"ops": {"trade_session": {"config": {
                             "session": day.isoformat(), "feed": "live",
                             "policy": "promoted"}}}})
