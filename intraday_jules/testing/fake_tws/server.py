"""The fake TWS gateway: an asyncio TCP server speaking the TWS API to real clients.

``FakeTws`` owns the state (replay bars, live feed, order book, fault script, request log);
one ``ClientSession`` per TCP connection does the handshake and routes each message to a
handler in ``account`` or ``market``. Everything runs on one event loop; tests that drive a
synchronous client use ``FakeTwsThread`` (``thread.py``) to run it on a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.testing.fake_tws import account, incoming, market
from intraday_jules.testing.fake_tws.faults import ConnectivityLoss, FaultScript
from intraday_jules.testing.fake_tws.incoming import MESSAGE_NAMES, HistoricalRequest
from intraday_jules.testing.fake_tws.live import LiveFeed
from intraday_jules.testing.fake_tws.orders import OrderBook
from intraday_jules.testing.fake_tws.outgoing import Fields, error
from intraday_jules.testing.fake_tws.referee import violation
from intraday_jules.testing.fake_tws.replay import ReplayBars
from intraday_jules.testing.fake_tws.wire import (
    API_SIGN,
    SERVER_VERSION,
    SUPPORTED_SERVER_VERSIONS,
    ProtocolError,
    connection_time,
    decode_payload,
    encode,
    negotiate,
    parse_version_range,
    read_frame,
)

logger = logging.getLogger(__name__)
Handler = Callable[["FakeTws", "ClientSession", list[str]], None]
CONNECTIVITY_TEXT = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
}
DEFAULT_ACCOUNT_VALUES = {"NetLiquidation": "100000.00", "TotalCashValue": "100000.00",
                          "GrossPositionValue": "0.00"}

HANDLERS: dict[int, Handler] = {
    incoming.START_API: account.start_api,
    incoming.REQ_CURRENT_TIME: account.current_time,
    incoming.REQ_MANAGED_ACCTS: account.managed_accounts,
    incoming.REQ_IDS: account.req_ids,
    incoming.REQ_POSITIONS: account.positions,
    incoming.REQ_ACCOUNT_SUMMARY: account.account_summary,
    incoming.REQ_ACCT_DATA: account.account_updates,
    incoming.REQ_ACCOUNT_UPDATES_MULTI: account.account_updates_multi,
    incoming.REQ_OPEN_ORDERS: account.open_orders,
    incoming.REQ_ALL_OPEN_ORDERS: account.open_orders,
    incoming.REQ_COMPLETED_ORDERS: account.completed_orders,
    incoming.REQ_EXECUTIONS: account.executions,
    incoming.PLACE_ORDER: account.place_order,
    incoming.CANCEL_ORDER: account.cancel_order,
    incoming.REQ_GLOBAL_CANCEL: account.global_cancel,
    incoming.REQ_CONTRACT_DATA: market.contract_details,
    incoming.REQ_HISTORICAL_DATA: market.historical,
    incoming.CANCEL_HISTORICAL_DATA: market.cancel_historical,
    incoming.REQ_REAL_TIME_BARS: market.real_time_bars,
    incoming.CANCEL_REAL_TIME_BARS: market.cancel_real_time_bars,
}
for _quiet in (incoming.REQ_AUTO_OPEN_ORDERS, incoming.REQ_MARKET_DATA_TYPE,
               incoming.CANCEL_POSITIONS, incoming.CANCEL_ACCOUNT_SUMMARY,
               incoming.CANCEL_ACCOUNT_UPDATES_MULTI):
    HANDLERS[_quiet] = account.ignore


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """One message a client sent after the handshake, with the gateway-clock time."""

    received_at: datetime
    session_id: int
    client_id: int
    name: str
    fields: tuple[str, ...]


class ClientSession:
    """One client connection: handshake, then read frames and dispatch them."""

    def __init__(self, gw: FakeTws, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 session_id: int) -> None:
        self.gw, self.reader, self.writer, self.session_id = gw, reader, writer, session_id
        self.client_id = -1
        self.server_version = gw.server_version
        self.closed = False

    async def run(self) -> None:
        try:
            await self._handshake()
            while not self.closed:
                fields = decode_payload(await read_frame(self.reader))
                if fields:
                    self.gw.dispatch(self, fields)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        except ProtocolError as exc:
            logger.warning("fake TWS: closing session %s: %s", self.session_id, exc)
        finally:
            self.gw.session_closed(self)
            self.close()

    async def _handshake(self) -> None:
        if await self.reader.readexactly(len(API_SIGN)) != API_SIGN:
            raise ProtocolError("the client did not open with 'API\\0'")
        low, high = parse_version_range(await read_frame(self.reader))
        self.server_version = negotiate(low, high, self.gw.server_version)
        self.writer.write(encode([self.server_version, connection_time(self.gw.clock())]))

    def send(self, fields: Fields) -> None:
        if not self.closed:
            self.writer.write(encode(fields))

    def close(self) -> None:
        """Orderly close (what TWS does after error 326)."""
        if not self.closed:
            self.closed = True
            with contextlib.suppress(RuntimeError):
                self.writer.close()

    def abort(self) -> None:
        """Drop the socket at once, as a crashing gateway or a network cut would."""
        self.closed = True
        with contextlib.suppress(RuntimeError):
            self.writer.transport.abort()
        self.reader.feed_eof()  # end our own read loop too


class FakeTws:
    """A TWS/IB Gateway stand-in on 127.0.0.1 for the real ``ib_async`` client.

    replay: the bars to serve (a ReplayBars, a bars frame, or a CSV path).
    port: 0 picks a free ephemeral port (read ``port`` after ``start``).
    server_version: 178 (what ib_async 2.1.0 gets from any current TWS) or 173.
    clock: the gateway's clock for request timestamps and pacing checks (UTC datetimes).
    live_time: the initial 'now' of the live feed (default: end of the replay data).
    enforce_pacing: answer requests that break IB's pacing rules with error 162.
    """

    def __init__(self, replay: ReplayBars | pd.DataFrame | str | Path, *,
                 host: str = "127.0.0.1", port: int = 0, accounts: tuple[str, ...] = ("DU1234567",),
                 server_version: int = SERVER_VERSION, clock: Clock | None = None,
                 live_time: datetime | None = None, enforce_pacing: bool = False) -> None:
        if server_version not in SUPPORTED_SERVER_VERSIONS:
            raise ValueError(f"server_version {server_version} is not one of "
                             f"{SUPPORTED_SERVER_VERSIONS}")
        self.replay = replay if isinstance(replay, ReplayBars) else (
            ReplayBars(replay) if isinstance(replay, pd.DataFrame) else ReplayBars.from_csv(replay))
        self.host, self._requested_port = host, port
        self.accounts, self.server_version = accounts, server_version
        self.clock = clock or system_clock
        self.enforce_pacing = enforce_pacing
        self.faults = FaultScript()
        self.live = LiveFeed(self.replay, live_time or self.replay.last_end())
        self.orders = OrderBook(server_version, self._market_price, self.clock)
        self.account_values = dict(DEFAULT_ACCOUNT_VALUES)
        self.next_order_id = 1
        self._sessions: dict[int, ClientSession] = {}
        self._ids = itertools.count(1)
        self._log_lock = threading.Lock()
        self._messages: list[RecordedMessage] = []
        self._historical: list[HistoricalRequest] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._held_requests: list[Callable[[], None]] = []

    async def start(self) -> int:
        """Listen; returns the bound port."""
        self._server = await asyncio.start_server(self._accept, self.host, self._requested_port)
        return self.port

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake gateway is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening and drop every client."""
        if self._server is not None:
            self._server.close()
            self.drop_connections()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=2.0)
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = ClientSession(self, reader, writer, next(self._ids))
        self._sessions[session.session_id] = session
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run()
        finally:
            if task is not None:
                self._tasks.discard(task)

    def dispatch(self, session: ClientSession, fields: list[str]) -> None:
        msg_id = int(fields[0]) if fields[0].isdigit() else -1
        name = MESSAGE_NAMES.get(msg_id, f"message {fields[0]}")
        with self._log_lock:
            self._messages.append(RecordedMessage(self.clock(), session.session_id,
                                                  session.client_id, name, tuple(fields)))
        handler = HANDLERS.get(msg_id)
        if handler is None:
            session.send(error(-1, 321, f"Error validating request: {name} is not supported "
                                        "by the fake gateway"))
            return
        handler(self, session, fields)

    def record_historical(self, request: HistoricalRequest) -> str | None:
        """Log a historical request; returns the pacing rule it breaks when enforcing."""
        with self._log_lock:
            earlier = list(self._historical)
            self._historical.append(request)
        return violation(earlier, request) if self.enforce_pacing else None

    def session_closed(self, session: ClientSession) -> None:
        self._sessions.pop(session.session_id, None)
        self.live.drop_session(session.session_id)

    def client_id_connected(self, client_id: int) -> bool:
        return any(s.client_id == client_id and not s.closed for s in self._sessions.values())

    # --- what tests do to the gateway (call on its loop; FakeTwsThread marshals) ---

    @property
    def messages(self) -> list[RecordedMessage]:
        with self._log_lock:
            return list(self._messages)

    @property
    def historical_requests(self) -> list[HistoricalRequest]:
        with self._log_lock:
            return list(self._historical)

    def advance_live(self, to: datetime) -> int:
        """Move live time to ``to`` and stream the 5-second updates in between."""
        return self.live.advance(to)

    def send_connectivity(self, code: int) -> None:
        """Broadcast 1100 (lost), 1101 (restored, data lost) or 1102 (restored, kept)."""
        if code not in CONNECTIVITY_TEXT:
            raise ValueError(f"connectivity code must be 1100, 1101 or 1102, got {code}")
        for session in list(self._sessions.values()):
            session.send(error(-1, code, CONNECTIVITY_TEXT[code]))
        if code == 1100:
            self.live.lose_connectivity()
        else:
            self.live.restore(data_lost=code == 1101)
            held, self._held_requests = self._held_requests, []
            if code == 1102:
                for answer in held:
                    answer()

    def hold(self, answer: Callable[[], None]) -> None:
        """Keep an answer until connectivity returns: sent on 1102, dropped on 1101."""
        self._held_requests = [*self._held_requests, answer]

    def begin_outage(self, loss: ConnectivityLoss, held: Callable[[], None]) -> None:
        """1100 now, hold ``held`` (an answer), and schedule the scripted restore."""
        self.hold(held)
        if self.live.connected_to_ib:
            self.send_connectivity(1100)
        if loss.restore_after_s is not None:
            asyncio.get_running_loop().call_later(loss.restore_after_s, self.send_connectivity,
                                                  loss.restore_code)

    def drop_connections(self) -> None:
        """Cut every client socket (the gateway stays up and accepts reconnects)."""
        for session in list(self._sessions.values()):
            session.abort()

    def fill_order(self, order_id: int, quantity: float, price: float | None = None) -> None:
        self.orders.fill(order_id, quantity, price)

    def _market_price(self, symbol: str) -> float | None:
        return self.replay.last_close(symbol, self.live.now)
