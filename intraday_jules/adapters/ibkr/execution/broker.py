"""``IbkrBroker``: the ``Broker`` protocol on Interactive Brokers (TWS / IB Gateway), ib_async.

Split as NautilusTrader splits adapters: ``requests`` mirrors the vendor (coroutines on the
``IbkrClient``'s private loop), ``parsing`` maps IB objects to ours, this class is the domain
client; ``orders`` holds what the broker knows of orders and its event queue, ``connection``
the connection (reconnects, 1100/1101/1102), ``guard`` the live guard.

Orders are DAY market orders for whole shares with ``orderRef`` = our client order id. Market,
not a marketable limit: the symbols are the most liquid US stocks, the risk engine sized the
order on the decision bar's close, and the env, the evaluation and the simulated broker all
model a market order filled at the next open plus slippage, so live fills stay comparable (the
session report shows each fill's distance from the modelled price). A client order id IB
already knows (open orders of every client, completed orders, executions; re-read at every
(re)connect) is answered ``OrderAccepted(duplicate=True)`` (or its first rejection) and nothing
is sent, so a restarted run never trades a decision twice. Each execution becomes one
``FillReport`` once its commission report arrived (exact decimals); rejections (201, or any
error before IB acknowledged) ``OrderRejected``; cancels (202 / Cancelled) ``OrderCancelled``.
Orders we did not send are reported like ours (a manual order's stand-in id is
``IB-PERM-<permId>``); the trading loop records them as unknown broker messages.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from ib_async import CommissionReport, Contract, Trade
from ib_async import Fill as IbFill

from intraday_jules.adapters.ibkr import Backoff, IbkrClient, IbkrConfig, IbkrError
from intraday_jules.adapters.ibkr.errors import IbkrRequestError
from intraday_jules.adapters.ibkr.execution.connection import IbkrLink
from intraday_jules.adapters.ibkr.execution.guard import AccountGuard
from intraday_jules.adapters.ibkr.execution.orders import OrderIndex
from intraday_jules.adapters.ibkr.execution.parsing import (
    fills_of,
    market_order,
    open_orders_of,
    positions_of,
)
from intraday_jules.adapters.ibkr.execution.requests import (
    all_open_orders,
    cancel_order,
    executions,
    place_order,
    positions,
    snapshot,
)
from intraday_jules.broker.base import (
    BrokerError,
    BrokerEvent,
    CancelRejected,
    CancelResult,
    ConnectionState,
    OpenOrder,
    OrderRejected,
    SubmitResult,
)
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.domain.orders import Fill, Order, OrderStatus

log = logging.getLogger(__name__)
T = TypeVar("T")


def build_ibkr_broker(config: IbkrConfig, *, account: str | None, live: bool,
                      **options: Any) -> IbkrBroker:
    """The broker a deployment trades through (``BrokerResource`` builds it): ``config`` is
    the gateway with the broker's own client id (``IbkrConfig.for_role(base,
    ClientRole.BROKER)``); ``live`` is the deployment being "live", the explicit opt-in; paper
    otherwise (a live port is then refused). ``account`` is the ``ib_account`` secret's value,
    passed in so that this adapter reads neither settings nor secrets."""
    return IbkrBroker(config, account=account, allow_live=live,
                      deployment="live" if live else "paper", **options)


class IbkrBroker:
    """Orders, fills and positions at Interactive Brokers; paper unless explicitly live.

    config: the gateway (``IbkrConfig``: host, port 7497 paper by default, client id). The
        client id must differ from the market-data connection's (``IbkrConfig.for_role`` with
        ``ClientRole.BROKER``); ``readonly`` is turned off, ``config.account`` is only read
        as the expected account when ``account`` is not given.
    account: the account id the login must manage (the ``ib_account`` secret); required for
        live trading; for paper, optional (the login's only account is used).
    allow_live: the explicit opt-in for live trading (see ``guard``).
    deployment: the settings' deployment; "live" means live trading.
    symbols: contracts qualified at connect, so the first order pays no lookup.
    clock: the time stamped on answers and events (fills carry IB's execution time).
    ack_timeout_s: how long submit/cancel wait for IB's acknowledgement or confirmation.
    commission_wait_s: how long reading executions waits for missing commission reports.
    reconnect: backoff between reconnect attempts (default ``config.reconnect_backoff``).
    client: an ``IbkrClient`` to use instead of making one (not read-only, so never the
        market-data one; closed only if the broker made it).
    """

    name = "ibkr"

    def __init__(self, config: IbkrConfig | None = None, *, account: str | None = None,
                 allow_live: bool = False, deployment: str = "paper",
                 symbols: Sequence[str] = (), clock: Clock = system_clock,
                 ack_timeout_s: float = 5.0, commission_wait_s: float = 2.0,
                 reconnect: Backoff | None = None, client: IbkrClient | None = None) -> None:
        base = config or IbkrConfig()
        expected = account if account is not None else base.account
        self.guard = AccountGuard(expected or None, allow_live, deployment, base.port)
        self.guard.check_config()  # refuses live without opt-in before any connection
        self.config = replace(base, readonly=False, account=None)
        self._owns_client = client is None
        self._client = client or IbkrClient(self.config)
        self._clock, self._symbols = clock, tuple(symbols)
        self._ack_s, self._commission_s = ack_timeout_s, commission_wait_s
        self._index = OrderIndex(clock)
        self._link = IbkrLink(self._client, self.guard, self._index,
                              synchronise=self._synchronise, attach=self._attach,
                              backoff=reconnect or self.config.reconnect_backoff, clock=clock)
        self.orders_sent = 0
        self.resubmissions = 0

    def __repr__(self) -> str:
        return f"IbkrBroker({self.config!r}, {self.guard!r}, state={self._link.state})"

    @property
    def account(self) -> str:
        """The account the broker trades (known once connected)."""
        return self._link.account

    # ---- connection -----------------------------------------------------------------------
    def connect(self) -> ConnectionState:
        """Connect, check the account (``LiveTradingRefused``), learn IB's orders; if the
        gateway cannot be reached, DISCONNECTED (a worker keeps reconnecting)."""
        state = self._link.connect()
        for symbol in self._symbols if state is ConnectionState.CONNECTED else ():
            try:
                with self._link.request(f"qualify {symbol}"):
                    self._client.qualify_stock(symbol)
            except (IbkrError, BrokerError) as exc:
                log.warning("IBKR broker: contract %s not qualified at connect: %s", symbol, exc)
        return state

    def disconnect(self) -> None:
        self._link.disconnect()

    def close(self) -> None:
        """Disconnect, stop reconnecting, stop the client's loop thread (if ours)."""
        self._link.close()
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> IbkrBroker:
        self.connect()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def connection_state(self) -> ConnectionState:
        return self._link.state

    # ---- orders ---------------------------------------------------------------------------
    def submit(self, order: Order) -> SubmitResult:
        """Place ``order`` once (DAY market, orderRef = its id); a known id sends nothing."""
        cid = order.client_order_id
        with self._link.request(f"submit {cid}"):
            if self._index.get(cid) is not None:
                self.resubmissions += 1
                log.warning("order %s is already known to IB: not sent again", cid)
                return self._index.duplicate(cid, self._clock())
            try:
                contract = self._client.qualify_stock(order.symbol)
            except IbkrRequestError as exc:
                return OrderRejected(cid, self._clock(), str(exc), exc.code)
            except IbkrError as exc:
                raise BrokerError(f"IBKR broker: submit {cid}: {exc}") from None
            return self._place(order, contract)

    def _place(self, order: Order, contract: Contract) -> SubmitResult:
        cid, ib = order.client_order_id, self._client.ib
        ib_order = market_order(order, self._link.account)
        self._index.begin(cid)
        try:
            trade = self._call(lambda: place_order(ib, contract, ib_order, self._ack_s),
                               f"placeOrder {cid}", self._ack_s)
        except BrokerError:
            self._index.abandon(cid)  # whether IB got it is learnt on reconnect
            raise
        self.orders_sent += 1
        return self._index.acknowledge(order, trade, self._clock())

    def cancel(self, client_order_id: str) -> CancelResult:
        with self._link.request(f"cancel {client_order_id}"):
            record, now = self._index.get(client_order_id), self._clock()
            if record is None:
                return CancelRejected(client_order_id, now, "unknown order")
            if record.status.is_terminal:
                return CancelRejected(client_order_id, now, f"order is {record.status}")
            ib = self._client.ib
            self._index.begin(client_order_id)
            try:
                trade = self._call(lambda: cancel_order(ib, client_order_id, self._ack_s),
                                   f"cancelOrder {client_order_id}", self._ack_s)
            except BrokerError:
                self._index.abandon(client_order_id)
                raise
            return self._index.cancelled(client_order_id, trade, self._clock(), self._ack_s)

    # ---- what reconciliation reads --------------------------------------------------------
    def positions(self) -> dict[str, int]:
        """Shares per stock in the traded account (reqPositions), flat ones omitted."""
        with self._link.request("read positions"):
            ib = self._client.ib
            return positions_of(self._call(lambda: positions(ib), "reqPositions"),
                                self.account)

    def open_orders(self) -> list[OpenOrder]:
        """Working orders of every client in the account (reqAllOpenOrders)."""
        with self._link.request("read open orders"):
            ib = self._client.ib
            return open_orders_of(self._call(lambda: all_open_orders(ib), "reqAllOpenOrders"),
                                  self.account)

    def fills_since(self, since: datetime) -> list[Fill]:
        """Executions at or after ``since`` (reqExecutions) with their commissions, oldest
        first; one whose commission report has not arrived is left for a later call."""
        with self._link.request("read executions"):
            ib = self._client.ib
            fills = self._call(lambda: executions(ib, self._commission_s), "reqExecutions")
        return fills_of(fills, self.account, since)

    def order_state(self, client_order_id: str) -> OrderStatus | None:
        """From open + completed orders and executions (matched by orderRef), as last synced
        at connect and kept current by IB's order statuses since."""
        with self._link.request(f"read the state of {client_order_id}"):
            return self._index.state(client_order_id)

    def poll_events(self) -> list[BrokerEvent]:
        return self._index.drain()

    # ---- internals ------------------------------------------------------------------------
    def _call(self, make: Callable[[], Awaitable[T]], what: str, extra_s: float = 0.0) -> T:
        try:
            return self._client.call(make, what, extra_s)
        except IbkrError as exc:
            raise BrokerError(f"IBKR broker: {exc}") from None

    def _synchronise(self) -> None:
        """Rebuild the order index from IB (the link holds the connection)."""
        ib = self._client.ib
        snap = self._call(lambda: snapshot(ib, self._commission_s),
                          "order snapshot (all open orders, completed orders, executions)")
        self._index.refresh(snap.open_trades, snap.completed, snap.fills)

    def _attach(self) -> None:
        ib = self._client.ib

        async def attach() -> None:
            ib.orderStatusEvent += self._on_status
            ib.commissionReportEvent += self._on_commission

        self._client.run(attach, 10.0)

    def _on_status(self, trade: Trade) -> None:
        try:
            self._index.on_status(trade)
        except Exception:  # never break ib_async's reader
            log.exception("IBKR broker: status of order %s not understood", trade.order.orderRef)

    def _on_commission(self, trade: Trade, fill: IbFill, report: CommissionReport) -> None:
        try:
            self._index.on_execution(fill)
        except Exception:  # never break ib_async's reader
            log.exception("IBKR broker: execution %s not understood", fill.execution.execId)
