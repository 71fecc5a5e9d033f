"""Positions and the book, derived from fills (never stored as mutable truth).

A restarted process folds the ledger's fills again and gets exactly the state it had. Positions
use FIFO lots, so realised P&L is a sum of exact Decimal products (no division anywhere); the
average cost is only a derived view for display.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType

from intraday_jules.domain.orders import ZERO, Fill, exact


@dataclass(frozen=True, slots=True)
class Lot:
    """Open shares bought (quantity > 0) or sold short (< 0) at one price."""

    quantity: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class Position:
    """A symbol's position derived from its fills (FIFO lots, exact realised P&L).

    ``realised_pnl`` is price P&L on closed shares, before commissions; ``commissions`` is
    their running total, so ``net_realised_pnl`` is what the closed trades made.
    """

    symbol: str
    quantity: int = 0
    lots: tuple[Lot, ...] = ()
    realised_pnl: Decimal = ZERO
    commissions: Decimal = ZERO
    last_price: Decimal | None = None

    @classmethod
    def from_fills(cls, fills: Iterable[Fill], symbol: str | None = None) -> Position:
        """Fold ``fills`` (in execution order) of one symbol into a position."""
        items = list(fills)
        name = symbol or (items[0].symbol if items else None)
        if name is None:
            raise ValueError("Position.from_fills needs a symbol when there are no fills")
        position = cls(name)
        for fill in items:
            position = position.apply(fill)
        return position

    def apply(self, fill: Fill) -> Position:
        """The position after ``fill``: close opposite lots first-in-first-out, open the rest."""
        if fill.symbol != self.symbol:
            raise ValueError(f"fill {fill.exec_id} is for {fill.symbol}, not {self.symbol}")
        lots, remaining, realised = list(self.lots), fill.signed_quantity, self.realised_pnl
        while remaining and lots and (lots[0].quantity > 0) != (remaining > 0):
            lot = lots[0]
            direction = 1 if lot.quantity > 0 else -1
            closed = min(abs(remaining), abs(lot.quantity))
            realised += (fill.price - lot.price) * closed * direction
            remaining += closed * direction
            left = lot.quantity - closed * direction
            lots[0:1] = [Lot(left, lot.price)] if left else []
        if remaining:
            lots.append(Lot(remaining, fill.price))
        return Position(self.symbol, self.quantity + fill.signed_quantity, tuple(lots), realised,
                        self.commissions + fill.commission, fill.price)

    @property
    def cost_basis(self) -> Decimal:
        """Signed cost of the open lots (negative for a short)."""
        return sum((lot.quantity * lot.price for lot in self.lots), ZERO)

    @property
    def average_cost(self) -> Decimal | None:
        """Average open price (for display; may round in the last of 28 digits)."""
        return self.cost_basis / self.quantity if self.quantity else None

    @property
    def net_realised_pnl(self) -> Decimal:
        return self.realised_pnl - self.commissions

    def unrealised_pnl(self, mark: Decimal) -> Decimal:
        return self.quantity * mark - self.cost_basis

    def notional(self, mark: Decimal) -> Decimal:
        return abs(self.quantity) * mark


def positions_from_fills(fills: Iterable[Fill]) -> dict[str, Position]:
    """Every symbol's position, folding ``fills`` in the order given."""
    positions: dict[str, Position] = {}
    for fill in fills:
        positions[fill.symbol] = positions.get(fill.symbol, Position(fill.symbol)).apply(fill)
    return positions


def _frozen(mapping: Mapping[str, object] | None) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Book:
    """A snapshot of the account: cash, positions, marks and the loss reference points.

    ``high_water_mark`` is the highest equity seen (never below current equity);
    ``session_start_equity`` is the equity the daily loss is measured from; ``pending`` holds
    signed unfilled quantities of open orders, so exposure counts what is already on its way.
    A symbol without a mark is valued at its last fill price.
    """

    cash: Decimal
    positions: Mapping[str, Position] = field(default_factory=dict)
    marks: Mapping[str, Decimal] = field(default_factory=dict)
    high_water_mark: Decimal = ZERO
    session_start_equity: Decimal = ZERO
    pending: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cash", exact(self.cash, "cash"))
        object.__setattr__(self, "positions", _frozen(self.positions))
        marks = {s: exact(m, f"mark of {s}") for s, m in self.marks.items()}
        object.__setattr__(self, "marks", _frozen(marks))
        object.__setattr__(self, "pending", _frozen(self.pending))
        hwm = exact(self.high_water_mark, "high_water_mark")
        object.__setattr__(self, "high_water_mark", max(hwm, self.equity))
        object.__setattr__(self, "session_start_equity",
                           exact(self.session_start_equity, "session_start_equity"))

    @classmethod
    def from_fills(cls, fills: Iterable[Fill], *, starting_cash: Decimal,
                   marks: Mapping[str, Decimal] | None = None,
                   high_water_mark: Decimal | None = None,
                   session_start_equity: Decimal | None = None,
                   pending: Mapping[str, int] | None = None) -> Book:
        """Derive the book from every fill since ``starting_cash`` was deposited.

        ``high_water_mark`` defaults to max(starting cash, equity); ``session_start_equity``
        to the equity now (pass the ledger's value when resuming mid-session).
        """
        items = list(fills)
        cash = exact(starting_cash, "starting_cash") + sum((f.cash_delta for f in items), ZERO)
        book = cls(cash, positions_from_fills(items), marks or {}, starting_cash, ZERO, pending
                   or {})
        hwm = max(book.high_water_mark, high_water_mark if high_water_mark is not None else ZERO)
        start = book.equity if session_start_equity is None else session_start_equity
        return replace(book, high_water_mark=hwm, session_start_equity=start)

    def position(self, symbol: str) -> Position:
        return self.positions.get(symbol) or Position(symbol)

    def quantity(self, symbol: str) -> int:
        return self.position(symbol).quantity

    def exposure(self, symbol: str) -> int:
        """Position plus open orders' unfilled shares: what we hold once pending orders fill."""
        return self.quantity(symbol) + self.pending.get(symbol, 0)

    def mark(self, symbol: str) -> Decimal | None:
        return self.marks.get(symbol, self.position(symbol).last_price)

    @property
    def market_value(self) -> Decimal:
        total = ZERO
        for symbol, position in self.positions.items():
            if not position.quantity:
                continue
            mark = self.mark(symbol)
            if mark is None:  # never value an open position at nothing: that hides a loss
                raise ValueError(f"no mark and no fill price for open position in {symbol}")
            total += position.quantity * mark
        return total

    @property
    def equity(self) -> Decimal:
        return self.cash + self.market_value

    @property
    def daily_pnl(self) -> Decimal:
        return self.equity - self.session_start_equity

    @property
    def drawdown(self) -> Decimal:
        return self.high_water_mark - self.equity

    def with_marks(self, marks: Mapping[str, Decimal]) -> Book:
        """New marks (merged into the old ones); the high-water mark follows equity up."""
        return replace(self, marks={**self.marks, **marks})

    def with_fill(self, fill: Fill) -> Book:
        positions = {**self.positions, fill.symbol: self.position(fill.symbol).apply(fill)}
        return replace(self, cash=self.cash + fill.cash_delta, positions=positions)

    def with_pending(self, pending: Mapping[str, int]) -> Book:
        return replace(self, pending=pending)
