"""Following IB's connectivity notices as IB documents them.

- 1100 "connectivity between IB and TWS has been lost": TWS is up but cut off from IB. Requests
  sent now would go nowhere, so new ones wait for a restore (up to ``restore_timeout_s``).
- 1101 "restored - data lost": market data subscriptions and pending requests are gone; pending
  historical requests are re-sent and live streams resubscribe and backfill.
- 1102 "restored - data maintained": nothing to redo.
- a closed socket (TWS restarted, network cut) is reported to listeners as code ``SOCKET_CLOSED``.

All methods except ``connected``/``lost`` run on the client's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from intraday_jules.adapters.ibkr.errors import ErrorKind, IbkrConnectivityLost, classify

logger = logging.getLogger(__name__)
SOCKET_CLOSED = -1
Listener = Callable[[int], None]


class Connectivity:
    """IB-side connectivity state plus the listeners and waiters that depend on it."""

    def __init__(self) -> None:
        self._lost = False
        self._restored: asyncio.Event | None = None
        self._data_lost: list[asyncio.Future[None]] = []
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    @property
    def lost(self) -> bool:
        return self._lost

    def connected(self) -> None:
        """A fresh API connection starts with IB connectivity assumed up."""
        self._lost = False
        self._restored = None  # made again on the (possibly new) loop when first needed

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def on_error(self, code: int, message: str) -> None:
        kind = classify(code, message)
        match kind:
            case ErrorKind.CONNECTIVITY_LOST:
                self._lost = True
                self._event().clear()
            case ErrorKind.RESTORED_DATA_LOST | ErrorKind.RESTORED_DATA_KEPT:
                self._lost = False
                self._event().set()
                if kind is ErrorKind.RESTORED_DATA_LOST:
                    self._fail_pending()
            case ErrorKind.FARM_BROKEN:
                logger.warning("IB %s: %s", code, message)
                return
            case _:
                return
        logger.warning("IB connectivity %s: %s", code, message)
        self._notify(code)

    def socket_closed(self) -> None:
        self._notify(SOCKET_CLOSED)

    def data_lost_future(self) -> asyncio.Future[None]:
        """Resolves when a 1101 arrives: whatever was pending is gone."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._data_lost = [f for f in self._data_lost if not f.done()] + [future]
        return future

    async def wait_restored(self, timeout: float) -> None:
        """Return at once when IB is reachable; else wait for 1101/1102 up to ``timeout``."""
        if not self._lost:
            return
        try:
            await asyncio.wait_for(self._event().wait(), timeout)
        except TimeoutError:
            raise IbkrConnectivityLost(f"TWS lost its connection to IB (1100) and it was not "
                                       f"restored within {timeout} s", 1100) from None

    def _event(self) -> asyncio.Event:
        if self._restored is None:
            self._restored = asyncio.Event()
            self._restored.set()
        return self._restored

    def _fail_pending(self) -> None:
        pending, self._data_lost = self._data_lost, []
        for future in pending:
            if not future.done():
                future.set_result(None)

    def _notify(self, code: int) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(code)
            except Exception:  # a broken listener must not break the client
                logger.exception("connectivity listener failed for code %s", code)
