"""Live completed 1-minute bars for the trading loop.

Two ways to get them from IB, chosen by ``StreamMode``:
- ``KEEP_UP_TO_DATE``: historical bars with keepUpToDate=True. IB keeps updating the forming
  bar; a bar is complete once a newer bar appears, so the stream emits ``bars[-2]`` whenever a
  bar is appended. The bars are IB's own, identical to what historical requests return.
- ``REAL_TIME_BARS``: 5-second bars aggregated into minutes (``MinuteAggregator``); a minute is
  emitted when its last 5-second bar arrives; a partly seen minute is fetched from history.

ib_async callbacks (on the client's loop) only enqueue events; the consumer's ``get`` does the
work, including recovery: after 1101 (data lost) or a dropped socket it reconnects with
backoff, resubscribes and backfills from the last emitted bar, so the emitted bars have
strictly increasing timestamps, with no duplicate and no gap.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from ib_async import BarDataList, Contract, RealTimeBarList

from intraday_jules.adapters.ibkr.client import IbkrClient
from intraday_jules.adapters.ibkr.config import Backoff
from intraday_jules.adapters.ibkr.connectivity import SOCKET_CLOSED
from intraday_jules.adapters.ibkr.data.minutes import FiveSecondBar, MinuteAggregator
from intraday_jules.adapters.ibkr.errors import IbkrError
from intraday_jules.adapters.ibkr.pacing import PacedRequest, PacingLimiter
from intraday_jules.adapters.ibkr.parsing import (
    SOURCE_NAME,
    HistoricalQuery,
    query_for_minutes,
    to_bar,
)
from intraday_jules.domain.bars import Bar
from intraday_jules.market_data.source import SourceUnavailable

MINUTE = timedelta(minutes=1)
_SUBSCRIBE_MINUTES = 2  # history loaded with a fresh subscription: the forming bar and one more


class StreamMode(StrEnum):
    KEEP_UP_TO_DATE = "keep_up_to_date"
    REAL_TIME_BARS = "real_time_bars"


class LiveBarStream:
    """Completed 1-minute ``Bar``s of one symbol, in order; ``get`` returns the next one.

    since: emit completed bars from this bar start on (history first); None: from the minute
        forming at subscription (by the gateway's clock, ``reqCurrentTime``).
    limiter: paces the historical requests the stream makes (subscriptions, backfills).
    """

    def __init__(self, client: IbkrClient, symbol: str, *, use_rth: bool, mode: StreamMode,
                 since: datetime | None, reconnect: Backoff, sleep: Callable[[float], None],
                 limiter: PacingLimiter | None = None) -> None:
        self.client, self.symbol, self.use_rth, self.mode = client, symbol, use_rth, mode
        self._since, self._reconnect, self._sleep, self._limiter = since, reconnect, sleep, limiter
        self._events: queue.Queue[tuple[int, str, Any]] = queue.Queue()
        self._ready: deque[Bar] = deque()
        self._aggregator = MinuteAggregator(symbol)
        self._generation = 0
        self._qualified: Contract | None = None
        self._subscription: BarDataList | RealTimeBarList | None = None
        self.last_emitted: datetime | None = None
        self.recoveries = 0

    def start(self) -> None:
        """Connect if needed, qualify the contract and subscribe."""
        self.client.connect()
        self._qualified = self.client.qualify_stock(self.symbol)
        self.client.connectivity.add_listener(self._on_connectivity)
        if self._since is None:  # from the minute forming now (by the gateway's clock)
            self._since = self.client.server_time().replace(second=0, microsecond=0)
        self._subscribe(self._since)

    def get(self, timeout: float | None = None) -> Bar:
        """The next completed bar; raises TimeoutError if none completes within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"no completed {self.symbol} bar within {timeout} s")
            try:
                generation, kind, payload = self._events.get(timeout=remaining)
            except queue.Empty:
                continue
            self._handle(generation, kind, payload)
        return self._ready.popleft()

    def close(self) -> None:
        self.client.connectivity.remove_listener(self._on_connectivity)
        if self._subscription is not None:
            self.client.cancel_subscription(self._subscription)
            self._subscription = None

    # --- subscribing (the ib_async calls run on the client's loop) ---

    def _subscribe(self, since: datetime | None) -> None:
        self._generation += 1
        self._aggregator.reset()
        if self.mode is StreamMode.KEEP_UP_TO_DATE:
            now = self.client.server_time().astimezone(UTC)
            minutes = _SUBSCRIBE_MINUTES
            if since is not None:
                minutes += max(0, int((now - since) / MINUTE))
            self._pace(query_for_minutes(self.symbol, None, minutes, self.use_rth))
            self._subscription = self.client.call(
                lambda: self._keep_up_to_date(minutes * 60, now), f"{self.symbol} keepUpToDate")
        else:
            if since is not None:
                self._backfill_completed(since)
            self._subscription = self.client.call(self._real_time_bars,
                                                  f"{self.symbol} reqRealTimeBars")

    async def _keep_up_to_date(self, duration_s: int, now: datetime) -> BarDataList:
        generation = self._generation
        bars = await self.client.ib.reqHistoricalDataAsync(
            self._contract, "", f"{duration_s} S", "1 min", "TRADES", self.use_rth,
            formatDate=2, keepUpToDate=True, timeout=self.client.config.request_timeout_s)
        # complete: a newer bar exists, or the bar ended by the gateway's 'now'
        done = [b for i, b in enumerate(bars) if i < len(bars) - 1 or b.date + MINUTE <= now]
        self._events.put((generation, "history", done))

        def on_update(updated: BarDataList, has_new_bar: bool) -> None:
            if has_new_bar and len(updated) >= 2:
                self._events.put((generation, "completed", [updated[-2]]))

        bars.updateEvent += on_update
        return bars

    async def _real_time_bars(self) -> RealTimeBarList:
        generation = self._generation
        bars = self.client.ib.reqRealTimeBars(self._contract, 5, "TRADES", self.use_rth)

        def on_update(updated: RealTimeBarList, has_new_bar: bool) -> None:
            self._events.put((generation, "five_seconds", updated[-1]))

        bars.updateEvent += on_update
        return bars

    @property
    def _contract(self) -> Contract:
        if self._qualified is None:
            raise RuntimeError("LiveBarStream.start() was not called")
        return self._qualified

    def _on_connectivity(self, code: int) -> None:
        self._events.put((self._generation, "connectivity", code))

    # --- consuming ---

    def _handle(self, generation: int, kind: str, payload: Any) -> None:
        if kind == "connectivity":
            if payload in (1101, SOCKET_CLOSED):
                self._recover(reconnect=payload == SOCKET_CLOSED)
            return
        if generation != self._generation:
            return  # left over from a subscription that recovery replaced
        if kind in ("history", "completed"):
            self._emit_all(payload)
        else:
            self._on_five_seconds(payload)

    def _on_five_seconds(self, rtb: Any) -> None:
        part = FiveSecondBar(rtb.time, rtb.open_, rtb.high, rtb.low, rtb.close, rtb.volume)
        for closed in self._aggregator.add(part):
            if closed.bar is not None:
                self._emit(closed.bar)
            else:  # partly seen (joined mid-minute): take IB's own bar for that minute
                self._emit_all(self._history(closed.minute + MINUTE, 1))

    def _emit_all(self, bars: list[Any]) -> None:
        for bar in bars:
            self._emit(to_bar(bar, self.symbol))

    def _emit(self, bar: Bar) -> None:
        if self._since is not None and bar.ts < self._since:
            return
        if self.last_emitted is not None and bar.ts <= self.last_emitted:
            return
        self._ready.append(bar)
        self.last_emitted = bar.ts

    # --- recovering ---

    def _recover(self, reconnect: bool) -> None:
        """Resubscribe after data loss and backfill from the bar after the last emitted one."""
        self.recoveries += 1
        if reconnect:
            self._reconnect_with_backoff()
        elif self._subscription is not None:
            self.client.cancel_subscription(self._subscription)
        self._subscription = None
        resume = self.last_emitted + MINUTE if self.last_emitted is not None else self._since
        self._subscribe(resume)

    def _reconnect_with_backoff(self) -> None:
        for attempt in range(self._reconnect.attempts + 1):
            try:
                self.client.connect()
                return
            except IbkrError as exc:
                if attempt == self._reconnect.attempts:
                    raise SourceUnavailable(SOURCE_NAME, None, f"live {self.symbol} bars: "
                                            f"reconnect failed: {exc}") from None
                self._sleep(self._reconnect.delay(attempt))

    def _backfill_completed(self, since: datetime) -> None:
        now = self.client.server_time().astimezone(UTC)
        if now - since < MINUTE:
            return  # no minute since then has completed yet
        minutes = int((now - since) / MINUTE) + 1
        for raw in self._history(None, minutes):
            bar = to_bar(raw, self.symbol)
            if bar.ts + MINUTE <= now:
                self._emit(bar)

    def _history(self, end: datetime | None, minutes: int) -> list[Any]:
        query = query_for_minutes(self.symbol, end, minutes, self.use_rth)
        self._pace(query)
        return self.client.historical_bars(self._contract, query)

    def _pace(self, query: HistoricalQuery) -> None:
        if self._limiter is not None:
            self._limiter.acquire(PacedRequest(query.contract_key, query.identity))
