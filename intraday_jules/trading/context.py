"""The session's collaborators (as small protocols) and its mutable in-process state.

Everything that must survive a crash lives in the ledger, the bar store or the broker; the
``SessionContext`` only caches what can be rebuilt from them (book, open orders, the session's
bars), which is what recovery does after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from intraday_jules.broker.base import Broker
from intraday_jules.domain.orders import Fill, Order
from intraday_jules.domain.portfolio import Book
from intraday_jules.env.actions import PositionRules
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.store import BarStore
from intraday_jules.risk import RiskEngine
from intraday_jules.trading.clock import Clock
from intraday_jules.trading.config import SessionConfig
from intraday_jules.trading.intake import Minute
from intraday_jules.trading.observe import SessionBars
from intraday_jules.trading.policies import Policy

Number = float | int | Decimal


class Log(Protocol):
    """A logger (``logging.Logger`` or Dagster's ``context.log``)."""

    def info(self, msg: str, *args: Any) -> None: ...

    def warning(self, msg: str, *args: Any) -> None: ...

    def error(self, msg: str, *args: Any) -> None: ...


class MetricsSink(Protocol):
    """What the loop reports (``observability.metrics.TradingMetrics`` satisfies it)."""

    def observe_bar(self, symbol: str, source: str, ts: datetime) -> float: ...

    def record_decision_latency(self, seconds: float) -> None: ...

    def update_portfolio(self, *, cash: Number, value: Number,
                         positions: Mapping[str, tuple[Number, Number]], realized: Number,
                         unrealized: Number, drawdown: Number, drawdown_limit: Number,
                         daily_pnl: Number | None = None,
                         daily_loss_limit: Number | None = None) -> None: ...

    def set_risk_state(self, state: str) -> None: ...

    def count_trade(self, symbol: str, side: str, n: int = 1) -> None: ...

    def count_action(self, symbol: str, action: str) -> None: ...

    def set_broker_connected(self, connected: bool) -> None: ...

    def set_run_failed(self, failed: bool) -> None: ...

    def push(self, gateway_url: str, job: str,
             grouping_key: Mapping[str, str] | None = None) -> bool: ...


class QualityGate(Protocol):
    """The blocking data-quality verdict for a minute: a reason if trading must reduce."""

    def blocking_failure(self, minute: Minute) -> str | None: ...


class NoQualityGate:
    """No external data-quality verdict (the intake's own checks still apply)."""

    def blocking_failure(self, minute: Minute) -> str | None:
        return None


@dataclass(slots=True)
class Working:
    """An order sent and not finished, with what has filled so far."""

    order: Order
    filled: int = 0

    @property
    def signed_remaining(self) -> int:
        return self.order.side.sign * (self.order.quantity - self.filled)


@dataclass(slots=True)
class SessionContext:
    """One running session: collaborators plus the state rebuilt on every (re)start."""

    config: SessionConfig
    ledger: Ledger
    risk: RiskEngine
    broker: Broker
    policy: Policy
    store: BarStore
    metrics: MetricsSink
    clock: Clock
    log: Log
    gate: QualityGate
    source: str
    rules: PositionRules
    push_url: str | None = None
    push_group: dict[str, str] = field(default_factory=dict)
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

    def state_ts(self) -> datetime:
        """A timestamp inside the session for events not tied to a bar (start, restart)."""
        if self.last_minute is not None:
            return self.last_minute
        return self.config.window.open
