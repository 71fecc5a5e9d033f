"""Stateful inference: one ``LivePolicy`` per client session, fed only the new bars.

``/predict`` replays a whole session on every request. A ``DecisionSession`` instead keeps,
for one trading day, a ``LivePolicy`` (its incremental feature stream and LSTM state) and
the bars received so far in preallocated column arrays (``BarBuffer``), so a request with
one new bar costs one bar's features and one LSTM step: the new bars go to
``LivePolicy.decide_new`` as per-symbol arrays (no frame; the whole frame goes to ``decide``
only after a refused request, or for a model without streaming features). The answer is
``decide`` on the session's bars so far: exactly what a ``LivePolicy`` handed the same bars
answers, bit for bit (tested).

Each session serialises its own requests (a lock); sessions are independent. Bars are
checked before anything is kept: of the session's day, each newer than the session's latest
bar of its symbol, prices plausible against the session's own; a refused request (422
naming the bar and field) leaves the session as it was. ``SessionRegistry`` holds at most
``max_sessions`` and drops a session idle for ``ttl_s`` (judged on the injected clock).
"""

from __future__ import annotations

import secrets
import threading
from bisect import insort
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.arrays import DatetimeArray

from intraday_jules.agent import LiveDecision, LivePolicy
from intraday_jules.agent.live_features import NotStreamable
from intraday_jules.agent.live_input import SymbolBars
from intraday_jules.agent.policy import ActionMode
from intraday_jules.domain.calendar import NEW_YORK, session_window
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.service.inference import (
    DECIDE_ERRORS,
    InputRefused,
    decision_fields,
    why_no_decision,
)
from intraday_jules.service.schemas import MAX_BARS, MIN_PRICE, PRICE_BAND, BarIn, BookEntry
from intraday_jules.service.serving import ServedModel
from intraday_jules.service.session_schemas import SessionDecision

if TYPE_CHECKING:
    from intraday_jules.settings import Settings

DEFAULT_TTL_S = 900.0
DEFAULT_MAX_SESSIONS = 64
_UTC_US = pd.DatetimeTZDtype("us", "UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_PRICES = ("open", "high", "low", "close")


class SessionRefused(Exception):
    """A session request the registry refuses: ``status`` (404 unknown, 429 full)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SessionLimits:
    """Idle seconds before a session is dropped, and sessions held at once per worker."""

    ttl_s: float = DEFAULT_TTL_S
    max_sessions: int = DEFAULT_MAX_SESSIONS

    def __post_init__(self) -> None:
        if self.ttl_s <= 0 or self.max_sessions <= 0:
            raise ValueError(f"invalid session limits {self}")

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionLimits:
        return cls(ttl_s=float(settings.service_session_ttl_s),
                   max_sessions=settings.service_max_sessions)


class BarBuffer:
    """A session's bars in arrival order, in preallocated columns (``capacity`` rows)."""

    def __init__(self, capacity: int = MAX_BARS) -> None:
        self.capacity = capacity
        self.symbol = np.empty(capacity, dtype=object)
        self.ts = np.zeros(capacity, dtype=np.int64)  # bar start, epoch microseconds UTC
        self.prices = np.zeros((4, capacity), dtype=np.float64)  # open, high, low, close
        self.volume = np.zeros(capacity, dtype=np.int64)
        self.n = 0
        # each symbol's closes kept so far, sorted as they arrive: the price check reads its
        # median from them instead of a numpy median over the whole session per request
        self._sorted_closes: dict[str, list[float]] = {}

    def append(self, bars: Sequence[BarIn]) -> None:
        end = self.n + len(bars)
        rows = slice(self.n, end)
        self.symbol[rows] = [b.symbol for b in bars]
        self.ts[rows] = [_epoch_us(b.ts) for b in bars]
        self.prices[:, rows] = [[getattr(b, c) for b in bars] for c in _PRICES]
        self.volume[rows] = [b.volume for b in bars]
        self.n = end
        for bar in bars:
            insort(self._sorted_closes.setdefault(bar.symbol, []), bar.close)

    def truncate(self, n: int) -> None:
        """Forget every bar from the ``n``-th on (a refused request's)."""
        self.n = n
        self._sorted_closes = {}
        for symbol in set(self.symbol[:n]):
            self._sorted_closes[symbol] = sorted(self.closes(symbol).tolist())

    def median_close(self, symbol: str, more: Sequence[float] = ()) -> float:
        """The median close of ``symbol``'s bars kept and ``more``: ``np.median``'s value (the
        middle one, or the mean of the two middle ones) without sorting them again."""
        closes = self._sorted_closes.get(symbol, [])
        if more:
            closes = closes.copy()
            for close in more:
                insort(closes, close)
        half, odd = divmod(len(closes), 2)
        if odd:
            return float(closes[half])
        return float((closes[half - 1] + closes[half]) / 2)  # np.mean of the two: a+b, /2

    def since(self, start: int, symbols: Sequence[str]) -> list[SymbolBars]:
        """Each symbol's bars from the ``start``-th kept on, sorted by ts (no frame)."""
        rows = slice(start, self.n)
        names, ts = self.symbol[rows], self.ts[rows]
        values = np.concatenate([self.prices[:, rows],
                                 self.volume[rows].astype(np.float64)[None]])
        out = []
        for symbol in symbols:
            mine = np.flatnonzero(names == symbol)
            mine = mine[np.argsort(ts[mine], kind="stable")]
            out.append(SymbolBars(symbol, ts[mine], values[:, mine]))
        return out

    def closes(self, symbol: str) -> np.ndarray:
        n = self.n
        close: np.ndarray = self.prices[3, :n][self.symbol[:n] == symbol]
        return close

    def frame(self) -> pd.DataFrame:
        """The bars so far as a bars frame, as ``inference.bars_frame`` builds it (the
        columns are views: no per-bar Python work)."""
        n = self.n
        return pd.DataFrame({
            "symbol": pd.Series(self.symbol[:n], dtype=object, copy=False),
            # _simple_new wraps the int64 view as is: ~3 us, where the public constructors
            # (DatetimeIndex(..., dtype=...), pd.array) re-validate every value: ~330 us
            "ts": DatetimeArray._simple_new(  # type: ignore[attr-defined]  # not in the stubs
                self.ts[:n].view("datetime64[us]"), dtype=_UTC_US),
            "open": self.prices[0, :n], "high": self.prices[1, :n],
            "low": self.prices[2, :n], "close": self.prices[3, :n],
            "volume": self.volume[:n]}, copy=False)


def _epoch_us(ts: datetime) -> int:
    return (ts - _EPOCH) // _MICROSECOND  # exact integer arithmetic


class DecisionSession:
    """One client's trading day: the model, its ``LivePolicy`` and the bars so far."""

    def __init__(self, session_id: str, served: ServedModel, day: date, *,
                 mode: ActionMode, seed: int, now: datetime) -> None:
        self.id, self.served, self.day, self.mode, self.seed = (session_id, served, day,
                                                                mode, seed)
        self.window = session_window(day)
        midnight = datetime.combine(day, time(), tzinfo=NEW_YORK)
        self._day_utc = (midnight.astimezone(UTC),
                         datetime.combine(day + timedelta(days=1), time(),
                                          tzinfo=NEW_YORK).astimezone(UTC))
        self.policy = LivePolicy(served.bundle, seed=seed, mode=mode)
        self.buffer = BarBuffer()
        self.book: dict[pd.Timestamp, tuple[int, ...]] = {}
        self.latest: dict[str, datetime] = {}
        self.regular = False  # a regular-hours bar has arrived: decide() may run
        self._fed = 0  # bars handed to the policy so far (the first ``_fed`` of ``buffer``)
        self._resync = False  # hand the policy the whole frame next time (after a refusal)
        self.lock = threading.Lock()
        self.last_used = now

    def add(self, bars: Sequence[BarIn], book: Sequence[BookEntry] | None) -> SessionDecision:
        """Keep ``bars`` and answer the decision on the session's latest bar; refuse the
        whole request (``InputRefused``, nothing kept) if a bar cannot extend the session."""
        with self.lock:
            return self._add(bars, book)

    def _add(self, bars: Sequence[BarIn], book: Sequence[BookEntry] | None
             ) -> SessionDecision:
        self._check(bars)
        before = (self.buffer.n, dict(self.latest), dict(self.book), self.regular)
        self.buffer.append(bars)
        for bar in bars:  # checked: each bar is its symbol's newest so far
            self.latest[bar.symbol] = bar.ts
        self.book.update({pd.Timestamp(e.ts): tuple(e.shares[s] for s in self.policy.symbols)
                          for e in book or ()})
        self.regular = self.regular or any(self.window.contains(b.ts) for b in bars)
        try:
            decision = self._decide() if self.regular else None
        except DECIDE_ERRORS as exc:
            self.buffer.truncate(before[0])
            self.latest, self.book, self.regular = before[1:]
            self._resync = True  # the policy may have taken part of the refused bars
            raise InputRefused(("body", "bars"), str(exc)) from None
        return self._answer(decision, max(self.latest.values()))

    def _decide(self) -> LiveDecision | None:
        """``decide`` on the session's bars so far: only the bars not yet handed over go to
        the policy (``decide_new``); the whole frame after a refused request (the policy
        then replays what it must) or for a model without streaming features."""
        policy = self.policy
        if self._resync or policy.stream is None:
            decision = policy.decide(self.buffer.frame(), book=self.book)
        else:
            try:
                decision = policy.decide_new(self.buffer.since(self._fed, policy.symbols),
                                             book=self.book)
            except NotStreamable:
                decision = policy.decide(self.buffer.frame(), book=self.book)
        self._fed, self._resync = self.buffer.n, False
        return decision

    def _answer(self, decision: Any, latest: datetime) -> SessionDecision:
        base: dict[str, Any] = {
            "id": self.id, "model_id": self.served.id, "bars": self.buffer.n,
            "spec_version": self.served.record.spec_version, "mode": self.mode,
            "seed": self.seed, "steps": len(self.policy.history)}
        if not self.regular:
            return SessionDecision(decided=False, reason=(
                f"no bar is inside the session's regular hours yet (it opens at "
                f"{self.window.open.isoformat()})"), **base)
        if decision is None:
            return SessionDecision(decided=False, reason=why_no_decision(self.policy, latest),
                                   **base)
        return SessionDecision(**decision_fields(self.policy, decision), **base)

    def _check(self, bars: Sequence[BarIn]) -> None:
        """Each bar of the session's day, after the latest bar of its symbol (kept or earlier
        in this request), within room, and priced plausibly against the session."""
        if self.buffer.n + len(bars) > self.buffer.capacity:
            raise InputRefused(("body", "bars"), (
                f"the session holds {self.buffer.n} bars; {len(bars)} more exceed its "
                f"{self.buffer.capacity} (one extended-hours day of every symbol)"))
        latest = dict(self.latest)
        start, end = self._day_utc
        for i, bar in enumerate(bars):
            if not start <= bar.ts < end:  # outside the day's New York midnights
                day = bar.ts.astimezone(NEW_YORK).date()
                raise InputRefused(("body", "bars", i, "ts"), (
                    f"{bar.symbol} bar at {bar.ts.isoformat()} is of {day} (America/New_York);"
                    f" this session is {self.day}"))
            previous = latest.get(bar.symbol)
            if previous is not None and bar.ts <= previous:
                what = "a duplicate of" if bar.ts == previous else "older than"
                raise InputRefused(("body", "bars", i, "ts"), (
                    f"{bar.symbol} bar at {bar.ts.isoformat()} is {what} the session's latest "
                    f"{bar.symbol} bar ({previous.isoformat()}): bars must extend what was "
                    "sent"))
            latest[bar.symbol] = bar.ts
        self._check_prices(bars)

    def _check_prices(self, bars: Sequence[BarIn]) -> None:
        """As ``/predict``: prices within a factor ``PRICE_BAND`` of the median close of the
        symbol's bars (here: the session's so far and this request's)."""
        for symbol in {b.symbol for b in bars}:
            median = self.buffer.median_close(symbol, [b.close for b in bars
                                                       if b.symbol == symbol])
            low, high = max(MIN_PRICE, median / PRICE_BAND), median * PRICE_BAND
            for i, bar in enumerate(bars):
                for name in _PRICES if bar.symbol == symbol else ():
                    value = getattr(bar, name)
                    if not low <= value <= high:
                        raise InputRefused(("body", "bars", i, name), (
                            f"implausible {symbol} {name} {value!r} at {bar.ts.isoformat()}: "
                            f"outside [{low:.6g}, {high:.6g}] (at least {MIN_PRICE}, and "
                            f"within a factor {PRICE_BAND:g} of the median close "
                            f"{median:.6g} of the session's {symbol} bars)"))


class SessionRegistry:
    """The open sessions of one worker process (thread-safe)."""

    def __init__(self, limits: SessionLimits | None = None, clock: Clock | None = None
                 ) -> None:
        self.limits = limits or SessionLimits()
        self.clock: Clock = clock or system_clock
        self._sessions: dict[str, DecisionSession] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, served: ServedModel, day: date, *, mode: ActionMode, seed: int
             ) -> DecisionSession:
        """A new session; ``SessionRefused`` (429) when ``max_sessions`` are open."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            if len(self._sessions) >= self.limits.max_sessions:
                raise SessionRefused(429, (
                    f"{len(self._sessions)} sessions are open, the most this worker holds "
                    f"(INTRADAY_JULES_SERVICE_MAX_SESSIONS={self.limits.max_sessions}): DELETE "
                    f"finished ones, or wait for idle ones to expire after "
                    f"{self.limits.ttl_s:g} s"))
            session_id = secrets.token_hex(16)
            session = DecisionSession(session_id, served, day, mode=mode, seed=seed, now=now)
            self._sessions[session_id] = session
            return session

    def get(self, session_id: str) -> DecisionSession:
        """The session, its idle clock restarted; ``SessionRefused`` (404) if unknown or
        expired."""
        now = self.clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and self._idle(session, now):
                del self._sessions[session_id]
                session = None
            if session is None:
                raise SessionRefused(404, (
                    f"no session {session_id!r}: never opened, deleted, or dropped after "
                    f"{self.limits.ttl_s:g} s idle (open a new one with POST /sessions)"))
            session.last_used = now
            return session

    def close(self, session_id: str) -> None:
        self.get(session_id)  # 404 when unknown or expired
        with self._lock:
            self._sessions.pop(session_id, None)

    def _expire(self, now: datetime) -> None:
        for session_id in [k for k, s in self._sessions.items() if self._idle(s, now)]:
            del self._sessions[session_id]

    def _idle(self, session: DecisionSession, now: datetime) -> bool:
        return (now - session.last_used).total_seconds() >= self.limits.ttl_s
