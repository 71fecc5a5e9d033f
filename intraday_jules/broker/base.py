"""The one interface every broker implements, and the immutable events brokers report.

Why this shape (NautilusTrader's execution-client split, sized for us):
- ``submit``/``cancel`` act and answer at once with what the broker said (accepted, rejected,
  cancelled); everything that happens later (fills, late rejections, unsolicited cancels,
  connection drops) is queued and drained by ``poll_events``. The trading loop drains it on
  every bar, so a simulated and a real broker drive the loop the same way.
- Orders are named by our deterministic ``client_order_id`` (``IJ-20250203-1431-NVDA``); the
  broker must carry it (IB: ``Order.orderRef``) and must treat a second ``submit`` of a known id
  as the same order: it answers ``OrderAccepted(duplicate=True)`` and sends nothing. That,
  plus the ledger check before submit, is why a restarted run never trades a decision twice.
- ``positions``, ``open_orders``, ``fills_since`` and ``order_state`` are what reconciliation
  reads at start and after every reconnect (IB: ``reqPositions``, ``reqAllOpenOrders``,
  ``reqExecutions``, ``reqCompletedOrders``).
- A broker never raises for a refusal: a rejected order is an ``OrderRejected`` event. It raises
  ``BrokerError`` only when it cannot answer at all (not connected, transport failure).

IbkrBroker mapping (``ib_async``): submit -> ``placeOrder`` (DAY market order, ``orderRef`` =
client_order_id, duplicate check by orderRef over open orders and executions); cancel ->
``cancelOrder``; fills -> ``execDetailsEvent`` + ``commissionReportEvent`` (one ``FillReport``
per execution, commission from its report, ``exec_id`` = IB's execId); error 201 ->
``OrderRejected``; error 202 / status Cancelled -> ``OrderCancelled``; ``disconnectedEvent`` /
reconnect -> ``ConnectionChanged``. Paper (7497) by default; live only by explicit opt-in with a
matching account id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from intraday_jules.domain.bars import Bar
from intraday_jules.domain.clock import as_utc
from intraday_jules.domain.orders import Fill, Order, OrderStatus, Side


class BrokerError(RuntimeError):
    """The broker could not answer (not connected, transport failure); nothing was done."""


class ConnectionState(StrEnum):
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """The broker took the order (``duplicate``: it already had this client order id)."""

    client_order_id: str
    ts: datetime
    broker_order_id: str
    duplicate: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", as_utc(self.ts, "broker event ts"))


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """The broker refused the order (IB error 201 and the like); ``code`` is the vendor's."""

    client_order_id: str
    ts: datetime
    reason: str
    code: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", as_utc(self.ts, "broker event ts"))


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """The order will not fill any further (by our cancel, or the broker's own decision)."""

    client_order_id: str
    ts: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", as_utc(self.ts, "broker event ts"))


@dataclass(frozen=True, slots=True)
class CancelRejected:
    """A cancel could not be done (unknown order, already filled)."""

    client_order_id: str
    ts: datetime
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", as_utc(self.ts, "broker event ts"))


@dataclass(frozen=True, slots=True)
class FillReport:
    """One execution. ``fill.exec_id`` is the broker's unique id (a retry reports it again)."""

    fill: Fill

    @property
    def client_order_id(self) -> str:
        return self.fill.client_order_id

    @property
    def ts(self) -> datetime:
        return self.fill.ts


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """The connection went up or down; after it comes back, reconcile before trading on."""

    state: ConnectionState
    ts: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", as_utc(self.ts, "broker event ts"))


SubmitResult = OrderAccepted | OrderRejected
CancelResult = OrderCancelled | CancelRejected
BrokerEvent = (OrderAccepted | OrderRejected | OrderCancelled | CancelRejected | FillReport
               | ConnectionChanged)


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order the broker still works (not filled, cancelled or rejected)."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: int
    filled_quantity: int = 0

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def signed_remaining(self) -> int:
        return self.side.sign * self.remaining


class Broker(Protocol):
    """What the trading loop needs from a broker; see the module docstring for the contract."""

    name: str

    def connect(self) -> ConnectionState:
        """Open the connection (idempotent) and say whether it is up."""
        ...

    def disconnect(self) -> None:
        """Close the connection; idempotent."""
        ...

    def connection_state(self) -> ConnectionState: ...

    def submit(self, order: Order) -> SubmitResult:
        """Send ``order`` once: a known ``client_order_id`` is answered as a duplicate."""
        ...

    def cancel(self, client_order_id: str) -> CancelResult:
        """Cancel the unfilled rest of an order."""
        ...

    def positions(self) -> dict[str, int]:
        """Signed shares per symbol as the broker books them (flat symbols may be omitted)."""
        ...

    def open_orders(self) -> list[OpenOrder]:
        """Orders still working, with the client order id each carries."""
        ...

    def fills_since(self, since: datetime) -> list[Fill]:
        """Every execution at or after ``since``, oldest first (for recovery after a restart)."""
        ...

    def order_state(self, client_order_id: str) -> OrderStatus | None:
        """What the broker knows of an order; None if it never received it (IB: open plus
        completed orders, matched by ``orderRef``). Recovery tells "sent" from "never sent"
        with it."""
        ...

    def poll_events(self) -> list[BrokerEvent]:
        """Events that happened since the last poll, in order; never blocks."""
        ...


@runtime_checkable
class MarketDrivenBroker(Protocol):
    """A broker that needs the market to fill (the simulated one); real brokers do not."""

    def on_bar(self, bar: Bar) -> None:
        """A completed bar: fill what the market would have filled at its open."""
        ...


@runtime_checkable
class JournaledBroker(Protocol):
    """A broker whose memory is our own file (the simulated one): its lines reach the kernel
    before it answers, and the disk when ``sync`` is called, which the loop does after each
    minute's orders (``trading/housekeeping.py``), never between a bar and its orders."""

    def sync(self) -> None:
        """Get everything answered so far onto the disk."""
        ...
