"""IB <-> our types: the historical query for a session, and IB bars -> bars frame / ``Bar``.

Conventions at this boundary:
- we always ask for ``formatDate=2`` so IB stamps bars with epoch seconds (UTC) and no time
  zone guessing is involved; a bar that comes back as a date or a naive local time means the
  feed changed format and is refused;
- IB labels bars by their START (the 09:30 bar covers 09:30:00-09:30:59), as we do, so
  timestamps are used as they are;
- the end of the request is the session window's end as an explicit UTC instant, the
  duration the window's length in seconds: one request per (symbol, session), never more
  than IB's one-day limit for 1-minute bars.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from ib_async import BarData

from intraday_jules.domain.bars import Bar, BarValidationError, validate_bars
from intraday_jules.domain.calendar import session_window
from intraday_jules.market_data.source import BarRequest, SourceDataError

logger = logging.getLogger(__name__)
SOURCE_NAME = "ibkr"
BAR_SIZE = "1 min"
WHAT_TO_SHOW = "TRADES"
EXCHANGE = "SMART"


@dataclass(frozen=True, slots=True)
class HistoricalQuery:
    """One reqHistoricalData call; also the identity IB uses for 'identical request' pacing."""

    symbol: str
    end: datetime | None  # None: up to now (required for keepUpToDate)
    duration_s: int
    use_rth: bool
    bar_size: str = BAR_SIZE
    what_to_show: str = WHAT_TO_SHOW
    exchange: str = EXCHANGE

    @property
    def duration(self) -> str:
        return f"{self.duration_s} S"

    @property
    def contract_key(self) -> tuple[str, str, str]:
        """What IB's 'same contract, exchange and tick type' rule compares."""
        return (self.symbol, self.exchange, self.what_to_show)

    @property
    def identity(self) -> tuple[object, ...]:
        return (*self.contract_key, self.end, self.duration_s, self.bar_size, self.use_rth)

    def describe(self) -> str:
        end = "now" if self.end is None else self.end.strftime("%Y-%m-%dT%H:%M:%SZ")
        rth = "RTH" if self.use_rth else "all hours"
        return (f"reqHistoricalData({self.symbol} {self.exchange} {self.what_to_show}, "
                f"end {end}, {self.duration}, {self.bar_size}, {rth})")


def query_for_session(request: BarRequest) -> HistoricalQuery:
    """The single request covering one session window, regular or extended hours."""
    window = session_window(request.session)
    start, end = ((window.extended_open, window.extended_close) if request.extended_hours
                  else (window.open, window.close))
    return HistoricalQuery(request.symbol, end, int((end - start).total_seconds()),
                           use_rth=not request.extended_hours)


def query_for_minutes(symbol: str, end: datetime | None, minutes: int,
                      use_rth: bool) -> HistoricalQuery:
    """The ``minutes`` whole minutes before ``end`` (None: before now), for live streams."""
    return HistoricalQuery(symbol, end, max(60, minutes * 60), use_rth)


def bar_timestamp(bar: BarData, origin: str, symbol: str) -> datetime:
    """The bar's start as tz-aware UTC; refuses dates and naive local times."""
    ts = bar.date
    if not isinstance(ts, datetime) or ts.tzinfo is None:
        kind = "a date" if not isinstance(ts, datetime) else "a naive local time"
        raise BarValidationError(
            origin, f"vendor switched timestamp format: expected epoch seconds (formatDate=2), "
                    f"got {kind} {ts!s}", symbol=symbol, field="ts")
    return ts.astimezone(UTC)


def bars_frame(bars: Sequence[BarData], request: BarRequest,
               query: HistoricalQuery) -> pd.DataFrame:
    """IB bars -> validated bars frame with ``source='ibkr'``, clipped to the session window.

    Raises ``SourceDataError`` naming vendor, symbol, request, ts and field when any bar is
    impossible (nothing of the batch is returned).
    """
    origin = f"{SOURCE_NAME} {query.describe()}"
    try:
        frame = pd.DataFrame({
            "symbol": pd.Series([request.symbol] * len(bars), dtype=object),
            "ts": pd.to_datetime([bar_timestamp(b, origin, request.symbol) for b in bars],
                                 utc=True).as_unit("us"),
            **{name: np.array([getattr(b, name) for b in bars], dtype=np.float64)
               for name in ("open", "high", "low", "close", "volume")},
        })
        frame = validate_bars(frame, origin, allow_empty=True)
    except BarValidationError as exc:
        raise SourceDataError(SOURCE_NAME, request, str(exc)) from None
    frame["source"] = pd.Series([SOURCE_NAME] * len(frame), dtype=object, index=frame.index)
    return _clip_to_window(frame, request)


def _clip_to_window(frame: pd.DataFrame, request: BarRequest) -> pd.DataFrame:
    starts = request.expected_bar_starts()
    if frame.empty or starts.empty:
        return frame
    inside = (frame["ts"] >= starts[0]) & (frame["ts"] <= starts[-1])
    if not inside.all():
        logger.warning("ibkr %s: dropped %d bars outside the session window",
                       request.describe(), int((~inside).sum()))
    return frame.loc[inside].reset_index(drop=True)


def to_bar(bar: BarData, symbol: str) -> Bar:
    """One IB bar -> ``Bar`` (validates itself; raises BarValidationError)."""
    origin = f"{SOURCE_NAME} live bars"
    volume = float(bar.volume)
    if not volume.is_integer():
        raise BarValidationError(origin, f"volume must be whole shares, got {volume}",
                                 symbol=symbol, ts=bar.date, field="volume")
    return Bar(symbol=symbol, ts=bar_timestamp(bar, origin, symbol), open=float(bar.open),
               high=float(bar.high), low=float(bar.low), close=float(bar.close),
               volume=int(volume))

