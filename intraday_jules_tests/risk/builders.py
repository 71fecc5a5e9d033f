"""Small builders for risk tests: intents, fills and books with readable defaults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from intraday_jules.domain.orders import Fill, IntentOrigin, OrderIntent, Side
from intraday_jules.domain.portfolio import Book

T0 = datetime(2025, 2, 3, 14, 31, tzinfo=UTC)
START_CASH = Decimal("10000")


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def fixed_clock(ts: datetime = T0) -> Callable[[], datetime]:
    return lambda: ts


def intent(side: Side, quantity: int, price: str | Decimal = "100", *, symbol: str = "NVDA",
           minute: int = 0, origin: IntentOrigin = IntentOrigin.POLICY) -> OrderIntent:
    return OrderIntent(symbol, side, quantity, at(minute), Decimal(price), origin)


def filled(order: OrderIntent, price: Decimal | None = None, n: int = 0) -> Fill:
    """The whole intent filled (at its reference price unless ``price`` is given)."""
    return Fill(order.ts + timedelta(seconds=30), order.symbol, order.side, order.quantity,
                price if price is not None else order.reference_price, Decimal(0),
                f"T-{order.ts:%H%M}-{order.symbol}", f"E-{n}")


def book_holding(quantity: int, price: str = "100", *, symbol: str = "NVDA",
                 mark: str | None = None) -> Book:
    """A book that bought (or sold) ``quantity`` at ``price`` from START_CASH."""
    book = Book(START_CASH, session_start_equity=START_CASH)
    if quantity:
        side = Side.BUY if quantity > 0 else Side.SELL
        book = book.with_fill(filled(intent(side, abs(quantity), price, symbol=symbol)))
    return book.with_marks({symbol: Decimal(mark or price)})
