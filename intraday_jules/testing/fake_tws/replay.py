"""The recorded bars the fake gateway serves, indexed for window queries.

The fake answers ``reqHistoricalData`` from a bars frame (for instance one of the replay CSVs in
``shared/data/market/``). Real-time 5-second bars and ``keepUpToDate`` updates are derived from
the same 1-minute bars by splitting each minute into twelve 5-second bars whose aggregate is
exactly the recorded minute, so a client that rebuilds minutes from them must get the file back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from intraday_jules.domain.bars import BAR_COLUMNS, validate_bars
from intraday_jules.domain.calendar import is_session, session_date_of, session_window

FIVE_SECONDS = 5
BUCKETS_PER_MINUTE = 12


@dataclass(frozen=True, slots=True)
class ReplayBar:
    """One bar as the gateway sends it: ``start`` in epoch seconds (bar start, UTC)."""

    start: int
    open: float
    high: float
    low: float
    close: float
    volume: int

    @property
    def ts(self) -> datetime:
        return datetime.fromtimestamp(self.start, UTC)


@dataclass(frozen=True, slots=True)
class _SymbolBars:
    starts: np.ndarray
    values: np.ndarray  # columns open, high, low, close, volume
    rth: np.ndarray  # True where the bar lies in the regular session


class ReplayBars:
    """1-minute bars per symbol; answers 'bars in [start, end)' optionally regular hours only."""

    def __init__(self, frame: pd.DataFrame) -> None:
        bars = validate_bars(frame[list(BAR_COLUMNS)], "fake TWS replay frame")
        self._by_symbol: dict[str, _SymbolBars] = {}
        for symbol, group in bars.groupby("symbol", sort=True):
            starts = (group["ts"].astype("int64") // 1_000_000).to_numpy(np.int64)
            values = group[["open", "high", "low", "close", "volume"]].to_numpy(np.float64)
            self._by_symbol[str(symbol)] = _SymbolBars(starts, values, _rth_mask(starts))

    @classmethod
    def from_csv(cls, path: str | Path) -> ReplayBars:
        """Read ``symbol,ts,open,high,low,close,volume`` (ts ISO-8601 UTC, bar start)."""
        raw = pd.read_csv(path, dtype={"symbol": str, "ts": str})
        raw["ts"] = pd.to_datetime(raw["ts"], utc=True, format="ISO8601")
        return cls(raw)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._by_symbol)

    def has_symbol(self, symbol: str) -> bool:
        return symbol in self._by_symbol

    def window(self, symbol: str, start: datetime, end: datetime, *,
               rth_only: bool) -> list[ReplayBar]:
        """Bars of ``symbol`` whose start lies in [start, end), in time order."""
        data = self._by_symbol[symbol]
        lo = int(np.searchsorted(data.starts, int(start.timestamp()), side="left"))
        hi = int(np.searchsorted(data.starts, int(end.timestamp()), side="left"))
        return [self._bar(data, i) for i in range(lo, hi) if data.rth[i] or not rth_only]

    def bar_at(self, symbol: str, minute: datetime) -> ReplayBar | None:
        """The bar starting exactly at ``minute``, if the recording has one."""
        data = self._by_symbol.get(symbol)
        if data is None:
            return None
        start = int(minute.timestamp())
        i = int(np.searchsorted(data.starts, start, side="left"))
        if i < len(data.starts) and data.starts[i] == start:
            return self._bar(data, i)
        return None

    @staticmethod
    def is_rth(minute: datetime) -> bool:
        """Whether a bar starting at ``minute`` lies in its session's regular hours."""
        day = session_date_of(minute)
        return is_session(day) and session_window(day).contains(minute)

    def last_close(self, symbol: str, at: datetime | None = None) -> float | None:
        """Close of the last bar that ended at or before ``at`` (of the whole file if None)."""
        data = self._by_symbol.get(symbol)
        if data is None or not len(data.starts):
            return None
        if at is None:
            return float(data.values[-1, 3])
        i = int(np.searchsorted(data.starts, int(at.timestamp()) - 60, side="right")) - 1
        return float(data.values[max(i, 0), 3])

    def last_end(self) -> datetime:
        """End of the last recorded bar: the fake's 'now' when no live time is set."""
        last = max(int(d.starts[-1]) for d in self._by_symbol.values() if len(d.starts))
        return datetime.fromtimestamp(last + 60, UTC)

    @staticmethod
    def _bar(data: _SymbolBars, i: int) -> ReplayBar:
        o, h, lo, c, v = data.values[i]
        return ReplayBar(int(data.starts[i]), float(o), float(h), float(lo), float(c), int(v))


def _rth_mask(starts: np.ndarray) -> np.ndarray:
    mask = np.zeros(len(starts), dtype=bool)
    if not len(starts):
        return mask
    days: dict[date, tuple[int, int] | None] = {}
    for i, start in enumerate(starts):
        day = session_date_of(datetime.fromtimestamp(int(start), UTC))
        if day not in days:
            days[day] = _rth_bounds(day)
        bounds = days[day]
        mask[i] = bounds is not None and bounds[0] <= start < bounds[1]
    return mask


def _rth_bounds(day: date) -> tuple[int, int] | None:
    if not is_session(day):
        return None
    window = session_window(day)
    return int(window.open.timestamp()), int(window.close.timestamp())


def split_minute(bar: ReplayBar) -> list[ReplayBar]:
    """Twelve 5-second bars whose open/high/low/close/volume aggregate to ``bar`` exactly.

    The price path visits open -> high (bucket 3) -> low (bucket 7) -> close (bucket 11), so
    every intermediate price lies within [low, high]; volume is spread evenly, the remainder
    going to the last bucket.
    """
    waypoints = {0: bar.open, 3: bar.high, 7: bar.low, 11: bar.close}
    closes = np.interp(np.arange(BUCKETS_PER_MINUTE), list(waypoints), list(waypoints.values()))
    share, rest = divmod(bar.volume, BUCKETS_PER_MINUTE)
    out: list[ReplayBar] = []
    prev = bar.open
    for k in range(BUCKETS_PER_MINUTE):
        close = round(float(closes[k]), 6)
        high = bar.high if k == 3 else max(prev, close)
        low = bar.low if k == 7 else min(prev, close)
        volume = share + (rest if k == BUCKETS_PER_MINUTE - 1 else 0)
        out.append(ReplayBar(bar.start + FIVE_SECONDS * k, prev, high, low, close, volume))
        prev = close
    return out


def aggregate(parts: list[ReplayBar], start: int) -> ReplayBar:
    """The minute bar built from its first 5-second bars (a keepUpToDate partial bar)."""
    return ReplayBar(start, parts[0].open, max(p.high for p in parts),
                     min(p.low for p in parts), parts[-1].close, sum(p.volume for p in parts))


def five_second_steps(start: datetime, end: datetime) -> Iterator[datetime]:
    """The 5-second boundaries t with start < t <= end (each ends one 5-second bar)."""
    first = int(start.timestamp()) // FIVE_SECONDS * FIVE_SECONDS + FIVE_SECONDS
    for t in range(first, int(end.timestamp()) + 1, FIVE_SECONDS):
        yield datetime.fromtimestamp(t, UTC)


def minute_of(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)
