"""Trading states, risk events and where they are kept (the ``RiskStore`` protocol).

States only escalate on their own: ACTIVE -> REDUCING (only risk-reducing orders) -> HALTED
(only the engine's flattening orders, then nothing but cancels). Going back down takes an
explicit, recorded reset. Every state change is a new ``StateRecord`` (history is kept) and
every denial, breach or reset is a ``RiskEvent``: facts to be recorded, never exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from intraday_jules.domain.calendar import session_date_of
from intraday_jules.domain.clock import as_utc

JsonScalar = str | int | bool | None


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"

    @property
    def severity(self) -> int:
        """0, 1, 2: a state only ever moves to a higher severity unless reset."""
        return (TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED).index(self)


class RiskEventKind(StrEnum):
    ORDER_DENIED = "ORDER_DENIED"
    ORDER_RESIZED = "ORDER_RESIZED"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    DRAWDOWN_LIMIT = "DRAWDOWN_LIMIT"
    RECONCILE_MISMATCH = "RECONCILE_MISMATCH"
    DATA_QUALITY_FAILED = "DATA_QUALITY_FAILED"
    STALE_DATA = "STALE_DATA"
    BAD_BAR = "BAD_BAR"  # out of order, duplicate, stale or implausible (bad tick) bar
    UNKNOWN_BROKER_MESSAGE = "UNKNOWN_BROKER_MESSAGE"
    MODEL_LOAD_FAILED = "MODEL_LOAD_FAILED"
    MANUAL_HALT = "MANUAL_HALT"
    LOOP_CRASHED = "LOOP_CRASHED"  # an unexpected exception in the session loop (flattened)
    REDUCING_EXPIRED = "REDUCING_EXPIRED"
    RESET = "RESET"


@dataclass(frozen=True, slots=True)
class StateRecord:
    """The trading state from ``ts`` on, why, and which kind of event put it there."""

    state: TradingState
    reason: str
    ts: datetime
    kind: RiskEventKind = RiskEventKind.RESET

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", TradingState(self.state))
        object.__setattr__(self, "kind", RiskEventKind(self.kind))
        object.__setattr__(self, "ts", as_utc(self.ts, "risk record ts"))

    @property
    def session(self) -> date:
        return session_date_of(self.ts)


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """Something the risk engine decided or noticed; ``state`` is the state after it."""

    ts: datetime
    kind: RiskEventKind
    state: TradingState
    reason: str
    symbol: str | None = None
    detail: Mapping[str, JsonScalar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", as_utc(self.ts, "risk record ts"))
        object.__setattr__(self, "kind", RiskEventKind(self.kind))
        object.__setattr__(self, "state", TradingState(self.state))
        object.__setattr__(self, "detail", MappingProxyType(dict(self.detail)))

    @property
    def session(self) -> date:
        return session_date_of(self.ts)


def effective_state(saved: StateRecord | None, now: datetime) -> StateRecord:
    """The state in force at ``now``: REDUCING lasts only for the session it started in.

    REDUCING answers a condition of the day (stale data, a failed check, a broken model);
    the next session starts from ACTIVE and meets its own checks. HALTED never expires.
    """
    if saved is None:
        return StateRecord(TradingState.ACTIVE, "no state recorded yet", now)
    if saved.state is TradingState.REDUCING and saved.session != session_date_of(now):
        return StateRecord(TradingState.ACTIVE, f"REDUCING of session {saved.session} expired "
                           "at the session's end", now, RiskEventKind.REDUCING_EXPIRED)
    return saved


class RiskStore(Protocol):
    """Where the engine keeps its latched state and events (the ledger implements it)."""

    def load_trading_state(self) -> StateRecord | None:
        """The latest recorded state, or None if none was ever recorded."""
        ...

    def save_trading_state(self, record: StateRecord) -> None:
        """Append ``record`` (never overwrite: the history is kept)."""
        ...

    def record_risk_event(self, event: RiskEvent) -> None:
        """Append ``event``."""
        ...


class MemoryRiskStore:
    """A ``RiskStore`` in memory: for tests and dry runs that need no restart safety."""

    def __init__(self) -> None:
        self.states: list[StateRecord] = []
        self.events: list[RiskEvent] = []

    def load_trading_state(self) -> StateRecord | None:
        return self.states[-1] if self.states else None

    def save_trading_state(self, record: StateRecord) -> None:
        self.states.append(record)

    def record_risk_event(self, event: RiskEvent) -> None:
        self.events.append(event)
