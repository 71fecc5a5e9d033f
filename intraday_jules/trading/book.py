"""Book updates and the action -> intent rule of the loop.

The book moves once per minute (fills at the minute's open and marks at its close together),
never through an intermediate state: ``Book`` raises its high-water mark to any equity it is
built with, and a transient "fill applied, old marks" equity is not one the ledger records, so
a restarted run could not rebuild it. One step per minute keeps the in-memory high-water mark
equal to the one recomputed from recorded decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from intraday_jules.domain.orders import Fill, OrderIntent, Side
from intraday_jules.domain.portfolio import Book, Position
from intraday_jules.env.actions import ACTION_NAMES, PositionRules
from intraday_jules.trading.intake import Minute


def price(value: float) -> Decimal:
    """A bar's float price as the exact decimal it was quoted as (136.385 -> '136.385')."""
    return Decimal(repr(float(value)))


def advance_book(book: Book, fills: Sequence[Fill], marks: Mapping[str, Decimal],
                 pending: Mapping[str, int]) -> Book:
    """``book`` after ``fills``, marked at ``marks``, with ``pending`` open-order shares."""
    positions = dict(book.positions)
    cash = book.cash
    for fill in fills:
        positions[fill.symbol] = positions.get(fill.symbol, Position(fill.symbol)).apply(fill)
        cash += fill.cash_delta
    return replace(book, cash=cash, positions=positions, marks={**book.marks, **marks},
                   pending=dict(pending))


def policy_intents(actions: Sequence[int], minute: Minute, book: Book,
                   rules: PositionRules) -> list[OrderIntent]:
    """Orders the actions ask for, sized like the env on the minute's close.

    Sized on exposure (position plus open orders), so an order still on its way is not
    bought twice. The risk engine judges every intent afterwards.
    """
    intents = []
    for action, bar in zip(actions, minute.bars, strict=True):
        quantity = rules.order_quantity(action, book.exposure(bar.symbol), bar.close)
        if quantity:
            side = Side.BUY if quantity > 0 else Side.SELL
            intents.append(OrderIntent(bar.symbol, side, abs(quantity), minute.ts,
                                       price(bar.close)))
    return intents


def describe_actions(symbols: Sequence[str], actions: Sequence[int]) -> str:
    """'NVDA:buy,MSFT:hold' (the ledger's action column)."""
    return ",".join(f"{s}:{ACTION_NAMES[a]}" for s, a in zip(symbols, actions, strict=True))
