"""The broker's API connection: the account guard at every connect, IB's connectivity notices,
background reconnects, and ``ConnectionChanged`` events in the broker's queue.

What each notice means for orders (IB's error codes 1100/1101/1102, as IB documents them):
- socket closed (TWS/Gateway restarted, network cut): DISCONNECTED; a worker thread
  reconnects with backoff (forever, until ``close``), re-runs the account guard, rebuilds the
  order index from IB (open, completed orders, executions: fills made while away are reported
  then), and reports CONNECTED.
- 1100 "connectivity between IB and TWS lost": the socket is up but orders cannot reach IB, so
  the broker is DISCONNECTED (``submit`` raises ``BrokerError``; the loop keeps the order
  PENDING and settles it on reconnect).
- 1102 "restored, data maintained": CONNECTED again; nothing was lost.
- 1101 "restored, data lost": order and execution updates may have been lost, so the broker
  goes DISCONNECTED (if it was not already), resynchronises like after a reconnect, then
  reports CONNECTED.
Every return to CONNECTED follows a DISCONNECTED event, which is what makes the trading loop
reconcile (it does so on each DISCONNECTED -> CONNECTED).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from intraday_jules.adapters.ibkr import Backoff, IbkrClient, IbkrError
from intraday_jules.adapters.ibkr.connectivity import SOCKET_CLOSED
from intraday_jules.adapters.ibkr.execution.guard import AccountGuard, LiveTradingRefused, mask
from intraday_jules.adapters.ibkr.execution.orders import OrderIndex
from intraday_jules.adapters.ibkr.execution.requests import managed_accounts
from intraday_jules.broker.base import BrokerError, ConnectionChanged, ConnectionState
from intraday_jules.domain.clock import Clock

log = logging.getLogger(__name__)
RECONNECT, RESYNC = "reconnect", "resync"
UP, DOWN = ConnectionState.CONNECTED, ConnectionState.DISCONNECTED


class IbkrLink:
    """Connection state of one broker; ``synchronise`` rebuilds its order index (io held)."""

    def __init__(self, client: IbkrClient, guard: AccountGuard, index: OrderIndex, *,
                 synchronise: Callable[[], None], attach: Callable[[], None],
                 backoff: Backoff, clock: Clock) -> None:
        self.client, self.guard, self._index = client, guard, index
        self._synchronise, self._attach, self._backoff, self._clock = (
            synchronise, attach, backoff, clock)
        self.io = threading.RLock()  # one request at a time, from any thread
        self._lock = threading.Lock()
        self.state = DOWN
        self.account = ""
        self._attached = self._closing = False
        self._stop = threading.Event()
        self._jobs: queue.Queue[str | None] = queue.Queue()
        self._pending: set[str] = set()
        self._worker: threading.Thread | None = None
        client.connectivity.add_listener(self._on_connectivity)

    @property
    def endpoint(self) -> str:
        return self.client.config.endpoint

    def connect(self) -> ConnectionState:
        with self.io:
            if self.state is UP:
                return UP
            self._closing = False
            try:
                self._open()
            except LiveTradingRefused:
                self._closing = True  # no reconnect: a refused account stays refused
                self.client.disconnect()
                raise
            except (IbkrError, BrokerError) as exc:
                log.error("IBKR broker: cannot connect to %s: %s; retrying in the background",
                          self.endpoint, exc)
                self._request(RECONNECT)
                return self.state
            self._set(UP, f"connected to {self.endpoint}, account {mask(self.account)}")
        return UP

    def disconnect(self) -> None:
        self._closing = True
        with self.io:
            self.client.disconnect()
        self._set(DOWN, "disconnected by request")

    def close(self) -> None:
        self.disconnect()
        self._stop.set()
        self._jobs.put(None)
        if self._worker is not None:
            self._worker.join(10.0)

    @contextmanager
    def request(self, what: str) -> Iterator[None]:
        """Hold the connection for one request; BrokerError when it is not up."""
        self._require(what)
        with self.io:
            self._require(what)
            yield

    def _require(self, what: str) -> None:
        if self.state is not UP:
            raise BrokerError(f"IBKR broker is not connected to {self.endpoint}: cannot {what}")

    def _open(self) -> None:
        """Connect, check the account, hook events once, rebuild the index (io held)."""
        self.client.connect()
        ib = self.client.ib
        accounts = self.client.run(lambda: managed_accounts(ib), 10.0)
        self.account = self.guard.choose(accounts)
        self._index.account = self.account
        if not self._attached:
            self._attach()
            self._attached = True
        self._synchronise()

    def _set(self, state: ConnectionState, reason: str) -> None:
        with self._lock:
            if self.state is state:
                return
            self.state = state
            self._index.push(ConnectionChanged(state, self._clock(), reason))
        (log.info if state is UP else log.warning)("IBKR broker %s: %s", state, reason)

    # ---- IB's notices (event-loop thread: never blocks, never takes io) -------------------
    def _on_connectivity(self, code: int) -> None:
        if self._closing:
            return
        match code:
            case c if c == SOCKET_CLOSED:
                self._set(DOWN, "the socket to TWS/IB Gateway closed")
                self._request(RECONNECT)
            case 1100:
                self._set(DOWN, "TWS lost its connection to IB (1100); orders cannot reach IB")
            case 1101:
                self._request(RESYNC)
            case 1102:
                if self.client.is_connected:
                    self._set(UP, "connectivity to IB restored, data maintained (1102)")

    # ---- the worker: reconnects and resyncs, one at a time --------------------------------
    def _request(self, job: str) -> None:
        with self._lock:
            if job in self._pending:
                return
            self._pending.add(job)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, daemon=True,
                                                name=f"ibkr-broker-{self.client.config.client_id}")
                self._worker.start()
        self._jobs.put(job)

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._jobs.get()
            if job is None:
                return
            with self._lock:
                self._pending.discard(job)
            try:
                self._reconnect() if job == RECONNECT else self._resync()
            except Exception:  # the worker must survive anything, or nobody reconnects
                log.exception("IBKR broker: %s failed", job)

    def _reconnect(self) -> None:
        failures = 0
        while not self._stop.is_set() and not self._closing:
            with self.io:
                if self.state is UP and self.client.is_connected:
                    return
                try:
                    self._open()
                except LiveTradingRefused as exc:
                    self._closing = True
                    self.client.disconnect()
                    self._set(DOWN, f"refused after reconnecting: {exc}")
                    log.error("IBKR broker: %s", exc)
                    return
                except (IbkrError, BrokerError) as exc:
                    delay = self._backoff.delay(min(failures, self._backoff.attempts))
                    failures += 1
                    log.warning("IBKR broker: reconnect to %s failed (%s); next try in %.1f s",
                                self.endpoint, exc, delay)
                else:
                    self._set(UP, f"reconnected to {self.endpoint} (after {failures} failed "
                              "attempts); orders and executions resynchronised")
                    return
            self._stop.wait(delay)

    def _resync(self) -> None:
        with self.io:
            if not self.client.is_connected or self._closing:
                return  # a reconnect follows the closed socket
            self._set(DOWN, "IB connectivity restored with data lost (1101): resynchronising "
                      "orders and executions")
            try:
                self._synchronise()
            except (IbkrError, BrokerError) as exc:
                log.warning("IBKR broker: resync after 1101 failed (%s); reconnecting", exc)
                self._request(RECONNECT)
                return
            self._set(UP, "resynchronised after 1101 (data lost)")
