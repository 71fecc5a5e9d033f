"""What ``IbkrBroker`` knows of orders and executions, and the queue of events it reports.

Thread model: ib_async calls ``on_status`` / ``on_execution`` on the client's event-loop
thread; the trading thread submits, cancels, refreshes and drains. One lock guards it all;
nothing here does I/O, so the lock is never held while waiting for IB.

Orders are keyed by our client order id (IB's ``orderRef``). The index is rebuilt from IB
after every (re)connect (``refresh``: open orders of all clients, completed orders,
executions), so a new broker instance knows what an earlier one sent, and a reconnected one
learns what happened while it was away; after that, live order statuses and fills keep it
current. Each execution is reported once per broker instance, and only with its commission;
each cancellation or rejection once (as the answer to ``submit``/``cancel`` or as an event,
never both: an order ``in flight`` is answered synchronously and its status events wait).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ib_async import Fill as IbFill
from ib_async import Trade

from intraday_jules.adapters.ibkr.execution.parsing import (
    NOT_ACKNOWLEDGED,
    REJECTED_CODE,
    client_order_id_of,
    commission_known,
    ending_error,
    fill_of,
    side_of_action,
    status_of,
    was_acknowledged,
)
from intraday_jules.broker.base import (
    BrokerEvent,
    CancelRejected,
    CancelResult,
    FillReport,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    SubmitResult,
)
from intraday_jules.domain.clock import Clock
from intraday_jules.domain.orders import Order, OrderStatus, Side

log = logging.getLogger(__name__)


@dataclass(slots=True)
class OrderRecord:
    """One order as the broker sees it (``quantity`` None: known from executions only)."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: int | None
    status: OrderStatus
    filled: int = 0
    broker_order_id: str = ""
    reason: str = ""
    code: int | None = None
    final_reported: bool = False


class OrderIndex:
    """Orders by client order id, executions seen, and the broker's event queue."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, OrderRecord] = {}
        self._seen: set[str] = set()
        self._in_flight: set[str] = set()
        self._events: deque[BrokerEvent] = deque()
        self.account = ""
        self.armed = False  # report live events (off until the first refresh is done)

    # ---- the event queue ------------------------------------------------------------------
    def push(self, event: BrokerEvent) -> None:
        with self._lock:
            self._events.append(event)

    def drain(self) -> list[BrokerEvent]:
        with self._lock:
            events = list(self._events)
            self._events.clear()
        return events

    # ---- reads ----------------------------------------------------------------------------
    def get(self, client_order_id: str) -> OrderRecord | None:
        with self._lock:
            return self._records.get(client_order_id)

    def state(self, client_order_id: str) -> OrderStatus | None:
        record = self.get(client_order_id)
        return None if record is None else record.status

    # ---- what ib_async reports (event-loop thread) ----------------------------------------
    def on_status(self, trade: Trade) -> None:
        if not self._ours(trade.order.account):
            return
        cid = client_order_id_of(trade.order.orderRef, trade.order.permId)
        with self._lock:
            if cid in self._in_flight:
                return  # submit/cancel answers it
            self._final_event(self._upsert(trade), announce=self.armed)

    def on_execution(self, fill: IbFill) -> None:
        with self._lock:
            self._execution(fill, announce=self.armed)

    # ---- after every (re)connect (trading or worker thread) -------------------------------
    def refresh(self, open_trades: Iterable[Trade], completed: Iterable[Trade],
                fills: Iterable[IbFill]) -> None:
        """Merge a full snapshot; report what changed while away (once armed)."""
        with self._lock:
            announce = self.armed
            live = {self._upsert(t).client_order_id for t in open_trades
                    if self._ours(t.order.account)}
            done = {self._upsert(t).client_order_id for t in completed
                    if self._ours(t.order.account) and client_order_id_of(
                        t.order.orderRef, t.order.permId) not in live}
            executed: dict[str, int] = {}
            for fill in fills:
                cid = self._execution(fill, announce=announce)
                if cid is not None:
                    executed[cid] = executed.get(cid, 0) + int(fill.execution.shares)
            for record in self._records.values():
                cid = record.client_order_id
                if cid not in live | done and not record.status.is_terminal:
                    _vanished(record, executed.get(cid, 0))
                self._final_event(record, announce=announce)
            self.armed = True

    # ---- synchronous answers (trading thread) ---------------------------------------------
    def begin(self, client_order_id: str) -> None:
        with self._lock:
            self._in_flight.add(client_order_id)

    def abandon(self, client_order_id: str) -> None:
        """The request failed: whether IB got it is learnt at the next refresh."""
        with self._lock:
            self._in_flight.discard(client_order_id)

    def duplicate(self, client_order_id: str, now: datetime) -> SubmitResult:
        record = self.get(client_order_id)
        assert record is not None
        if record.status is OrderStatus.REJECTED:
            return OrderRejected(client_order_id, now, record.reason or "rejected earlier",
                                 record.code)
        return OrderAccepted(client_order_id, now, record.broker_order_id, duplicate=True)

    def acknowledge(self, order: Order, trade: Trade, now: datetime) -> SubmitResult:
        cid = order.client_order_id
        with self._lock:
            self._in_flight.discard(cid)
            record = self._upsert(trade)
            if trade.orderStatus.status in NOT_ACKNOWLEDGED:
                log.warning("order %s: IB has not acknowledged it yet; taken as accepted "
                            "(a rejection would follow as an event)", cid)
            if record.status is OrderStatus.REJECTED or (
                    record.status is OrderStatus.CANCELLED and not was_acknowledged(trade)):
                record.status, record.final_reported = OrderStatus.REJECTED, True
                return OrderRejected(cid, now, record.reason or "rejected", record.code)
            self._final_event(record, announce=True)
            return OrderAccepted(cid, now, record.broker_order_id)

    def cancelled(self, client_order_id: str, trade: Trade | None, now: datetime,
                  wait_s: float) -> CancelResult:
        with self._lock:
            self._in_flight.discard(client_order_id)
            if trade is None:
                return CancelRejected(client_order_id, now, "the order is not open at IB")
            record = self._upsert(trade)
            if record.status is OrderStatus.CANCELLED:
                record.final_reported = True
                return OrderCancelled(client_order_id, now, "cancelled by request")
            if record.status.is_terminal:
                self._final_event(record, announce=True)
                return CancelRejected(client_order_id, now, f"order is {record.status}")
            return CancelRejected(client_order_id, now, f"IB did not confirm the cancel within "
                                  f"{wait_s:g} s; an OrderCancelled event follows if it does")

    # ---- internals (lock held) ------------------------------------------------------------
    def _ours(self, account: str) -> bool:
        return not account or not self.account or account == self.account

    def _upsert(self, trade: Trade) -> OrderRecord:
        order, status = trade.order, trade.orderStatus
        cid = client_order_id_of(order.orderRef, order.permId)
        filled = int(status.filled)
        error = ending_error(trade)
        record = self._records.get(cid)
        try:
            ours = status_of(status.status, filled, error is not None and
                             error[0] == REJECTED_CODE)
        except ValueError as exc:  # a status IB added later: keep what we knew
            log.error("order %s: %s", cid, exc)
            ours = record.status if record is not None else OrderStatus.SUBMITTED
        if record is None or record.quantity is None:  # new, or known from executions only
            record = OrderRecord(cid, trade.contract.symbol, side_of_action(order.action),
                                 int(order.totalQuantity) or None, ours,
                                 record.filled if record is not None else 0)
            self._records[cid] = record
        if not record.status.is_terminal:
            record.status = ours
        record.filled = max(record.filled, filled)
        record.broker_order_id = str(order.permId or order.orderId or record.broker_order_id)
        if error is not None and ours.is_terminal:
            record.code, record.reason = error
        return record

    def _execution(self, fill: IbFill, *, announce: bool) -> str | None:
        """Record one execution; queue its FillReport when new, announced and complete."""
        execution = fill.execution
        if not self._ours(execution.acctNumber) or fill.contract.secType not in ("STK", ""):
            return None
        cid = client_order_id_of(execution.orderRef, execution.permId)
        if cid not in self._records and cid not in self._in_flight:
            side = Side.BUY if execution.side == "BOT" else Side.SELL
            self._records[cid] = OrderRecord(cid, fill.contract.symbol, side, None,
                                             OrderStatus.FILLED, final_reported=True)
        if execution.execId in self._seen or not commission_known(fill):
            return cid
        self._seen.add(execution.execId)
        if announce:
            try:
                self._events.append(FillReport(fill_of(fill)))
            except ValueError as exc:
                log.error("IB execution %s (order %s) cannot be booked: %s", execution.execId,
                          cid, exc)
        return cid

    def _final_event(self, record: OrderRecord, *, announce: bool) -> None:
        """Queue the cancellation/rejection of an order once (FILLED is told by its fills)."""
        if record.final_reported or record.status not in (OrderStatus.CANCELLED,
                                                          OrderStatus.REJECTED):
            return
        record.final_reported = True
        if not announce:
            return
        now = self._clock()
        if record.status is OrderStatus.REJECTED:
            self._events.append(OrderRejected(record.client_order_id, now,
                                              record.reason or "rejected by IB", record.code))
        else:
            reason = record.reason or "cancelled by IB"
            self._events.append(OrderCancelled(record.client_order_id, now, reason))


def _vanished(record: OrderRecord, executed: int) -> None:
    """A working order IB no longer lists as open: it ended while we were not looking."""
    record.filled = max(record.filled, executed)
    if record.quantity is not None and record.filled >= record.quantity:
        record.status = OrderStatus.FILLED
        return
    record.status = OrderStatus.CANCELLED
    record.reason = "no longer open at IB after reconnecting (not among completed orders)"
