"""The XNYS (NYSE) session calendar: holidays, half days and DST, from ``exchange_calendars``.

A *session* is an exchange trading day, named by its America/New_York date. Regular hours are
09:30-16:00 ET (13:00 on half days); extended hours run 04:00-20:00 ET (17:00 on half days).
Bars are labelled by their start, so a full regular session has 390 bars (14:30Z..20:59Z in
winter) and a half day 210.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")
CALENDAR_NAME = "XNYS"
# exchange_calendars needs a bounded range; this covers any data we can ingest.
_CALENDAR_START = "2000-01-03"
PRE_MARKET_OPEN = time(4, 0)
POST_MARKET_CLOSE = time(20, 0)
HALF_DAY_POST_MARKET_CLOSE = time(17, 0)


@lru_cache(maxsize=1)
def _calendar() -> xcals.ExchangeCalendar:
    # end: exchange_calendars knows holidays a year or so ahead; go as far as it allows.
    end = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=365)).strftime("%Y-%m-%d")
    with warnings.catch_warnings():
        # exchange_calendars 4.13 uses Series.values on tz-aware data (deprecated in pandas 3.1)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return xcals.get_calendar(CALENDAR_NAME, start=_CALENDAR_START, end=end)


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """One session's times, all tz-aware UTC. ``close`` is the instant trading stops."""

    session: date
    open: datetime
    close: datetime
    extended_open: datetime
    extended_close: datetime

    @property
    def is_half_day(self) -> bool:
        return (self.close - self.open) < timedelta(hours=6, minutes=30)

    @property
    def regular_minutes(self) -> int:
        return int((self.close - self.open).total_seconds() // 60)

    def bar_starts(self, extended: bool = False) -> pd.DatetimeIndex:
        """Every 1-minute bar start inside the session window (regular or extended hours)."""
        start, end = (self.extended_open, self.extended_close) if extended else (self.open,
                                                                                 self.close)
        return pd.date_range(start, end, freq="1min", inclusive="left").as_unit("us")

    def contains(self, ts: datetime, extended: bool = False) -> bool:
        start, end = (self.extended_open, self.extended_close) if extended else (self.open,
                                                                                 self.close)
        return start <= ts < end


def is_session(day: date) -> bool:
    return bool(_calendar().is_session(pd.Timestamp(day)))


def sessions_in_range(start: date, end: date) -> list[date]:
    """All XNYS sessions with start <= session <= end (inclusive), oldest first."""
    if end < start:
        return []
    cal = _calendar()
    first, last = cal.first_session.date(), cal.last_session.date()
    lo, hi = max(start, first), min(end, last)
    if hi < lo:
        return []
    return [ts.date() for ts in cal.sessions_in_range(pd.Timestamp(lo), pd.Timestamp(hi))]


def non_sessions_in_range(start: date, end: date) -> list[date]:
    """Weekdays in [start, end] on which the exchange is closed (holidays, special closures)."""
    sessions = set(sessions_in_range(start, end))
    days = pd.date_range(start, end, freq="B")
    return [d.date() for d in days if d.date() not in sessions]


def session_window(day: date) -> SessionWindow:
    """The regular and extended-hours window of one session; ValueError if not a session."""
    if not is_session(day):
        raise ValueError(f"{day.isoformat()} is not an XNYS trading session")
    cal = _calendar()
    ts = pd.Timestamp(day)
    open_ = cal.session_open(ts).to_pydatetime().astimezone(UTC)
    close = cal.session_close(ts).to_pydatetime().astimezone(UTC)
    post_close = POST_MARKET_CLOSE
    if close - open_ < timedelta(hours=6, minutes=30):
        post_close = HALF_DAY_POST_MARKET_CLOSE
    ext_open = datetime.combine(day, PRE_MARKET_OPEN, NEW_YORK).astimezone(UTC)
    ext_close = datetime.combine(day, post_close, NEW_YORK).astimezone(UTC)
    return SessionWindow(day, open_, close, ext_open, ext_close)


def session_date_of(ts: datetime) -> date:
    """The America/New_York calendar date of an instant (the session a bar belongs to)."""
    if ts.tzinfo is None:
        raise ValueError(f"naive timestamp {ts.isoformat()}: need tz-aware")
    return ts.astimezone(NEW_YORK).date()


def previous_session(day: date) -> date:
    """The last session strictly before ``day``."""
    cal = _calendar()
    ts = pd.Timestamp(day)
    found = cal.previous_session(ts) if is_session(day) else cal.date_to_session(
        ts, direction="previous")
    return _as_date(found)


def next_session(day: date) -> date:
    """The first session strictly after ``day``."""
    cal = _calendar()
    ts = pd.Timestamp(day)
    found = cal.next_session(ts) if is_session(day) else cal.date_to_session(ts,
                                                                             direction="next")
    return _as_date(found)


def _as_date(ts: pd.Timestamp) -> date:
    value: date = ts.date()
    return value


def last_completed_sessions(now: datetime, count: int) -> list[date]:
    """The ``count`` most recent sessions whose regular close is at or before ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be tz-aware")
    day = session_date_of(now)
    if not (is_session(day) and session_window(day).close <= now):
        day = previous_session(day)
    out = [day]
    while len(out) < count:
        out.append(previous_session(out[-1]))
    return sorted(out)


def current_or_next_session(now: datetime) -> date:
    """Today's session if it has not closed yet, else the next one."""
    day = session_date_of(now)
    if is_session(day) and now < session_window(day).close:
        return day
    return next_session(day)


def partition_key_for(session: date, symbol: str) -> str:
    """The Dagster multi-partition key string ("2025-03-12|NVDA"), also used by the CLI."""
    return f"{session.isoformat()}|{symbol}"
