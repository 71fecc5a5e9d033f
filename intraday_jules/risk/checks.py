"""Pre-trade checks: a chain of small named predicates (NautilusTrader style).

Each check sees the intent as left by the previous one and returns either the intent
(unchanged, or shrunk to fit) or a human-readable reason to deny it. The chain order matters:
state first (what is allowed at all), then shorting, then the position cap, then the per-order
guards. Checks only ever shrink an order, never grow it, so a later check cannot undo the
guarantee of an earlier one.

"Exposure" is the position plus unfilled open orders, so an order still on its way counts.
The position is the broker's when the loop knows it (``CheckContext.broker_positions``), else
the ledger's book: the two agree unless reconciliation found a mismatch, and then what the
broker really holds is what an order changes (a flatten must close it, a sell must not take
it short), whatever the ledger believes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from intraday_jules.domain.orders import IntentOrigin, OrderIntent
from intraday_jules.domain.portfolio import Book
from intraday_jules.domain.risk_state import TradingState
from intraday_jules.risk.limits import RiskLimits


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What the checks need besides the intent and the book.

    broker_positions: signed shares per symbol as the broker reports them (flat symbols may
        be omitted); None when the broker's view is not known (then the book's is used).
    """

    state: TradingState
    state_reason: str
    limits: RiskLimits
    orders_last_minute: int
    broker_positions: Mapping[str, int] | None = None


def exposure(symbol: str, book: Book, broker_positions: Mapping[str, int] | None) -> int:
    """Shares held once open orders fill: the broker's position when known, else the book's."""
    if broker_positions is None:
        return book.exposure(symbol)
    return broker_positions.get(symbol, 0) + book.pending.get(symbol, 0)


@dataclass(frozen=True, slots=True)
class Approved:
    """The order may go out as ``intent`` (possibly smaller than ``requested``)."""

    intent: OrderIntent
    requested: OrderIntent
    notes: tuple[str, ...] = ()

    @property
    def resized(self) -> bool:
        return self.intent.quantity != self.requested.quantity


@dataclass(frozen=True, slots=True)
class Denied:
    """The order must not go out; ``check`` names the predicate that refused it."""

    intent: OrderIntent
    reason: str
    check: str


Verdict = Approved | Denied
Outcome = OrderIntent | str
Check = Callable[[OrderIntent, Book, CheckContext], Outcome]


def _resize(intent: OrderIntent, quantity: int, why: str) -> Outcome:
    """Shrink to ``quantity`` shares, or deny with ``why`` when nothing is left."""
    if quantity <= 0:
        return why
    return intent.with_quantity(min(quantity, intent.quantity))


def _reduce_only(intent: OrderIntent, book: Book, ctx: CheckContext, why: str) -> Outcome:
    """Allow only the part of the order that moves exposure towards zero (never through)."""
    held = exposure(intent.symbol, book, ctx.broker_positions)
    if held == 0 or (held > 0) == (intent.signed_quantity > 0):
        return (f"{why}; {intent.side} {intent.quantity} {intent.symbol} would not reduce "
                f"exposure of {held} shares")
    return _resize(intent, abs(held), why)


def trading_state_allows(intent: OrderIntent, book: Book, ctx: CheckContext) -> Outcome:
    """ACTIVE: anything; REDUCING: reducing orders; HALTED: the engine's flattening orders."""
    if ctx.state is TradingState.HALTED and intent.origin is not IntentOrigin.FLATTEN:
        return f"trading is HALTED ({ctx.state_reason}): only the engine's flattening orders"
    if ctx.state is TradingState.ACTIVE and intent.origin is IntentOrigin.POLICY:
        return intent
    why = (f"trading is {ctx.state} ({ctx.state_reason})" if intent.origin is IntentOrigin.POLICY
           else "a flattening order may only reduce")
    return _reduce_only(intent, book, ctx, why)


def short_selling_allowed(intent: OrderIntent, book: Book, ctx: CheckContext) -> Outcome:
    """Without ``allow_short`` a sell may take exposure down to zero, not below."""
    held = exposure(intent.symbol, book, ctx.broker_positions)
    if ctx.limits.allow_short or held + intent.signed_quantity >= 0:
        return intent
    return _resize(intent, max(held, 0),
                   f"short selling is disabled and exposure in {intent.symbol} is {held} shares")


def broker_position_stays_long(intent: OrderIntent, book: Book, ctx: CheckContext) -> Outcome:
    """Without ``allow_short`` a sell never exceeds what the broker holds right now, less the
    sells already working there: whatever the ledger says and whether or not open buys ever
    fill, the broker's position cannot go below zero."""
    if ctx.limits.allow_short or ctx.broker_positions is None or intent.signed_quantity > 0:
        return intent
    at_broker = ctx.broker_positions.get(intent.symbol, 0)
    selling = -min(book.pending.get(intent.symbol, 0), 0)
    free = at_broker - selling
    if free + intent.signed_quantity >= 0:
        return intent
    return _resize(intent, free,
                   f"short selling is disabled and the broker holds {at_broker} shares of "
                   f"{intent.symbol} ({selling} already being sold; the ledger's book holds "
                   f"{book.quantity(intent.symbol)})")


def position_within_cap(intent: OrderIntent, book: Book, ctx: CheckContext) -> Outcome:
    """Exposure after the order stays within ``max_position_usd`` at the reference price.

    An order that does not grow exposure in absolute terms always passes: reducing a position
    that drifted above the cap (the price rose) must stay possible.
    """
    held = exposure(intent.symbol, book, ctx.broker_positions)
    after = held + intent.signed_quantity
    if abs(after) <= abs(held):
        return intent
    cap = ctx.limits.max_position_usd
    cap_shares = int(cap // intent.reference_price)
    if abs(after) <= cap_shares:
        return intent
    allowed_after = cap_shares if after > 0 else -cap_shares
    quantity = (allowed_after - held) * intent.side.sign
    return _resize(intent, quantity,
                   f"{intent.symbol} exposure of {held} shares is at its cap of ${cap} "
                   f"({cap_shares} shares at {intent.reference_price})")


def order_within_notional(intent: OrderIntent, book: Book, ctx: CheckContext) -> Outcome:
    """A policy order's notional stays within ``max_order_usd`` (flattening is exempt)."""
    limit = ctx.limits.max_order_usd
    if intent.origin is IntentOrigin.FLATTEN or intent.notional <= limit:
        return intent
    return _resize(intent, int(limit // intent.reference_price),
                   f"one share of {intent.symbol} at {intent.reference_price} exceeds the "
                   f"order limit of ${limit}")


def order_rate_within_limit(intent: OrderIntent, book: Book, ctx: CheckContext) -> Outcome:
    """At most ``max_orders_per_minute`` policy orders per minute (flattening is exempt)."""
    limit = ctx.limits.max_orders_per_minute
    if intent.origin is IntentOrigin.FLATTEN or ctx.orders_last_minute < limit:
        return intent
    return f"{ctx.orders_last_minute} orders in the last minute reached the limit of {limit}"


CHECKS: tuple[Check, ...] = (
    trading_state_allows,
    short_selling_allowed,
    broker_position_stays_long,
    position_within_cap,
    order_within_notional,
    order_rate_within_limit,
)


def run_checks(intent: OrderIntent, book: Book, ctx: CheckContext,
               checks: tuple[Check, ...] = CHECKS) -> Verdict:
    """Pass ``intent`` through every check; the first refusal denies it."""
    current, notes = intent, []
    for check in checks:
        outcome = check(current, book, ctx)
        if isinstance(outcome, str):
            return Denied(intent, f"{check.__name__}: {outcome}", check.__name__)
        if outcome.quantity != current.quantity:
            notes.append(f"{check.__name__}: {current.quantity} -> {outcome.quantity} shares")
        current = outcome
    return Approved(current, intent, tuple(notes))
