"""SimulatedBroker: fills exactly as the backtest does, and remembers what it did across crashes.

Fills come from ``intraday_jules.env.execution_model``, the same model the training env and the
evaluation use: an order decided on bar t (``order.ts``) fills, whole, at the open of the
symbol's next bar plus slippage, with the same IBKR-like commission. So a simulated session and
a backtest of the same decisions trade at the same prices (tests pin this). Fill prices are
quantised to 8 decimals, the ledger's exact scale (a no-op for cent-priced bars).

State lives in a ``Journal`` (optional): with one, a restarted process constructs a broker that
still has the orders, fills and positions the killed one had, as a real broker would. Without
one the broker lives in memory (single-process tests, benchmarks).

``submit`` is idempotent on ``client_order_id``: a known id is answered ``OrderAccepted(
duplicate=True)`` (or its original rejection) and nothing is traded again; such re-submissions
are counted (``resubmissions``, also journaled) so tests can prove a restart sent none.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Literal

from intraday_jules.broker.base import (
    BrokerError,
    BrokerEvent,
    CancelRejected,
    CancelResult,
    ConnectionChanged,
    ConnectionState,
    FillReport,
    OpenOrder,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    SubmitResult,
)
from intraday_jules.broker.journal import (
    Journal,
    Record,
    fill_from_record,
    fill_record,
    order_from_record,
    order_record,
)
from intraday_jules.domain.bars import Bar
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.domain.orders import Fill, Order, OrderStatus
from intraday_jules.env.execution_model import ExecutionModel

PRICE_QUANTUM = Decimal("0.00000001")
Status = Literal["OPEN", "FILLED", "CANCELLED", "REJECTED"]
RejectRule = Callable[[Order], str | None]


@dataclass(slots=True)
class _Working:
    order: Order
    status: Status = "OPEN"
    filled: int = 0
    reason: str = ""


class SimulatedBroker:
    """A broker that fills from bars with the shared execution model.

    execution_model: prices and costs (default: the env's default model).
    journal: path of the durable journal; None keeps everything in memory.
    positions: starting positions, used only when the journal is new (a broker account that
        already holds shares: lets tests provoke a reconciliation mismatch).
    reject: optional rule naming a reason to refuse an order (fault injection, e.g. IB 201).
    clock: time stamped on acknowledgements and cancels (fills carry their bar's time).
    """

    name = "simulated"

    def __init__(self, execution_model: ExecutionModel | None = None, *,
                 journal: str | Path | None = None, positions: Mapping[str, int] | None = None,
                 reject: RejectRule | None = None,
                 clock: Clock = system_clock) -> None:
        self.model = execution_model or ExecutionModel()
        self._journal = Journal(journal) if journal is not None else None
        self._reject = reject
        self._clock = clock
        self._orders: dict[str, _Working] = {}
        self._fills: list[Fill] = []
        self._positions: dict[str, int] = {}
        self._events: deque[BrokerEvent] = deque()
        self._state = ConnectionState.DISCONNECTED
        self.resubmissions = 0
        self._restore(dict(positions or {}))

    def __repr__(self) -> str:
        return f"SimulatedBroker(journal={self._journal!r}, orders={len(self._orders)})"

    # ---- durable state ------------------------------------------------------------------
    def _restore(self, positions: dict[str, int]) -> None:
        records = list(self._journal.records()) if self._journal else []
        if not records and positions:
            self._write({"type": "positions", "positions": positions})
            records = [{"type": "positions", "positions": positions}]
        for record in records:
            self._replay(record)

    def _replay(self, record: Record) -> None:
        kind = record["type"]
        if kind == "positions":
            for symbol, quantity in record["positions"].items():
                self._positions[symbol] = self._positions.get(symbol, 0) + int(quantity)
        elif kind == "order":
            order = order_from_record(record)
            self._orders[order.client_order_id] = _Working(order)
        elif kind == "fill":
            self._book_fill(fill_from_record(record))
        elif kind in ("cancel", "reject"):
            working = self._orders[record["client_order_id"]]
            working.status = "CANCELLED" if kind == "cancel" else "REJECTED"
            working.reason = record["reason"]
        elif kind == "resubmit":
            self.resubmissions += 1

    def _write(self, record: Record) -> None:
        if self._journal is not None:
            self._journal.append(record)

    def sync(self) -> None:
        """Get every journal line written so far onto the disk (``JournaledBroker``)."""
        if self._journal is not None:
            self._journal.sync()

    def _book_fill(self, fill: Fill) -> None:
        working = self._orders[fill.client_order_id]
        working.filled += fill.quantity
        if working.filled >= working.order.quantity:
            working.status = "FILLED"
        self._fills.append(fill)
        self._positions[fill.symbol] = self._positions.get(fill.symbol, 0) + fill.signed_quantity

    # ---- connection ---------------------------------------------------------------------
    def connect(self) -> ConnectionState:
        if self._state is ConnectionState.DISCONNECTED:
            self._state = ConnectionState.CONNECTED
            self._events.append(ConnectionChanged(self._state, self._clock(), "connected"))
        return self._state

    def disconnect(self) -> None:
        if self._state is ConnectionState.CONNECTED:
            self._state = ConnectionState.DISCONNECTED
            self._events.append(ConnectionChanged(self._state, self._clock(), "disconnected"))

    def connection_state(self) -> ConnectionState:
        return self._state

    def _require_connection(self, what: str) -> None:
        if self._state is not ConnectionState.CONNECTED:
            raise BrokerError(f"simulated broker is not connected: cannot {what}")

    # ---- orders -------------------------------------------------------------------------
    def submit(self, order: Order) -> SubmitResult:
        """Accept ``order`` (or refuse it by the reject rule); a known id trades nothing."""
        self._require_connection(f"submit {order.client_order_id}")
        now = self._clock()
        known = self._orders.get(order.client_order_id)
        if known is not None:
            self.resubmissions += 1
            self._write({"type": "resubmit", "client_order_id": order.client_order_id})
            if known.status == "REJECTED":
                return OrderRejected(order.client_order_id, now, known.reason)
            return OrderAccepted(order.client_order_id, now, f"SIM-{order.client_order_id}",
                                 duplicate=True)
        self._write(order_record(order))
        self._orders[order.client_order_id] = _Working(order)
        reason = self._reject(order) if self._reject is not None else None
        if reason:
            self._write({"type": "reject", "client_order_id": order.client_order_id,
                         "reason": reason})
            self._orders[order.client_order_id].status = "REJECTED"
            self._orders[order.client_order_id].reason = reason
            return OrderRejected(order.client_order_id, now, reason, 201)
        return OrderAccepted(order.client_order_id, now, f"SIM-{order.client_order_id}")

    def cancel(self, client_order_id: str) -> CancelResult:
        self._require_connection(f"cancel {client_order_id}")
        now = self._clock()
        working = self._orders.get(client_order_id)
        if working is None:
            return CancelRejected(client_order_id, now, "unknown order")
        if working.status != "OPEN":
            return CancelRejected(client_order_id, now, f"order is {working.status}")
        working.status, working.reason = "CANCELLED", "cancelled by request"
        self._write({"type": "cancel", "client_order_id": client_order_id,
                     "reason": working.reason})
        return OrderCancelled(client_order_id, now, working.reason)

    # ---- the market ---------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        """Fill every open order of ``bar.symbol`` decided before ``bar`` at ``bar.open``."""
        for working in list(self._orders.values()):
            order = working.order
            if working.status != "OPEN" or order.symbol != bar.symbol or order.ts >= bar.ts:
                continue
            fill = self._price(working, bar)
            self._write(fill_record(fill))
            self._book_fill(fill)
            self._events.append(FillReport(fill))

    def _price(self, working: _Working, bar: Bar) -> Fill:
        order = working.order
        quantity = order.quantity - working.filled
        quote = self.model.fill(order.side, quantity, Decimal(repr(bar.open)))
        price = quote.price.quantize(PRICE_QUANTUM, ROUND_HALF_EVEN)
        count = sum(1 for f in self._fills if f.client_order_id == order.client_order_id)
        exec_id = f"SIM-{order.client_order_id}-{count + 1}"
        return Fill(bar.ts, order.symbol, order.side, quantity, price, quote.commission.amount,
                    order.client_order_id, exec_id)

    # ---- what reconciliation reads ------------------------------------------------------
    def positions(self) -> dict[str, int]:
        return {symbol: qty for symbol, qty in sorted(self._positions.items()) if qty}

    def open_orders(self) -> list[OpenOrder]:
        return [OpenOrder(w.order.client_order_id, w.order.symbol, w.order.side,
                          w.order.quantity, w.filled)
                for w in self._orders.values() if w.status == "OPEN"]

    def fills_since(self, since: datetime) -> list[Fill]:
        return [fill for fill in self._fills if fill.ts >= since]

    def order_state(self, client_order_id: str) -> OrderStatus | None:
        working = self._orders.get(client_order_id)
        if working is None:
            return None
        if working.status == "OPEN":
            return OrderStatus.PARTIALLY_FILLED if working.filled else OrderStatus.SUBMITTED
        return OrderStatus(working.status)

    def order_ids(self) -> list[str]:
        """Every client order id this broker ever accepted or rejected, in arrival order."""
        return list(self._orders)

    def poll_events(self) -> list[BrokerEvent]:
        events = list(self._events)
        self._events.clear()
        return events

    def inject_event(self, event: BrokerEvent) -> None:
        """Queue an arbitrary event (fault injection: e.g. a fill for an order we never sent)."""
        self._events.append(event)
