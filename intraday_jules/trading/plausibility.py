"""The intake's plausibility band: a tick the loop must not believe is bad input, not a price.

A ``Bar`` is already finite, positive and OHLC-consistent (it validates itself). That still
lets through a close of 1e308 (not storable as money: the ledger keeps 8 decimals and fewer
than 16 integer digits), 1e-6 or 100 times the last price: one such tick used as a mark
crashed the loop or latched HALTED on a "drawdown" that never happened. Every traded bar is
therefore judged, field by field (open, high, low, close, volume), before it is stored, marked,
featurized or decided on; the first failing field is named with its value.

1. Exact money: each price must be exactly representable in the ledger (``MONEY_SCALE``
   decimals, fewer than 16 integer digits).
2. Physical bounds: ``min_price`` <= price <= ``max_price``; volume <= ``max_volume``.
3. Day band: within a factor ``day_factor`` of the symbol's anchor: the previous session's
   last stored close (``BarStore``), else the session's first accepted close.
4. Minute band: within a factor ``minute_factor`` of the symbol's last accepted close in this
   session. A real jump beyond it is confirmed by ``confirm_bars`` consecutive bars that agree
   with each other (each within ``minute_factor`` of the one before, and inside rules 1-3):
   the last of them is accepted and becomes the new reference, so a genuine new level is not
   refused for the rest of the day. Rules 1-3 are never re-anchored.

Why these values (docs/trading.md): the recorded 2025-01-27 (DeepSeek) session had NVDA -17%
from the previous close, and the largest one-day moves of mega caps are about -26%/+24%; a
factor of 2 (-50% .. +100%) passes all of them with room, and refuses x100, 1e-6 and an
unadjusted 10:1 split. NVDA/MSFT minute-to-minute moves stay within a few percent outside
opening gaps (which the day band covers): a factor of 1.25 (-20% .. +25%) refuses a x1.5 or
x0.5 spike that would otherwise raise the high-water mark and fake a drawdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from intraday_jules.domain.bars import (
    MAX_PLAUSIBLE_PRICE,
    MIN_PLAUSIBLE_PRICE,
    PRICE_COLUMNS,
    Bar,
)
from intraday_jules.ledger.schema import MONEY_PRECISION, MONEY_SCALE, check_money
from intraday_jules.market_data.store import BarStore

MONEY_INTEGER_DIGITS = MONEY_PRECISION - MONEY_SCALE


@dataclass(frozen=True, slots=True)
class Implausible:
    """Why a bar is bad input: the first failing field, its value, in words."""

    field: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class PlausibilityBand:
    """The band's constants (see the module docstring for why these values)."""

    min_price: Decimal = MIN_PLAUSIBLE_PRICE  # the smallest quote increment of US equities
    max_price: Decimal = MAX_PLAUSIBLE_PRICE  # above any US share price (BRK.A ~ $700k)
    max_volume: int = 10_000_000_000  # shares in one minute: far above any session's total
    day_factor: Decimal = Decimal(2)  # vs the previous session's close: -50% .. +100%
    minute_factor: Decimal = Decimal("1.25")  # vs the last accepted close: -20% .. +25%
    confirm_bars: int = 3  # consecutive agreeing bars that confirm a jump past minute_factor

    def __post_init__(self) -> None:
        if not (0 < self.min_price < self.max_price) or self.max_volume <= 0:
            raise ValueError(f"physical bounds are inconsistent: {self}")
        if self.day_factor <= 1 or self.minute_factor <= 1 or self.confirm_bars < 2:
            raise ValueError(f"band factors must be > 1 and confirm_bars >= 2: {self}")


def exact_price(value: float) -> Decimal:
    """The float price as the decimal it was quoted as (``repr``: 136.385 -> '136.385')."""
    return Decimal(repr(float(value)))


def money_problem(amount: Decimal) -> str | None:
    """Why ``amount`` cannot be kept exactly in the ledger (``check_money`` decides), or None."""
    try:
        check_money(amount)
    except ValueError:
        return (f"is not representable as exact money (the ledger keeps {MONEY_SCALE} "
                f"decimals and fewer than {MONEY_INTEGER_DIGITS} integer digits)")
    return None


def _outside(value: Decimal, reference: Decimal, factor: Decimal) -> bool:
    return value > reference * factor or value * factor < reference


@dataclass(slots=True)
class PriceReferences:
    """Per-symbol references of one session, and the judge of each new bar against them.

    anchors: the day band's reference (previous session's close), per symbol; a symbol
        without one is anchored on its first accepted bar.
    last: the last accepted close per symbol (a restart seeds it from the stored bars).
    """

    band: PlausibilityBand = field(default_factory=PlausibilityBand)
    anchors: dict[str, Decimal] = field(default_factory=dict)
    last: dict[str, Decimal] = field(default_factory=dict)
    _jump: dict[str, tuple[int, Decimal]] = field(default_factory=dict)

    @classmethod
    def seeded(cls, band: PlausibilityBand, previous_closes: Mapping[str, float],
               last_closes: Mapping[str, float]) -> PriceReferences:
        refs = cls(band)
        for symbol, close in previous_closes.items():
            refs.anchors[symbol] = exact_price(close)
        for symbol, close in last_closes.items():
            refs.last[symbol] = exact_price(close)
            refs.anchors.setdefault(symbol, refs.last[symbol])
        return refs

    def judge(self, bar: Bar) -> tuple[Implausible | None, str | None]:
        """(why ``bar`` is bad input or None, a notice when it confirms a new level)."""
        prices = {name: getattr(bar, name) for name in PRICE_COLUMNS}
        exact: dict[str, Decimal] = {}
        for name, value in prices.items():
            amount = exact_price(value)
            problem = money_problem(amount)
            if problem is not None:
                return Implausible(name, repr(value), f"{name} {value!r} {problem}"), None
            exact[name] = amount
        implausible = self._absolute(bar, exact)
        if implausible is not None:
            return implausible, None
        return self._minute_band(bar, exact)

    def accept(self, bar: Bar) -> None:
        """``bar`` was accepted: it is the symbol's new reference."""
        close = exact_price(bar.close)
        self.last[bar.symbol] = close
        self.anchors.setdefault(bar.symbol, close)
        self._jump.pop(bar.symbol, None)

    def _absolute(self, bar: Bar, exact: Mapping[str, Decimal]) -> Implausible | None:
        band = self.band
        for name, amount in exact.items():
            if not band.min_price <= amount <= band.max_price:
                return Implausible(name, str(amount), (
                    f"{name} {amount} is outside the physical bounds "
                    f"{band.min_price} .. {band.max_price}"))
        if bar.volume > band.max_volume:
            return Implausible("volume", str(bar.volume), (
                f"volume {bar.volume} is above the physical bound {band.max_volume}"))
        anchor = self.anchors.get(bar.symbol)
        if anchor is None:
            return None
        for name, amount in exact.items():
            if _outside(amount, anchor, band.day_factor):
                return Implausible(name, str(amount), (
                    f"{name} {amount} is outside the day band (a factor {band.day_factor} "
                    f"of the reference close {anchor})"))
        return None

    def _minute_band(self, bar: Bar,
                     exact: Mapping[str, Decimal]) -> tuple[Implausible | None, str | None]:
        band = self.band
        reference = self.last.get(bar.symbol)
        if reference is None:
            return None, None
        failing = next(((n, a) for n, a in exact.items()
                        if _outside(a, reference, band.minute_factor)), None)
        if failing is None:
            return None, None
        close = exact["close"]
        count, previous = self._jump.get(bar.symbol, (0, close))
        count = count + 1 if count and not _outside(close, previous, band.minute_factor) else 1
        self._jump[bar.symbol] = (count, close)
        if count >= band.confirm_bars:
            return None, (f"{bar.symbol}: new price level {close} confirmed by {count} "
                          f"consecutive bars (last accepted close {reference}); accepted")
        name, amount = failing
        return Implausible(name, str(amount), (
            f"{name} {amount} is outside the minute band (a factor {band.minute_factor} of "
            f"the last accepted close {reference})")), None


def last_stored_closes(store: BarStore, symbols: tuple[str, ...],
                       start: datetime, end: datetime) -> dict[str, float]:
    """The last stored close per symbol with ``start <= ts < end``."""
    frame = store.read(list(symbols), start, end)
    if frame.empty:
        return {}
    last = frame.sort_values("ts", kind="stable").groupby("symbol")["close"].last()
    return {str(s): float(c) for s, c in last.items()}
