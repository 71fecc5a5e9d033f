"""Trading messages: what the policy wants (intents), what we send (orders), what happened (fills).

Everything here is immutable and exact: prices and commissions are ``Decimal`` (never float),
quantities are whole shares. Positions and the book derive from fills
(``intraday_jules.domain.portfolio``).

Client order ids are deterministic, derived from (session, decision bar, symbol, origin)::

    IJ-20250203-1431-NVDA      the policy's order for NVDA decided on the 14:31Z bar
    IJF-20250203-1555-NVDA     the risk engine's flattening order on the 15:55Z bar

The session is the America/New_York date, the bar time is the bar *start* in UTC (HHMM; one
session never spans 24 hours, so HHMM is unique in it). Flattening orders get their own prefix
so a flatten on the same bar as a policy order never collides with it. A retried or restarted
run derives the same id for the same decision, finds it in the ledger and sends nothing twice;
IB carries the id in ``orderRef``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from intraday_jules.domain.calendar import session_date_of
from intraday_jules.domain.clock import as_utc
from intraday_jules.domain.symbols import validate_symbol

ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for BUY, -1 for SELL: a fill changes the position by ``sign * quantity``."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class IntentOrigin(StrEnum):
    """Who asked: the policy, or the risk engine flattening (session close or HALTED)."""

    POLICY = "POLICY"
    FLATTEN = "FLATTEN"


class OrderStatus(StrEnum):
    PENDING = "PENDING"  # recorded in the ledger, not yet acknowledged by the broker
    SUBMITTED = "SUBMITTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"

    @property
    def is_terminal(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED)


def exact(value: object, name: str) -> Decimal:
    """``value`` as a finite Decimal; floats are refused so binary rounding never leaks in."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal (or int), got {type(value).__name__} {value!r}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{name} must be finite, got {result}")
    return result


def _shares(quantity: object, name: str = "quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValueError(f"{name} must be a whole number of shares > 0, got {quantity!r}")
    return quantity


def client_order_id_for(session: date, ts: datetime, symbol: str,
                        origin: IntentOrigin = IntentOrigin.POLICY) -> str:
    """The deterministic id of the order decided on bar ``ts`` (see the module docstring)."""
    bar = as_utc(ts, "ts")
    if bar.second or bar.microsecond:
        raise ValueError(f"order ts {bar.isoformat()} is not a bar start (minute-aligned)")
    prefix = "IJF" if origin is IntentOrigin.FLATTEN else "IJ"
    return f"{prefix}-{session:%Y%m%d}-{bar:%H%M}-{validate_symbol(symbol)}"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What someone wants to trade on decision bar ``ts`` at about ``reference_price``."""

    symbol: str
    side: Side
    quantity: int
    ts: datetime
    reference_price: Decimal
    origin: IntentOrigin = IntentOrigin.POLICY

    def __post_init__(self) -> None:
        validate_symbol(self.symbol)
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "origin", IntentOrigin(self.origin))
        _shares(self.quantity)
        object.__setattr__(self, "ts", as_utc(self.ts, "ts"))
        price = exact(self.reference_price, "reference_price")
        if price <= 0:
            raise ValueError(f"reference_price must be > 0, got {price}")
        object.__setattr__(self, "reference_price", price)

    @property
    def signed_quantity(self) -> int:
        return self.side.sign * self.quantity

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.reference_price

    def with_quantity(self, quantity: int) -> OrderIntent:
        return replace(self, quantity=quantity)


@dataclass(frozen=True, slots=True)
class Order:
    """An intent the risk engine approved, named by its deterministic ``client_order_id``."""

    client_order_id: str
    session: date
    symbol: str
    side: Side
    quantity: int
    ts: datetime
    reference_price: Decimal
    origin: IntentOrigin = IntentOrigin.POLICY

    def __post_init__(self) -> None:
        if not self.client_order_id:
            raise ValueError("client_order_id must not be empty")
        intent = self.intent  # validates every shared field the same way
        object.__setattr__(self, "side", intent.side)
        object.__setattr__(self, "origin", intent.origin)
        object.__setattr__(self, "ts", intent.ts)
        object.__setattr__(self, "reference_price", intent.reference_price)

    @classmethod
    def from_intent(cls, intent: OrderIntent, session: date | None = None) -> Order:
        """Name the order; ``session`` defaults to the New York date of the decision bar."""
        day = session if session is not None else session_date_of(intent.ts)
        oid = client_order_id_for(day, intent.ts, intent.symbol, intent.origin)
        return cls(oid, day, intent.symbol, intent.side, intent.quantity, intent.ts,
                   intent.reference_price, intent.origin)

    @property
    def intent(self) -> OrderIntent:
        return OrderIntent(self.symbol, self.side, self.quantity, self.ts, self.reference_price,
                           self.origin)

    @property
    def signed_quantity(self) -> int:
        return self.side.sign * self.quantity


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution reported by the broker (``exec_id`` is the broker's unique id)."""

    ts: datetime
    symbol: str
    side: Side
    quantity: int
    price: Decimal
    commission: Decimal
    client_order_id: str
    exec_id: str

    def __post_init__(self) -> None:
        validate_symbol(self.symbol)
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "ts", as_utc(self.ts, "ts"))
        _shares(self.quantity)
        price, commission = exact(self.price, "price"), exact(self.commission, "commission")
        if price <= 0:
            raise ValueError(f"fill {self.exec_id}: price must be > 0, got {price}")
        if commission < 0:
            raise ValueError(f"fill {self.exec_id}: commission must be >= 0, got {commission}")
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "commission", commission)
        if not self.exec_id or not self.client_order_id:
            raise ValueError("a fill needs both exec_id and client_order_id")

    @property
    def signed_quantity(self) -> int:
        return self.side.sign * self.quantity

    @property
    def cash_delta(self) -> Decimal:
        """Cash change: a buy pays price * quantity, a sell receives it; commission is paid."""
        return -self.signed_quantity * self.price - self.commission
