"""The one decision-bar schedule: which of a session's aligned rows the policy decides on.

A session's aligned rows are the minutes every symbol has (inside regular hours), numbered from
0. Row k with bar start ``ts`` is a decision row when it is past the ``lookback`` warm-up
(``k >= lookback``), every symbol's features are past their warm-up (``warm``), and ``ts`` is
at or before the session's forced-flatten bar: the bar that starts ``flatten_bars + 1``
minutes before the XNYS close (15:54 ET, 12:54 on half days), whose decision closes the book
and fills at the next open, so nothing is held for the last ``flatten_bars`` bars.

With a decision interval of k minutes (``DECISION_INTERVALS``: 1, 5 or 15) only the rows whose
bar starts a whole multiple of k minutes after the session's open (9:30 ET: 9:30, 9:35, ...
for k = 5) are decisions, plus the forced-flatten bar, which always is one (the flatten rule
does not depend on k). The alignment is by the bar's timestamp, not its row number, so a
missing minute does not shift the schedule. Between two decisions the book is held.

The env (``MarketArrays.decision_schedule``), ``agent.LivePolicy`` and the trading loop
(``trading.config.minute_phase``) all ask this module; none keeps its own rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from intraday_jules.domain.calendar import session_window

#: Decision intervals (minutes) the env, the schedule and a model's ExecutionSpec support.
DECISION_INTERVALS: tuple[int, ...] = (1, 5, 15)
_MINUTE_US = 60_000_000


class Role(StrEnum):
    """What a session's minute is for."""

    WARMUP = "warmup"  # lookback or feature warm-up: no decision
    DECIDE = "decide"  # the policy decides
    HOLD = "hold"  # between two decisions (interval > 1): the book is held, no policy step
    FLATTEN = "flatten"  # the forced flatten (the policy still steps, its action is ignored)
    CLOSED = "closed"  # after the flatten: nothing new


def flatten_bar_start(session: date, flatten_bars: int) -> datetime:
    """Start (tz-aware UTC) of ``session``'s forced-flatten bar."""
    if flatten_bars < 1:
        raise ValueError(f"need flatten_bars >= 1, got {flatten_bars}")
    return session_window(session).close - timedelta(minutes=flatten_bars + 1)


@lru_cache(maxsize=16_384)
def flatten_bar_us(session: date, flatten_bars: int) -> int:
    """``flatten_bar_start`` in epoch microseconds (cached: the calendar is slow per call)."""
    return int(pd.Timestamp(flatten_bar_start(session, flatten_bars)).value // 1000)


@lru_cache(maxsize=16_384)
def session_open_us(session: date) -> int:
    """The XNYS open of ``session`` in epoch microseconds (what decision intervals align to)."""
    return int(pd.Timestamp(session_window(session).open).value // 1000)


def check_interval(minutes: int) -> int:
    """``minutes`` if it is one of ``DECISION_INTERVALS``, else a ValueError naming them."""
    if isinstance(minutes, bool) or minutes not in DECISION_INTERVALS:
        raise ValueError(f"decision interval {minutes!r} minutes is not supported: choose one "
                         f"of {', '.join(str(k) for k in DECISION_INTERVALS)}")
    return int(minutes)


@dataclass(frozen=True)
class SessionSchedule:
    """The schedule of one XNYS session (see the module docstring); ``interval_minutes``: the
    model's decision interval (``ExecutionSpec.decision_interval_minutes``)."""

    session: date
    lookback: int
    flatten_bars: int
    interval_minutes: int = 1

    def __post_init__(self) -> None:
        if self.lookback < 0:
            raise ValueError(f"need lookback >= 0, got {self.lookback}")
        check_interval(self.interval_minutes)

    @cached_property
    def open_us(self) -> int:
        """The session's open in epoch microseconds (decision bars align to it)."""
        return session_open_us(self.session)

    @cached_property
    def flatten_at(self) -> datetime:
        """Start of the forced-flatten bar (tz-aware UTC)."""
        return flatten_bar_start(self.session, self.flatten_bars)

    @cached_property
    def flatten_us(self) -> int:
        """``flatten_at`` in epoch microseconds."""
        return flatten_bar_us(self.session, self.flatten_bars)

    def is_decision(self, row: int, warm: bool, ts_us: int) -> bool:
        """Whether aligned row ``row`` (bar start ``ts_us``, epoch us) is a decision row."""
        return (row >= self.lookback and warm and ts_us <= self.flatten_us
                and self.on_interval(ts_us))

    def on_interval(self, ts_us: int) -> bool:
        """Whether a bar starting at ``ts_us`` may be decided on under the interval: a whole
        multiple of it after the open, or the forced-flatten bar."""
        if self.interval_minutes == 1:
            return True
        minutes = (ts_us - self.open_us) // _MINUTE_US
        return minutes % self.interval_minutes == 0 or ts_us == self.flatten_us

    def decision_rows(self, rows: np.ndarray, warmup: np.ndarray, ts_us: np.ndarray
                      ) -> np.ndarray:
        """``is_decision`` of many rows at once (``warmup``: True where not warm)."""
        return decision_mask(rows, warmup, ts_us, self.lookback, self.flatten_us,
                             self.interval_minutes, self.open_us)

    def role(self, row: int, warm: bool, ts_us: int, previous_us: int | None) -> Role:
        """The role of aligned row ``row``; ``previous_us``: the session's previous aligned
        row's start (None for the first). The first row at or past the flatten bar is the
        FLATTEN (also when the flatten bar itself is missing), later ones CLOSED; a warm row
        past the lookback but off the interval is HOLD (interval > 1 only)."""
        if ts_us >= self.flatten_us:
            first = previous_us is None or previous_us < self.flatten_us
            return Role.FLATTEN if first else Role.CLOSED
        if self.is_decision(row, warm, ts_us):
            return Role.DECIDE
        return Role.HOLD if row >= self.lookback and warm else Role.WARMUP


def decision_mask(rows: np.ndarray, warmup: np.ndarray, ts_us: np.ndarray, lookback: int,
                  flatten_us: int, interval: int = 1, open_us: int = 0) -> np.ndarray:
    """The rule itself, vectorised: past the lookback, warm, at or before the flatten bar,
    and (``interval`` > 1) a whole multiple of ``interval`` minutes after ``open_us`` or the
    flatten bar itself."""
    mask: np.ndarray = (rows >= lookback) & ~warmup & (ts_us <= flatten_us)
    if interval != 1:
        mask &= (((ts_us - open_us) // _MINUTE_US) % interval == 0) | (ts_us == flatten_us)
    return mask
