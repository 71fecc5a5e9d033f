"""``IbkrBarFeed``: the live ``BarFeed`` over Interactive Brokers for the trading loop.

One ``LiveBarStream`` per symbol (``IbkrSource.stream_bars``: keepUpToDate bars by default, or
5-second real-time bars aggregated to minutes), all on the source's market-data connection
(its own client id: ``ClientRole.LIVE_FEED``, distinct from ingestion's and the broker's).
A reader thread polls the streams one after the other, so reconnects after a dropped socket
or 1101 happen one at a time on the shared connection; each stream resubscribes and backfills
from its last bar itself.

The loop needs a minute's bars together and in order (a bar of the next minute first would
abandon the minute and make the late bar out of order), so the feed holds each minute until
every symbol has sent it, or a newer one (a symbol with no trade that minute), or until
``minute_grace_s`` passes; then it yields the minute's bars in the session's symbol order. A
``None`` heartbeat comes whenever ``heartbeat_s`` passes without a bar, so the loop notices
stale data while nothing arrives.

Start: after a restart the streams backfill from the minute after the resume point (bars that
closed more than the loop's ``max_bar_delay`` ago are then refused by its intake as stale);
a first start streams from the minute forming now (by the gateway's clock).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from intraday_jules.adapters.ibkr import IbkrConfig, IbkrSource, LiveBarStream, StreamMode
from intraday_jules.domain.bars import BAR, Bar
from intraday_jules.domain.calendar import session_date_of
from intraday_jules.market_data.feed import FeedItem

log = logging.getLogger(__name__)


class IbkrBarFeed:
    """Completed 1-minute bars of ``symbols`` from IB, minute by minute, with heartbeats.

    source: the market-data ``IbkrSource`` (closed by ``close`` only if ``owns_source``).
    symbols: the session's symbols, in its order.
    session: when given, bars of other sessions (history around a pre-open start) are
        dropped here rather than refused by the loop as bad input.
    mode: ``StreamMode.KEEP_UP_TO_DATE`` (IB's own minute bars) or ``REAL_TIME_BARS``.
    heartbeat_s: a ``None`` is yielded after this long without a bar.
    minute_grace_s: how long a minute waits for the symbols that have not sent it.
    poll_s: how long the reader waits on one stream before looking at the next.
    retry_s: pause before re-opening a stream that failed for good (it resumes after its
        last bar, so nothing is skipped or repeated).
    monotonic: the clock for the waits above (injectable).
    """

    def __init__(self, source: IbkrSource, symbols: Sequence[str], *,
                 session: date | None = None, mode: StreamMode = StreamMode.KEEP_UP_TO_DATE,
                 heartbeat_s: float = 5.0, minute_grace_s: float = 10.0, poll_s: float = 0.02,
                 retry_s: float = 5.0, owns_source: bool = False,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.source, self.symbols, self.mode = source, tuple(symbols), mode
        self.session, self.owns_source = session, owns_source
        self.heartbeat_s, self.minute_grace_s = heartbeat_s, minute_grace_s
        self.poll_s, self.retry_s, self._monotonic = poll_s, retry_s, monotonic
        self.name = source.name
        self._readers: list[_Reader] = []

    def __repr__(self) -> str:
        return f"IbkrBarFeed({self.source.config!r}, symbols={self.symbols})"

    def bars(self, after: datetime | None) -> Iterator[FeedItem]:
        """Open every symbol's stream now (a gateway that cannot be reached fails here)."""
        since = after + BAR if after is not None else self._forming_minute()
        reader = _Reader(self.source, self.symbols, since, self.mode, self.poll_s, self.retry_s)
        reader.start()
        self._readers.append(reader)
        return self._deliver(reader, after)

    def connected(self) -> bool:
        """Whether the market-data connection is up and TWS reaches IB (no 1100 pending): a
        failover feed (``market_data.live_failover``) takes minutes elsewhere meanwhile."""
        client = self.source.client
        return client.is_connected and not client.connectivity.lost

    def close(self) -> None:
        """Stop every reader and close its streams (also done when the iteration ends)."""
        for reader in self._readers:
            reader.stop()
        self._readers.clear()
        if self.owns_source:
            self.source.close()

    def _wanted(self, bar: Bar, after: datetime | None) -> bool:
        if after is not None and bar.ts <= after:
            return False  # a restart's stored minutes
        if self.session is not None and session_date_of(bar.ts) != self.session:
            log.warning("live %s bar %s is not of session %s: dropped", bar.symbol,
                        bar.ts.isoformat(), self.session)
            return False
        return True

    def _forming_minute(self) -> datetime:
        client = self.source.client
        client.connect()
        return client.server_time().astimezone(UTC).replace(second=0, microsecond=0)

    def _deliver(self, reader: _Reader, after: datetime | None) -> Iterator[FeedItem]:
        minutes = _Minutes(self.symbols, self.minute_grace_s, self._monotonic)
        quiet_since = self._monotonic()
        try:
            while True:
                wait = min(self.heartbeat_s - (self._monotonic() - quiet_since),
                           minutes.grace_left())
                try:
                    bar = reader.bars.get(timeout=max(wait, 0.001))
                except queue.Empty:
                    pass
                else:
                    minutes.add(bar, keep=self._wanted(bar, after))
                for ready in minutes.ready():
                    yield from ready
                    quiet_since = self._monotonic()
                if self._monotonic() - quiet_since >= self.heartbeat_s:
                    yield None
                    quiet_since = self._monotonic()
        finally:
            reader.stop()
            if self.owns_source:
                self.source.close()


def ib_live_feed(*, host: str, port: int, client_id: int, symbols: Sequence[str],
                 session: date | None = None, **options: Any) -> IbkrBarFeed:
    """The trading job's live feed (built by ``pipelines.trading_parts``): its own market-data
    connection (``client_id``: ``ClientRole.LIVE_FEED``, distinct from ingestion's and the
    broker's), closed with the feed."""
    source = IbkrSource(IbkrConfig(host=host, port=port, client_id=client_id))
    return IbkrBarFeed(source, symbols, session=session, owns_source=True, **options)


class _Minutes:
    """Bars held until their minute is complete (every symbol reached it) or overdue."""

    def __init__(self, symbols: tuple[str, ...], grace_s: float,
                 monotonic: Callable[[], float]) -> None:
        self.symbols, self.grace_s, self.monotonic = symbols, grace_s, monotonic
        self.pending: dict[datetime, dict[str, Bar]] = {}
        self.first_seen: dict[datetime, float] = {}
        self.latest: dict[str, datetime] = {}

    def add(self, bar: Bar, *, keep: bool) -> None:
        seen = self.latest.get(bar.symbol)
        self.latest[bar.symbol] = bar.ts if seen is None else max(seen, bar.ts)
        if keep:
            self.pending.setdefault(bar.ts, {})[bar.symbol] = bar
            self.first_seen.setdefault(bar.ts, self.monotonic())

    def grace_left(self) -> float:
        if not self.first_seen:
            return float("inf")
        return self.grace_s - (self.monotonic() - min(self.first_seen.values()))

    def ready(self) -> Iterator[list[Bar]]:
        """Each releasable minute's bars in symbol order, oldest minute first."""
        for minute in sorted(self.pending):
            reached = all(s in self.latest and self.latest[s] >= minute for s in self.symbols)
            if not reached and self.monotonic() - self.first_seen[minute] < self.grace_s:
                return
            bars = self.pending.pop(minute)
            del self.first_seen[minute]
            yield [bars[s] for s in self.symbols if s in bars]


class _Reader:
    """One thread reading every symbol's stream in turn into ``bars``."""

    def __init__(self, source: IbkrSource, symbols: tuple[str, ...], since: datetime,
                 mode: StreamMode, poll_s: float, retry_s: float) -> None:
        self.source, self.symbols, self.since, self.mode = source, symbols, since, mode
        self.poll_s, self.retry_s = poll_s, retry_s
        self.bars: queue.Queue[Bar] = queue.Queue()
        self._streams: dict[str, LiveBarStream] = {}
        self._retry_at: dict[str, float] = {}
        self._last: dict[str, datetime] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="ibkr-bar-feed")

    def start(self) -> None:
        for symbol in self.symbols:
            self._streams[symbol] = self._open(symbol)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(10.0)
        for stream in self._streams.values():
            _close_quietly(stream)
        self._streams.clear()

    def _open(self, symbol: str) -> LiveBarStream:
        last = self._last.get(symbol)
        since = last + BAR if last is not None else self.since
        return self.source.stream_bars(symbol, mode=self.mode, since=since)

    def _run(self) -> None:
        while not self._stop.is_set():
            for symbol in self.symbols:
                if self._stop.is_set():
                    return
                self._read(symbol)

    def _read(self, symbol: str) -> None:
        stream = self._streams.get(symbol) or self._reopen(symbol)
        if stream is None:
            self._stop.wait(self.poll_s)
            return
        try:
            bar = stream.get(timeout=self.poll_s)
        except TimeoutError:
            return
        except Exception as exc:  # the stream gave up (reconnects exhausted): re-open later
            log.error("live %s bars failed: %s; re-opening in %.0f s", symbol, exc, self.retry_s)
            _close_quietly(stream)
            del self._streams[symbol]
            self._retry_at[symbol] = time.monotonic() + self.retry_s
            return
        self._last[symbol] = bar.ts
        self.bars.put(bar)

    def _reopen(self, symbol: str) -> LiveBarStream | None:
        if time.monotonic() < self._retry_at.get(symbol, 0.0):
            return None
        try:
            self._streams[symbol] = self._open(symbol)
        except Exception as exc:  # still unreachable: try again later
            log.error("re-opening live %s bars failed: %s", symbol, exc)
            self._retry_at[symbol] = time.monotonic() + self.retry_s
            return None
        return self._streams[symbol]


def _close_quietly(stream: LiveBarStream) -> None:
    try:
        stream.close()
    except Exception as exc:  # closing a broken stream must not stop the feed
        log.warning("closing the live %s stream: %s", stream.symbol, exc)
