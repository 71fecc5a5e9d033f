"""The fake exchange behind placeOrder: fills, partial fills, rejections, cancels, positions.

Designed for testing a broker adapter against the real ``ib_async`` client: each placed order
takes the next scripted ``OrderReaction`` (or the default one), and the gateway sends the
message sequence TWS sends: openOrder + orderStatus on acceptance; execDetails, orderStatus and
commissionReport per fill; orderStatus Cancelled + error 202 on cancel; error 201 on rejection.
State (orders, executions, positions) survives client reconnects, so reconciliation after a
restart (reqOpenOrders, reqExecutions, reqPositions) can be tested too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from intraday_jules.domain.clock import Clock
from intraday_jules.testing.fake_tws import order_wire
from intraday_jules.testing.fake_tws.incoming import PlacedOrder
from intraday_jules.testing.fake_tws.order_wire import SimExecution, SimOrder
from intraday_jules.testing.fake_tws.outgoing import Fields, StockSpec, error

Send = Callable[[Fields], None]

REJECTED = 201
CANCELLED = 202
UNKNOWN_ORDER = 10147


@dataclass(frozen=True, slots=True)
class OrderReaction:
    """What the fake exchange does with one placed order.

    fills: quantities of successive immediate fills; ``None`` fills the whole order at once.
        Fills that leave a remainder keep the order working until ``fill_order`` or a cancel.
    work: accept the order and leave it working, with no fill (overrides ``fills``).
    price: fill price; ``None`` uses the limit price, else the last replay close.
    reject_code: refuse the order with this error (201: "Order rejected") instead.
    commission_per_share, min_commission: IB's fixed US-stock tier by default.
    """

    fills: tuple[float, ...] | None = None
    work: bool = False
    price: float | None = None
    reject_code: int | None = None
    reject_reason: str = "Order rejected - reason:Insufficient buying power"
    commission_per_share: float = 0.005
    min_commission: float = 1.0


@dataclass(slots=True)
class _Position:
    quantity: float = 0.0
    avg_cost: float = 0.0


@dataclass(slots=True)
class _Live:
    order: SimOrder
    reaction: OrderReaction
    send: Send


@dataclass(slots=True)
class OrderBook:
    """All order state of the fake gateway. Methods run on the gateway's event-loop thread."""

    server_version: int
    market_price: Callable[[str], float | None]
    clock: Clock
    default_reaction: OrderReaction = field(default_factory=OrderReaction)
    _script: list[OrderReaction] = field(default_factory=list)
    _orders: dict[int, _Live] = field(default_factory=dict)
    _executions: list[SimExecution] = field(default_factory=list)
    _positions: dict[tuple[str, str], _Position] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_perm_id: int = 900_000_001
    _exec_seq: int = 0

    def script(self, *reactions: OrderReaction) -> None:
        """Queue reactions for the next orders placed (first in, first used)."""
        with self._lock:
            self._script.extend(reactions)

    def seed_position(self, account: str, symbol: str, quantity: float, avg_cost: float) -> None:
        """Start with a position (as if filled before this gateway session)."""
        self._positions[(account, symbol)] = _Position(quantity, avg_cost)

    def place(self, placed: PlacedOrder, client_id: int, account: str, send: Send) -> None:
        with self._lock:
            reaction = self._script.pop(0) if self._script else self.default_reaction
        if placed.order_id in self._orders:
            send(error(placed.order_id, 103, "Duplicate order id"))
            return
        if reaction.reject_code is not None:
            send(error(placed.order_id, reaction.reject_code, reaction.reject_reason))
            return
        order = SimOrder(placed.order_id, client_id, self._next_perm_id,
                         StockSpec.for_symbol(placed.contract.symbol), placed.action,
                         placed.quantity, placed.order_type, placed.limit_price,
                         placed.tif or "DAY", placed.account or account, placed.order_ref)
        self._next_perm_id += 1
        live = _Live(order, reaction, send)
        self._orders[order.order_id] = live
        order.status = "Submitted"
        self._announce(live)
        if not reaction.work:
            for qty in reaction.fills or (order.quantity,):
                self.fill(order.order_id, qty, reaction.price)

    def fill(self, order_id: int, quantity: float, price: float | None = None) -> None:
        """Execute ``quantity`` of a working order (the rest stays working)."""
        live = self._orders.get(order_id)
        if live is None or live.order.is_done:
            raise ValueError(f"order {order_id} is not working")
        o = live.order
        qty = min(quantity, o.remaining)
        px = price if price is not None else self._fill_price(live)
        o.avg_price = (o.avg_price * o.filled + px * qty) / (o.filled + qty)
        o.filled += qty
        o.last_price = px
        if o.remaining <= 1e-9:
            o.status = "Filled"
        execution = self._record_execution(live, qty, px)
        live.send(order_wire.exec_details(-1, execution, self.server_version))
        if o.is_done:
            live.send(order_wire.open_order(o, self.server_version))
        live.send(order_wire.order_status(o))
        live.send(order_wire.commission_report(execution))

    def cancel(self, order_id: int, send: Send) -> None:
        live = self._orders.get(order_id)
        if live is None or live.order.is_done:
            send(error(order_id, UNKNOWN_ORDER, f"OrderId {order_id} that needs to be "
                                                "cancelled cannot be cancelled, state: done."))
            return
        live.order.status = "Cancelled"
        live.send = send
        send(order_wire.order_status(live.order))
        send(error(order_id, CANCELLED, "Order Canceled - reason:"))

    def cancel_all(self, send: Send) -> None:
        for order_id, live in list(self._orders.items()):
            if not live.order.is_done:
                self.cancel(order_id, send)

    def open_orders(self, client_id: int | None) -> list[SimOrder]:
        return [lv.order for lv in self._orders.values()
                if not lv.order.is_done and (client_id is None or lv.order.client_id == client_id)]

    def executions(self) -> list[SimExecution]:
        return list(self._executions)

    def positions(self) -> dict[tuple[str, str], tuple[float, float]]:
        """(account, symbol) -> (quantity, average cost), derived from the fills."""
        return {k: (p.quantity, p.avg_cost) for k, p in self._positions.items()}

    def rebind(self, client_id: int, send: Send) -> None:
        """A reconnected client receives updates for its working orders again."""
        for live in self._orders.values():
            if live.order.client_id == client_id:
                live.send = send

    def _announce(self, live: _Live) -> None:
        live.send(order_wire.open_order(live.order, self.server_version))
        live.send(order_wire.order_status(live.order))

    def _fill_price(self, live: _Live) -> float:
        if live.reaction.price is not None:
            return live.reaction.price
        if live.order.limit_price is not None:
            return live.order.limit_price
        market = self.market_price(live.order.spec.symbol)
        if market is None:
            raise ValueError(f"no price to fill {live.order.spec.symbol}: script one")
        return market

    def _record_execution(self, live: _Live, qty: float, price: float) -> SimExecution:
        o, r = live.order, live.reaction
        self._exec_seq += 1
        commission = round(max(r.min_commission, r.commission_per_share * qty), 4)
        signed = qty if o.action == "BUY" else -qty
        realized = self._apply_position(o.account, o.spec.symbol, signed, price)
        execution = SimExecution(
            f"{o.perm_id:08x}.{self._exec_seq:08x}.01.01", o.order_id, o.client_id, o.perm_id,
            o.spec, self.clock(), o.account, "BOT" if signed > 0 else "SLD", qty, price,
            o.filled, o.avg_price, o.order_ref, commission, realized)
        self._executions.append(execution)
        return execution

    def _apply_position(self, account: str, symbol: str, signed: float,
                        price: float) -> float | None:
        pos = self._positions.setdefault((account, symbol), _Position())
        if pos.quantity == 0 or (pos.quantity > 0) == (signed > 0):
            total = pos.quantity + signed
            pos.avg_cost = (pos.avg_cost * abs(pos.quantity) + price * abs(signed)) / abs(total)
            pos.quantity = total
            return None
        closed = min(abs(signed), abs(pos.quantity))
        direction = 1.0 if pos.quantity > 0 else -1.0
        realized = (price - pos.avg_cost) * closed * direction
        pos.quantity += signed
        if abs(pos.quantity) < 1e-9:
            pos.quantity, pos.avg_cost = 0.0, 0.0
        elif (pos.quantity > 0) != (direction > 0):
            pos.avg_cost = price  # flipped through zero: the remainder opened at this price
        return realized
