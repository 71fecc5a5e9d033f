"""Exact money: a Decimal in US dollars, quantised to a fixed number of places.

Floats are fine inside observations; cash, P&L, commissions and fill prices in the ledger use
``Money`` so that sums never drift (0.1 + 0.2 == 0.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Union

# Fill prices can have sub-cent precision (e.g. 136.3850), so money keeps 4 places
# internally; ``cents()`` rounds for display and reporting.
MONEY_PLACES = Decimal("0.0001")
CENT = Decimal("0.01")

MoneyLike = Union["Money", Decimal, int, str]


@dataclass(frozen=True, order=True, slots=True)
class Money:
    """An exact USD amount. Construct from Decimal, int or str, never from float implicitly."""

    amount: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money needs a Decimal, got {type(self.amount).__name__}")
        if not self.amount.is_finite():
            raise ValueError(f"Money must be finite, got {self.amount}")
        object.__setattr__(self, "amount", self.amount.quantize(MONEY_PLACES, ROUND_HALF_EVEN))

    @classmethod
    def of(cls, value: MoneyLike) -> Money:
        if isinstance(value, Money):
            return value
        if isinstance(value, float):
            raise TypeError("use Money.from_float for floats, so the rounding is explicit")
        return cls(Decimal(value))

    @classmethod
    def from_float(cls, value: float) -> Money:
        """Convert a float price via its shortest repr (136.385 -> Decimal('136.385'))."""
        return cls(Decimal(repr(float(value))))

    @classmethod
    def zero(cls) -> Money:
        return cls(Decimal(0))

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + Money.of(other).amount)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - Money.of(other).amount)

    def __neg__(self) -> Money:
        return Money(-self.amount)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, float):
            raise TypeError("multiply Money by int or Decimal, not float")
        return Money(self.amount * Decimal(factor))

    __rmul__ = __mul__

    def cents(self) -> Decimal:
        return self.amount.quantize(CENT, ROUND_HALF_EVEN)

    def __float__(self) -> float:
        return float(self.amount)

    def __str__(self) -> str:
        sign = "-" if self.amount < 0 else ""
        return f"{sign}${abs(self.cents()):,.2f}"
