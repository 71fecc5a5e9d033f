"""The thin client: ``ib_async.IB`` on its own loop, with IB's errors turned into exceptions.

It mirrors the vendor API (connect, qualify, historical bars, subscriptions) and adds only
what ib_async leaves to the caller: failing fast on 326 (ib_async waits for its handshake
timeout), naming 502/504, following the 1100/1101/1102 connectivity notices, and telling a
timed-out request from an empty answer. Domain conversion lives in ``parsing``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from ib_async import IB, BarData, BarDataList, Contract, RealTimeBarList, RequestError, Stock

from intraday_jules.adapters.ibkr.config import IbkrConfig
from intraday_jules.adapters.ibkr.connectivity import Connectivity
from intraday_jules.adapters.ibkr.errors import (
    IbkrClientIdInUse,
    IbkrConnectError,
    IbkrConnectionLost,
    IbkrConnectivityLost,
    IbkrDataLost,
    IbkrNotConnected,
    IbkrRequestError,
    IbkrTimeout,
)
from intraday_jules.adapters.ibkr.loop import EventLoopThread
from intraday_jules.adapters.ibkr.parsing import HistoricalQuery

logger = logging.getLogger(__name__)
T = TypeVar("T")
#: Extra seconds the caller's thread waits beyond a request's own timeout.
_GRACE_S = 5.0


class IbkrClient:
    """One API connection to TWS/Gateway. Thread-safe; blocking methods run on its loop."""

    def __init__(self, config: IbkrConfig) -> None:
        self.config = config
        self._loop = EventLoopThread(f"ibkr-{config.client_id}")
        self._ib: IB | None = None
        self.connectivity = Connectivity()
        self._contracts: dict[str, Contract] = {}

    @property
    def ib(self) -> IB:
        """The underlying ib_async client (use it only inside ``run``)."""
        if self._ib is None:
            self._ib = self._loop.run(self._create_ib)
        return self._ib

    async def _create_ib(self) -> IB:
        ib = IB()
        ib.RaiseRequestErrors = True  # per-request errors raise instead of returning []
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self.connectivity.socket_closed
        return ib

    def run(self, make: Callable[[], Any], timeout: float | None = None) -> Any:
        """Run a coroutine factory on the client's loop (for brokers and streams)."""
        return self._loop.run(make, timeout)

    def call_soon(self, fn: Callable[[], object]) -> None:
        self._loop.call_soon(fn)

    @property
    def is_connected(self) -> bool:
        return self._ib is not None and self._ib.isConnected()

    def connect(self) -> None:
        """Open the API connection; raises IbkrClientIdInUse / IbkrConnectError."""
        ib = self.ib
        if ib.isConnected():
            return
        self._loop.run(self._connect, self.config.connect_timeout_s + _GRACE_S)
        self.connectivity.connected()

    async def _connect(self) -> None:
        ib, cfg = self.ib, self.config
        refused: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_error(req_id: int, code: int, message: str, contract: object) -> None:
            if code == 326 and not refused.done():
                refused.set_result(message)

        ib.errorEvent += on_error
        attempt = asyncio.ensure_future(ib.connectAsync(
            cfg.host, cfg.port, cfg.client_id, timeout=cfg.connect_timeout_s,
            readonly=cfg.readonly, account=cfg.account or ""))
        try:
            await asyncio.wait({attempt, refused}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ib.errorEvent -= on_error
        if refused.done():
            attempt.cancel()
            with contextlib.suppress(BaseException):
                await attempt
            # IB.disconnect() needs a ready session; this one never was
            ib.client.disconnect()  # type: ignore[no-untyped-call]
            raise IbkrClientIdInUse(f"client id {cfg.client_id} is already in use at "
                                    f"{cfg.host}:{cfg.port}: {refused.result()} Set another "
                                    "client id (each connection needs its own).", 326)
        refused.cancel()
        self._raise_connect_failure(attempt)

    def _raise_connect_failure(self, attempt: asyncio.Future[Any]) -> None:
        cfg = self.config
        exc = attempt.exception()
        if exc is None:
            return
        if isinstance(exc, ConnectionRefusedError):
            raise IbkrConnectError(f"could not connect to TWS/Gateway at {cfg.host}:{cfg.port}: "
                                   "nothing listens there (is it running, with the API "
                                   "enabled and this port configured?)", 502) from None
        if isinstance(exc, TimeoutError | asyncio.TimeoutError):
            raise IbkrConnectError(f"TWS/Gateway at {cfg.endpoint} did not complete the API "
                                   f"handshake within {cfg.connect_timeout_s} s") from None
        raise IbkrConnectError(f"API connection to {cfg.endpoint} failed: {exc!r}") from exc

    def disconnect(self) -> None:
        if self._ib is not None and self._ib.isConnected():
            ib = self._ib

            async def close() -> None:
                ib.disconnect()

            self._loop.run(close, 10.0)

    def close(self) -> None:
        """Disconnect and stop the loop thread; idempotent."""
        self.disconnect()
        self._loop.stop()
        self._ib = None
        self._contracts.clear()

    def _require_connected(self) -> IB:
        if not self.is_connected:
            raise IbkrNotConnected(f"not connected to TWS/Gateway at {self.config.endpoint}; "
                                   "connect() first (or the connection dropped)", 504)
        return self.ib

    def _on_error(self, req_id: int, code: int, message: str, contract: object) -> None:
        self.connectivity.on_error(code, message)

    def qualify_stock(self, symbol: str) -> Contract:
        """The SMART-routed USD stock contract with its conId (cached per connection life)."""
        if symbol in self._contracts:
            return self._contracts[symbol]
        ib = self._require_connected()

        async def qualify() -> list[Any]:
            return await asyncio.wait_for(ib.qualifyContractsAsync(
                Stock(symbol, "SMART", "USD")), self.config.request_timeout_s)

        result = self.call(qualify, f"reqContractDetails({symbol} STK SMART USD)")
        contract = result[0] if result else None
        if not isinstance(contract, Contract) or not contract.conId:
            raise IbkrRequestError(200, f"no security definition for stock {symbol} "
                                        "(SMART, USD)")
        self._contracts[symbol] = contract
        return contract

    def historical_bars(self, contract: Contract, query: HistoricalQuery) -> list[BarData]:
        """One reqHistoricalData (formatDate=2); raises the IbkrError that explains a failure."""
        self._require_connected()
        extra = self.config.restore_timeout_s
        return list(self.call(lambda: self._historical(contract, query), query.describe(), extra))

    def call(self, make: Callable[[], Awaitable[T]], what: str, extra_s: float = 0.0) -> T:
        """Run a request coroutine on the loop; IB's request errors, a dropped socket and no
        answer within ``request_timeout_s`` (+ ``extra_s``) become ``IbkrError``s."""
        try:
            return self._loop.run(make, self.config.request_timeout_s + extra_s + _GRACE_S)
        except TimeoutError:
            raise IbkrTimeout(f"{what} got no answer from {self.config.endpoint} within "
                              f"{self.config.request_timeout_s} s") from None
        except ConnectionError as exc:
            raise IbkrConnectionLost(f"{what}: the connection to {self.config.endpoint} "
                                     f"dropped ({exc})") from None
        except RequestError as exc:
            raise IbkrRequestError(exc.code, exc.message, exc.reqId) from None

    async def _historical(self, contract: Contract, query: HistoricalQuery) -> BarDataList:
        await self.connectivity.wait_restored(self.config.restore_timeout_s)
        ib, timeout = self.ib, self.config.request_timeout_s
        loop = asyncio.get_running_loop()
        started = loop.time()
        data_lost = self.connectivity.data_lost_future()
        request = asyncio.ensure_future(ib.reqHistoricalDataAsync(
            contract, query.end or "", query.duration, query.bar_size, query.what_to_show,
            query.use_rth, formatDate=2, keepUpToDate=False, timeout=timeout))
        waiters: list[asyncio.Future[Any]] = [request, data_lost]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if not request.done():
            request.cancel()
            raise IbkrDataLost("connectivity restored with data lost (1101) while "
                               f"{query.describe()} was pending; it must be re-sent", 1101)
        data_lost.cancel()
        try:
            bars = request.result()
        except RequestError as exc:
            raise IbkrRequestError(exc.code, exc.message, exc.reqId) from None
        except ConnectionError:
            raise IbkrConnectionLost(f"the connection to {self.config.endpoint} dropped while "
                                     f"{query.describe()} was pending") from None
        if not bars and loop.time() - started >= timeout * 0.999:
            self._raise_timeout(query, timeout)
        return bars

    def _raise_timeout(self, query: HistoricalQuery, timeout: float) -> None:
        # ib_async cancels a timed-out request at the gateway and returns an empty list; only
        # the elapsed time tells it from a genuinely empty answer.
        if self.connectivity.lost:
            raise IbkrConnectivityLost(f"TWS lost its connection to IB (1100) and "
                                       f"{query.describe()} got no answer in {timeout} s", 1100)
        raise IbkrTimeout(f"{query.describe()} got no answer from {self.config.endpoint} "
                          f"within {timeout} s")

    def server_time(self) -> datetime:
        """TWS's clock (reqCurrentTime): 'now' for live requests, UTC."""
        ib = self._require_connected()

        async def current_time() -> datetime:
            now = await asyncio.wait_for(ib.reqCurrentTimeAsync(), self.config.request_timeout_s)
            return now.astimezone(UTC)

        return self.call(current_time, "reqCurrentTime")

    def cancel_subscription(self, bars: BarDataList | RealTimeBarList) -> None:
        if not self.is_connected:
            return
        ib = self.ib

        async def cancel() -> None:
            if isinstance(bars, RealTimeBarList):
                ib.cancelRealTimeBars(bars)
            else:
                ib.cancelHistoricalData(bars)

        self._loop.run(cancel, 10.0)
