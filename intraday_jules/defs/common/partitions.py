"""Partitions: XNYS session date x symbol (no partitions on weekends or exchange holidays)."""

from __future__ import annotations

from datetime import date, datetime, time

import dagster as dg

from intraday_jules.domain.calendar import (
    NEW_YORK,
    _calendar,
    is_session,
    non_sessions_in_range,
    session_date_of,
)
from intraday_jules.settings import Settings

SESSION_DIMENSION = "session"
SYMBOL_DIMENSION = "symbol"


def session_partitions(settings: Settings) -> dg.TimeWindowPartitionsDefinition:
    """One partition per XNYS session from ``first_session``, up to and including today's."""
    last_known = _calendar().last_session.date()
    closed = non_sessions_in_range(settings.first_session, last_known)
    return dg.TimeWindowPartitionsDefinition(
        start=settings.first_session.isoformat(),
        fmt="%Y-%m-%d",
        cron_schedule="0 0 * * 1-5",
        timezone="America/New_York",
        end_offset=1,  # today's session is a partition as soon as the day starts
        exclusions=[datetime.combine(day, time(0), NEW_YORK) for day in closed],
    )


def bars_partitions(settings: Settings) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition({
        SESSION_DIMENSION: session_partitions(settings),
        SYMBOL_DIMENSION: dg.StaticPartitionsDefinition(list(settings.symbols)),
    })


def partition_key(session: str, symbol: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({SESSION_DIMENSION: session, SYMBOL_DIMENSION: symbol})


def tick_session(context: dg.ScheduleEvaluationContext) -> date | dg.SkipReason:
    """The XNYS session a schedule tick falls on, or the reason to skip (no session that day)."""
    day = session_date_of(context.scheduled_execution_time)
    return day if is_session(day) else dg.SkipReason(f"{day.isoformat()} is not an XNYS session")
