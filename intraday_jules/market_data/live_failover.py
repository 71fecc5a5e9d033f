"""``FailoverFeed``: a live feed that takes the minutes its primary stream misses from a
fallback source (the failover chain's next vendor), and goes back to the primary when it
delivers again.

Why: while trading, a stalled or disconnected IB stream used to leave the loop without bars
until it went REDUCING on stale data. The fallback (Alpha Vantage) can serve the same minutes
a few seconds late; the loop cannot tell them apart except by their provenance, which each
fallback bar carries (``SourcedBar``), so the stored bar and the decision name the source that
really produced it.

When: the feed looks at the clock on every heartbeat of the primary (a live primary yields
``None`` every few seconds while nothing arrives; a primary that never does cannot fail over).
A minute is taken from the fallback once the primary has not delivered it ``stall_after``
after its close (a stall), or as soon as it is complete while ``connected`` says the primary is
disconnected (IB: socket closed, or 1100 until 1101/1102). The fallback is then asked for
every completed regular-hours minute not yet delivered, again whenever such a minute is
added, and every ``retry_after`` while minutes are still missing (the vendor may not have
them yet). A reconnected primary gets ``stall_after`` again before the fallback is asked, so
its backfill wins the race. ``stall_after`` must leave room for the fetch within the loop's
``max_bar_delay`` (90 s after the previous minute's close): the default 15 s delivers a
stalled minute about 75 s after that.

Back: as soon as the primary delivers a minute at least as new as the newest one delivered,
it is the source again. Nothing is ever delivered twice or out of order: the primary's bars
of minutes the fallback already delivered (a stream backfilling after a reconnect, messages
held during an outage) are dropped here, as the intake would refuse them as bad input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from intraday_jules.domain.bars import BAR, Bar, BarValidationError, frame_to_bars
from intraday_jules.domain.calendar import session_window
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.market_data.feed import BarFeed, FeedItem, SourcedBar
from intraday_jules.market_data.source import BarRequest, BarSource, SourceError

log = logging.getLogger(__name__)

DEFAULT_STALL_AFTER = timedelta(seconds=15)
#: Alpha Vantage's free tier allows 5 calls a minute; one attempt costs a call per symbol, so
#: two attempts a minute for two symbols stay inside it (the limiter would block the loop).
DEFAULT_RETRY_AFTER = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Switch:
    """One change of the source the feed takes minutes from (for logs and tests)."""

    at: datetime
    to: str
    reason: str


@dataclass(slots=True)
class _Delivered:
    """How far delivery has come: the first minute still owed, and who delivers it."""

    next_minute: datetime
    newest: datetime | None = None
    newest_symbols: set[str] = field(default_factory=set)
    on_fallback: bool = False
    asked_at: datetime | None = None
    asked_through: datetime | None = None

    def already(self, bar: Bar) -> bool:
        """Whether ``bar``'s minute (or, for the newest minute, this symbol) went out."""
        if self.newest is None:
            return False
        return bar.ts < self.newest or (bar.ts == self.newest and
                                        bar.symbol in self.newest_symbols)

    def caught_up(self, bar: Bar) -> bool:
        """The primary reached the newest delivered minute: it delivers in time again."""
        return self.newest is not None and bar.ts >= self.newest

    def mark(self, bar: Bar) -> None:
        if bar.ts != self.newest:
            self.newest, self.newest_symbols = bar.ts, set()
        self.newest_symbols.add(bar.symbol)
        self.next_minute = max(self.next_minute, bar.ts + BAR)


class FailoverFeed:
    """``primary``'s bars, with the minutes it misses taken from ``fallback``.

    primary: the live feed (its ``name`` is this feed's, the provenance of its bars).
    fallback: a ``BarSource`` that answers the session's bars so far (each row's ``source``
        column, else ``fallback.name``, is the provenance of the bars it delivers).
    session, symbols: the session traded and its symbols, in its order.
    clock: the loop's clock (UTC).
    stall_after, retry_after: see the module docstring.
    connected: the primary's connection state, if it can tell (a disconnect fails over
        without waiting for ``stall_after``).
    """

    def __init__(self, primary: BarFeed, fallback: BarSource, session: date,
                 symbols: Sequence[str], *, clock: Clock = system_clock,
                 stall_after: timedelta = DEFAULT_STALL_AFTER,
                 retry_after: timedelta = DEFAULT_RETRY_AFTER,
                 connected: Callable[[], bool] | None = None) -> None:
        if stall_after < timedelta(0) or retry_after <= timedelta(0):
            raise ValueError(f"stall_after must be >= 0 and retry_after > 0, got "
                             f"{stall_after} and {retry_after}")
        self.primary, self.fallback = primary, fallback
        self.session, self.symbols = session, tuple(symbols)
        self.window = session_window(session)
        self.clock, self.stall_after, self.retry_after = clock, stall_after, retry_after
        self.connected = connected
        self.name = primary.name
        self.switches: list[Switch] = []

    def __repr__(self) -> str:
        return (f"FailoverFeed({self.primary!r}, fallback={self.fallback.name}, "
                f"stall_after={self.stall_after.total_seconds():.0f}s)")

    def bars(self, after: datetime | None) -> Iterator[FeedItem]:
        """The primary's bars from ``after`` on, gaps filled from the fallback."""
        start = after + BAR if after is not None else _minute_of(self.clock())
        return self._deliver(self.primary.bars(after), _Delivered(start))

    def close(self) -> None:
        """Close the primary (the fallback belongs to whoever built it)."""
        close = getattr(self.primary, "close", None)
        if callable(close):
            close()

    def _deliver(self, items: Iterator[FeedItem], done: _Delivered) -> Iterator[FeedItem]:
        try:
            for item in items:
                if item is not None:
                    if self._from_primary(item, done):
                        yield item
                    continue
                filled = self._fill_gap(done)
                yield from filled
                if not filled:
                    yield None
        finally:
            close = getattr(items, "close", None)
            if callable(close):
                close()  # the primary's own clean-up (its streams) runs now

    def _from_primary(self, bar: Bar, done: _Delivered) -> bool:
        """Whether the primary's ``bar`` is delivered (False: its minute already went out)."""
        if done.on_fallback and done.caught_up(bar):
            self._switch(done, to_fallback=False,
                         reason=f"{self.primary.name} delivers again ({bar.symbol} "
                                f"{bar.ts.isoformat()})")
        if done.already(bar):
            log.debug("%s %s %s: already delivered, dropped", self.primary.name, bar.symbol,
                      bar.ts.isoformat())
            return False
        done.mark(bar)
        return True

    def _fill_gap(self, done: _Delivered) -> list[Bar]:
        """On a heartbeat: the missing completed minutes from the fallback, if it is time."""
        now = self.clock()
        first = max(done.next_minute, self.window.open)
        through = min(_minute_of(now) - BAR, self.window.close - BAR)
        if through < first:
            return []  # nothing completed is missing
        why = self._primary_down(first, now)
        if why is None:
            return []  # the primary may still deliver it
        if not done.on_fallback:
            self._switch(done, to_fallback=True, reason=why)
        elif not self._ask_again(done, now, through):
            return []
        done.asked_at, done.asked_through = now, through
        bars = self._fetch(first, through)
        for bar in bars:
            done.mark(bar)
        return bars

    def _primary_down(self, first: datetime, now: datetime) -> str | None:
        """Why the primary is considered down (None: wait for it)."""
        if self.connected is not None and not self.connected():
            return f"{self.primary.name} is disconnected"
        late = now - (first + BAR)
        if late >= self.stall_after:
            return (f"{self.primary.name} stalled: minute {first.isoformat()} closed "
                    f"{late.total_seconds():.0f} s ago (stall_after "
                    f"{self.stall_after.total_seconds():.0f} s)")
        return None

    def _ask_again(self, done: _Delivered, now: datetime, through: datetime) -> bool:
        """On the fallback: ask when a new minute completed, else every ``retry_after``."""
        if done.asked_at is None or done.asked_through is None:
            return True
        return through > done.asked_through or now - done.asked_at >= self.retry_after

    def _fetch(self, first: datetime, through: datetime) -> list[Bar]:
        """The fallback's bars of minutes ``first``..``through``, minute by minute in symbol
        order, up to the last minute every symbol has reached (a symbol the vendor has not
        updated yet would make its minute incomplete); nothing if any symbol fails."""
        frames: list[pd.DataFrame] = []
        for symbol in self.symbols:
            request = BarRequest(symbol, self.session)
            try:
                frames.append(self.fallback.fetch_session(request))
            except (SourceError, BarValidationError) as exc:  # a bad payload is refused too
                reason = exc.reason if isinstance(exc, SourceError) else str(exc)
                log.warning("failover: %s could not serve %s: %s; asking again later",
                            self.fallback.name, request.describe(), reason)
                return []
        reached = min(_latest(frame) for frame in frames)
        last = min(through, reached)
        rank = {s: i for i, s in enumerate(self.symbols)}
        wanted = pd.concat(frames, ignore_index=True)
        wanted = wanted[(wanted["ts"] >= first) & (wanted["ts"] <= last)]
        wanted = wanted.assign(_rank=wanted["symbol"].map(rank)).sort_values(
            ["ts", "_rank"], kind="stable")
        sources = (wanted["source"].astype(str).tolist() if "source" in wanted.columns
                   else [self.fallback.name] * len(wanted))
        bars = frame_to_bars(wanted.drop(columns=["_rank", "source"], errors="ignore"))
        if bars:
            log.warning("failover: %d minutes %s..%s from %s", len({b.ts for b in bars}),
                        bars[0].ts.isoformat(), bars[-1].ts.isoformat(), self.fallback.name)
        return [SourcedBar.of(bar, source) for bar, source in zip(bars, sources, strict=True)]

    def _switch(self, done: _Delivered, *, to_fallback: bool, reason: str) -> None:
        done.on_fallback = to_fallback
        done.asked_at = done.asked_through = None
        to = self.fallback.name if to_fallback else self.primary.name
        self.switches.append(Switch(self.clock(), to, reason))
        if to_fallback:
            log.warning("live feed: %s; taking the missing minutes from %s", reason, to)
        else:
            log.warning("live feed: %s; back from %s", reason, self.fallback.name)


def _minute_of(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def _latest(frame: pd.DataFrame) -> datetime:
    """The newest bar start of ``frame`` (the epoch when it is empty: nothing reached)."""
    if frame.empty:
        return datetime(1970, 1, 1, tzinfo=UTC)
    return pd.Timestamp(frame["ts"].max()).to_pydatetime()
