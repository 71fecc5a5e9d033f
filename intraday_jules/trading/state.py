"""``SessionState``: what one run of a session changes as it goes (book, orders, counters).

Everything that must survive a crash lives in the ledger, the bar store or the broker; the
state only caches what can be rebuilt from them (book, open orders, the session's bars), which
is what recovery (``recovery.py``) does after a restart. The collaborators the steps use are
``SessionParts`` (``context.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from intraday_jules.domain.orders import Fill, Order
from intraday_jules.domain.portfolio import Book
from intraday_jules.trading.config import SessionConfig
from intraday_jules.trading.observe import SessionBars


@dataclass(slots=True)
class Working:
    """An order sent and not finished, with what has filled so far."""

    order: Order
    filled: int = 0

    @property
    def signed_remaining(self) -> int:
        return self.order.side.sign * (self.order.quantity - self.filled)


@dataclass(slots=True)
class SessionState:
    """One run's mutable state, rebuilt by recovery on every (re)start.

    Written by: recovery (everything, at start), ``step.process_minute`` (book, bars, counters,
    latencies), ``execution`` (working orders, exec ids, the broker's link and positions) and
    ``session`` (stale data, bad inputs). ``publish`` and ``result`` only read it.
    """

    book: Book = field(default_factory=lambda: Book(Decimal(0)))
    start_equity_known: bool = False
    working: dict[str, Working] = field(default_factory=dict)
    bars: SessionBars = field(default_factory=SessionBars)
    exec_ids: set[str] = field(default_factory=set)
    realized_base: Decimal = Decimal(0)
    broker_up: bool = False
    needs_reconcile: bool = False
    minutes_done: int = 0
    last_minute: datetime | None = None
    decisions: int = 0
    deferred_fills: list[Fill] = field(default_factory=list)
    # booked before the minute's orders went out, written to the ledger right after them
    # (``execution.record_deferred_fills``); empty between minutes
    unrecorded_fills: list[Fill] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    bad_inputs: int = 0
    stale: bool = False
    warmup_minutes: int = 0
    restarted: bool = False
    # What the broker holds: its positions at the last reconciliation plus every fill recorded
    # since (None until the first reconciliation). After a mismatch it differs from the
    # ledger's book; risk checks and flattening go by it, since it is what is really held.
    broker_positions: dict[str, int] | None = None

    def pending(self) -> dict[str, int]:
        """Signed unfilled shares of working orders per symbol (``Book.pending``)."""
        result: dict[str, int] = {}
        for working in self.working.values():
            symbol = working.order.symbol
            result[symbol] = result.get(symbol, 0) + working.signed_remaining
        return {s: q for s, q in result.items() if q}

    def exposure(self, symbol: str) -> int:
        """Shares held once open orders fill: the broker's position when known, else the book's."""
        if self.broker_positions is None:
            return self.book.exposure(symbol)
        return self.broker_positions.get(symbol, 0) + self.book.pending.get(symbol, 0)

    def broker_fill(self, fill: Fill) -> None:
        """A fill the broker made: its position moves at once (the book moves per minute)."""
        if self.broker_positions is not None:
            held = self.broker_positions.get(fill.symbol, 0) + fill.signed_quantity
            self.broker_positions[fill.symbol] = held
            if not held:
                del self.broker_positions[fill.symbol]

    def event_ts(self, config: SessionConfig) -> datetime:
        """A timestamp inside the session for events not tied to a bar (start, restart)."""
        if self.last_minute is not None:
            return self.last_minute
        return config.window.open
