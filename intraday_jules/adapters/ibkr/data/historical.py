"""``IbkrSource``: the ``BarSource`` over Interactive Brokers historical 1-minute TRADES bars.

One (symbol, session) is one paced ``reqHistoricalData``. Failures become the ``SourceError``
the failover chain understands: unreachable gateway -> ``SourceUnavailable``; pacing that
outlasts the retries -> ``SourceRateLimited``; impossible bars -> ``SourceDataError``; unknown
symbol or refused request -> ``SourceRequestError``; no or too few bars -> ``MissingBarsError``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import pandas as pd
from ib_async import BarData, Contract

from intraday_jules.adapters.ibkr.client import IbkrClient
from intraday_jules.adapters.ibkr.config import IbkrConfig
from intraday_jules.adapters.ibkr.data.backfill import BackfillReport, SessionDone, run_backfill
from intraday_jules.adapters.ibkr.data.streaming import LiveBarStream, StreamMode
from intraday_jules.adapters.ibkr.errors import (
    ErrorKind,
    IbkrConnectError,
    IbkrConnectionLost,
    IbkrConnectivityLost,
    IbkrDataLost,
    IbkrError,
    IbkrNotConnected,
    IbkrRequestError,
    IbkrTimeout,
)
from intraday_jules.adapters.ibkr.pacing import PacedRequest, PacingLimiter
from intraday_jules.adapters.ibkr.parsing import (
    SOURCE_NAME,
    HistoricalQuery,
    bars_frame,
    query_for_session,
)
from intraday_jules.domain.calendar import session_window
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.market_data.source import (
    BarRequest,
    MissingBarsError,
    SourceError,
    SourceRateLimited,
    SourceRequestError,
    SourceUnavailable,
)

logger = logging.getLogger(__name__)
_UNAVAILABLE = (IbkrConnectError, IbkrNotConnected, IbkrConnectionLost, IbkrConnectivityLost,
                IbkrTimeout)


class IbkrSource:
    """Bars from TWS / IB Gateway through ``ib_async`` (connects lazily, read-only).

    config: where the gateway is and how patient to be (``IbkrConfig``).
    limiter: the pacing limiter (share one per gateway connection); built from clock/sleep.
    clock, sleep: injectable time, used for pacing, backoff and 'is this session over yet'.
    client: an ``IbkrClient`` to reuse (the source closes it on ``close`` only if it made it).
    """

    name = SOURCE_NAME

    def __init__(self, config: IbkrConfig | None = None, *, limiter: PacingLimiter | None = None,
                 clock: Clock = system_clock, sleep: Callable[[float], None] = time.sleep,
                 client: IbkrClient | None = None) -> None:
        self.config = config or IbkrConfig()
        self._clock, self._sleep = clock, sleep
        self.limiter = limiter or PacingLimiter(clock=clock, sleep=sleep)
        self._owns_client = client is None
        self.client = client or IbkrClient(self.config)
        self.requests_sent = 0

    def fetch_session(self, request: BarRequest) -> pd.DataFrame:
        """Validated bars frame (BAR_COLUMNS + ``source``) for one symbol and session."""
        try:
            query = query_for_session(request)
        except ValueError as exc:  # not an exchange session
            raise SourceRequestError(self.name, request, f"{exc} (field session)") from None
        try:
            contract = self._contract(request)
            bars = self._paced_request(request, contract, query)
        except IbkrRequestError as exc:
            raise _request_error(request, exc) from None
        except _UNAVAILABLE as exc:
            raise SourceUnavailable(self.name, request, str(exc)) from None
        frame = bars_frame(bars, request, query)
        self._check_coverage(request, frame)
        return frame

    def _contract(self, request: BarRequest) -> Contract:
        self.client.connect()
        return self.client.qualify_stock(request.symbol)

    def _paced_request(self, request: BarRequest, contract: Contract,
                       query: HistoricalQuery) -> list[BarData]:
        """Send under the pacing limiter; after 162 back off and retry; re-send after 1101."""
        backoff = self.config.pacing_backoff
        pacing_refusals = lost = 0
        while True:
            self.limiter.acquire(PacedRequest(query.contract_key, query.identity))
            self.requests_sent += 1
            try:
                return self.client.historical_bars(contract, query)
            except IbkrDataLost as exc:
                lost += 1
                if lost > self.config.reconnect_backoff.attempts:
                    raise IbkrConnectivityLost(f"{exc}; lost {lost} times, giving up") from None
                logger.warning("ibkr %s: request lost with 1101, re-sending", request.describe())
            except IbkrRequestError as exc:
                if exc.kind is not ErrorKind.PACING:
                    raise
                if pacing_refusals >= backoff.attempts:
                    raise SourceRateLimited(
                        self.name, request, f"{exc} ({query.describe()}); still refused after "
                        f"{pacing_refusals} backed-off retries") from None
                delay = backoff.delay(pacing_refusals)
                pacing_refusals += 1
                logger.warning("ibkr %s: pacing violation (162), retry %d in %.0f s",
                               request.describe(), pacing_refusals, delay)
                self._sleep(delay)

    def _check_coverage(self, request: BarRequest, frame: pd.DataFrame) -> None:
        expected = request.expected_bar_starts()
        if frame.empty:
            raise MissingBarsError(self.name, request, f"IB returned no bars for "
                                   f"{query_for_session(request).describe()}")
        if request.extended_hours or self._clock() < session_window(request.session).close:
            return  # extended hours are sparse; an open session is still filling
        have = pd.DatetimeIndex(frame["ts"])
        missing = expected.difference(have)
        if len(expected) and 1 - len(missing) / len(expected) < self.config.min_rth_coverage:
            raise MissingBarsError(
                self.name, request, f"{len(missing)} of {len(expected)} regular-hours bars "
                f"missing (field ts), first at {missing[0]:%Y-%m-%dT%H:%M:%SZ}; coverage "
                f"below {self.config.min_rth_coverage:.0%}")

    def backfill(self, requests: Sequence[BarRequest], on_session_done: SessionDone) -> \
            BackfillReport:
        """Fetch each request in order, calling ``on_session_done(request, frame)`` once each.

        On connection loss it reconnects with ``config.reconnect_backoff`` and resumes at the
        first request not yet delivered, so no session is delivered twice or skipped.
        """
        return run_backfill(self, requests, on_session_done, self.config.reconnect_backoff,
                            self._sleep)

    def reconnect(self) -> None:
        """Drop the connection (if any) and connect again; raises SourceUnavailable."""
        self.client.disconnect()
        try:
            self.client.connect()
        except IbkrError as exc:
            raise SourceUnavailable(self.name, None, str(exc)) from None

    def stream_bars(self, symbol: str, *, extended_hours: bool | None = None,
                    mode: StreamMode = StreamMode.KEEP_UP_TO_DATE,
                    since: datetime | None = None) -> LiveBarStream:
        """Completed 1-minute bars of ``symbol`` as they close (see ``LiveBarStream``)."""
        extended = self.config.extended_hours if extended_hours is None else extended_hours
        stream = LiveBarStream(self.client, symbol, use_rth=not extended, mode=mode,
                               since=since, reconnect=self.config.reconnect_backoff,
                               sleep=self._sleep, limiter=self.limiter)
        stream.start()
        return stream

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
        else:
            self.client.disconnect()


def _request_error(request: BarRequest, exc: IbkrRequestError) -> SourceError:
    if exc.kind is ErrorKind.NO_DATA:
        return MissingBarsError(SOURCE_NAME, request, str(exc))
    if exc.kind is ErrorKind.UNKNOWN_CONTRACT:
        return SourceRequestError(SOURCE_NAME, request,
                                  f"unknown symbol {request.symbol} (field symbol): {exc}")
    return SourceRequestError(SOURCE_NAME, request, str(exc))
