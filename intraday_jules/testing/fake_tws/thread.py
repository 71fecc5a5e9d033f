"""Run the fake gateway on a background thread, for tests that drive a synchronous client.

The gateway's state lives on its own event loop; every action a test takes (advance live
time, send 1101, fill an order, drop sockets) is marshalled onto that loop and waited for, so
when the call returns the messages have been written to the sockets.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from intraday_jules.testing.fake_tws.faults import FaultScript
from intraday_jules.testing.fake_tws.incoming import HistoricalRequest
from intraday_jules.testing.fake_tws.orders import OrderBook
from intraday_jules.testing.fake_tws.server import FakeTws, RecordedMessage

T = TypeVar("T")


class FakeTwsThread:
    """A ``FakeTws`` served from a daemon thread. Use as a context manager or start()/stop().

    Takes the same arguments as ``FakeTws``. ``faults`` and ``orders.script`` are thread-safe
    and can be used directly; the other actions go through ``call``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.gateway = FakeTws(*args, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> int:
        """Start serving; returns the bound port."""
        ready: Future[int] = Future()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True,
                                        name="fake-tws")
        self._thread.start()
        return ready.result(timeout)

    def _serve(self, ready: Future[int]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            port = loop.run_until_complete(self.gateway.start())
        except BaseException as exc:  # report bind errors to start()
            ready.set_exception(exc)
            loop.close()
            return
        ready.set_result(port)
        loop.run_forever()
        loop.run_until_complete(self.gateway.stop())
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and its thread; idempotent."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> FakeTwsThread:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 10.0) -> T:
        """Run ``fn(*args)`` on the gateway's loop and return its result."""
        if self._loop is None:
            raise RuntimeError("the fake gateway thread is not started")

        async def run() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    @property
    def port(self) -> int:
        return self.gateway.port

    @property
    def faults(self) -> FaultScript:
        return self.gateway.faults

    @property
    def orders(self) -> OrderBook:
        return self.gateway.orders

    @property
    def messages(self) -> list[RecordedMessage]:
        return self.gateway.messages

    @property
    def historical_requests(self) -> list[HistoricalRequest]:
        return self.gateway.historical_requests

    def advance_live(self, to: datetime) -> int:
        return self.call(self.gateway.advance_live, to)

    def live_subscriptions(self) -> int:
        """How many live subscriptions the gateway serves (a subscription has no answer to
        wait for, so tests wait for this before moving live time)."""
        return self.call(lambda: len(self.gateway.live.subscriptions))

    def send_connectivity(self, code: int) -> None:
        self.call(self.gateway.send_connectivity, code)

    def drop_connections(self) -> None:
        self.call(self.gateway.drop_connections)

    def fill_order(self, order_id: int, quantity: float, price: float | None = None) -> None:
        self.call(self.gateway.fill_order, order_id, quantity, price)
