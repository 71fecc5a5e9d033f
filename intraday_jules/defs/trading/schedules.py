"""Trading's schedules on the XNYS calendar: the pre-open ingest of the previous session, the
pre-open reconciliation and the end-of-session report (each skips non-session days)."""

import dagster as dg

from intraday_jules.defs.common.keys import INGEST_JOB_NAME
from intraday_jules.defs.common.partitions import partition_key, tick_session
from intraday_jules.domain.calendar import previous_session
from intraday_jules.settings import Settings


def trading_schedules(settings: Settings, report_job, reconcile_job  # type: ignore[no-untyped-def]
                      ) -> list[dg.ScheduleDefinition]:
    @dg.schedule(job_name=INGEST_JOB_NAME, cron_schedule="30 8 * * 1-5",
                 execution_timezone="America/New_York", name="preopen_ingest_schedule",
                 description="Before the open: (re)ingest the previous session's partitions "
                             "(idempotent), so features and warm-up data are complete.")
    def preopen_ingest_schedule(context: dg.ScheduleEvaluationContext):  # type: ignore[no-untyped-def]
        day = tick_session(context)
        if isinstance(day, dg.SkipReason):
            return day
        prev = previous_session(day).isoformat()
        return [dg.RunRequest(run_key=f"preopen-{prev}-{s}", partition_key=partition_key(prev, s))
                for s in settings.symbols]

    @dg.schedule(job=reconcile_job, cron_schedule="20 9 * * 1-5",
                 execution_timezone="America/New_York", name="preopen_reconcile_schedule",
                 description="09:20 ET: reconcile broker positions with the ledger (a "
                             "mismatch latches HALTED with the difference recorded).")
    def preopen_reconcile_schedule(context: dg.ScheduleEvaluationContext):  # type: ignore[no-untyped-def]
        day = tick_session(context)
        if isinstance(day, dg.SkipReason):
            return day
        return dg.RunRequest(run_key=f"reconcile-{day}")

    @dg.schedule(job=report_job, cron_schedule="15 16 * * 1-5",
                 execution_timezone="America/New_York", name="end_of_session_report_schedule",
                 description="16:15 ET: the session's report from the ledger.")
    def end_of_session_report_schedule(context: dg.ScheduleEvaluationContext):  # type: ignore[no-untyped-def]
        day = tick_session(context)
        if isinstance(day, dg.SkipReason):
            return day
        return dg.RunRequest(run_key=f"report-{day}", partition_key=day.isoformat())

    return [preopen_ingest_schedule, preopen_reconcile_schedule, end_of_session_report_schedule]
