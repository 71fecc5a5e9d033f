"""``daily_bars_schedule``: after the close, one run per symbol for the session just ended."""

import dagster as dg

from intraday_jules.defs.common.partitions import partition_key, tick_session
from intraday_jules.defs.ingestion.jobs import ingest_bars_job
from intraday_jules.domain.calendar import session_window
from intraday_jules.settings import Settings


def daily_schedule(settings: Settings) -> dg.ScheduleDefinition:
    @dg.schedule(job=ingest_bars_job, cron_schedule="30 16 * * 1-5",
                 execution_timezone="America/New_York", name="daily_bars_schedule",
                 description="After the close (16:30 ET), ingest today's session for every "
                             "symbol; skips exchange holidays.")
    def daily_bars_schedule(context: dg.ScheduleEvaluationContext):  # type: ignore[no-untyped-def]
        day = tick_session(context)
        if isinstance(day, dg.SkipReason):
            return day
        if context.scheduled_execution_time < session_window(day).close:
            return dg.SkipReason(f"session {day.isoformat()} has not closed yet")
        return [dg.RunRequest(run_key=f"bars-{day.isoformat()}-{symbol}",
                              partition_key=partition_key(day.isoformat(), symbol))
                for symbol in settings.symbols]

    return daily_bars_schedule
