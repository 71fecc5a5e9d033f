"""What the ledger stores besides domain messages: decisions, reconciliation results, errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from intraday_jules.domain.calendar import session_date_of


class LedgerError(RuntimeError):
    """The ledger refused a write; nothing of it was written."""


class UnknownOrder(LedgerError):
    """A fill or status for a client order id the ledger never recorded (never sent by us)."""


class LedgerConflict(LedgerError):
    """A write contradicts a recorded fact (same exec_id, other content; an overfill; ...)."""


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"decision detail holds {type(value).__name__}, which is not JSON")


def json_safe(detail: Mapping[str, Any]) -> dict[str, Any]:
    """A plain-JSON copy of ``detail`` (Decimals as exact strings, datetimes ISO UTC)."""
    # allow_nan=False: NaN is not JSON and PostgreSQL's JSONB would refuse it later
    result: dict[str, Any] = json.loads(json.dumps(dict(detail), default=_json_default,
                                                   allow_nan=False))
    return result


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """What the policy decided on bar ``ts`` and the equity it saw (one per session bar).

    ``equity`` feeds the restart-safe high-water mark; ``detail`` is free JSON (action
    probabilities, intents, verdicts).
    """

    ts: datetime
    action: str
    equity: Decimal | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise ValueError(f"decision ts {self.ts.isoformat()} is naive; need tz-aware UTC")
        object.__setattr__(self, "ts", self.ts.astimezone(UTC))
        object.__setattr__(self, "detail", json_safe(self.detail))

    @property
    def session(self) -> date:
        return session_date_of(self.ts)


@dataclass(frozen=True, slots=True)
class PositionDifference:
    symbol: str
    ledger_quantity: int
    broker_quantity: int


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Ledger positions (from fills) against the broker's; any difference should halt.

    ``ledger`` and ``broker`` are both books compared (non-zero shares per symbol).
    """

    matches: bool
    differences: tuple[PositionDifference, ...] = ()
    ledger: Mapping[str, int] = field(default_factory=dict)
    broker: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def compare(cls, ledger: Mapping[str, int], broker: Mapping[str, int]) -> Reconciliation:
        symbols = sorted(set(ledger) | set(broker))
        diffs = tuple(PositionDifference(s, ledger.get(s, 0), broker.get(s, 0)) for s in symbols
                      if ledger.get(s, 0) != broker.get(s, 0))
        return cls(not diffs, diffs, {s: q for s, q in sorted(ledger.items()) if q},
                   {s: q for s, q in sorted(broker.items()) if q})

    def books(self) -> dict[str, int]:
        """Both books as flat JSON: ``{"ledger.MSFT": 2, "broker.MSFT": 0, ...}`` for every
        symbol either side holds (a risk event's detail holds scalars only)."""
        result: dict[str, int] = {}
        for symbol in sorted(set(self.ledger) | set(self.broker)):
            result[f"ledger.{symbol}"] = self.ledger.get(symbol, 0)
            result[f"broker.{symbol}"] = self.broker.get(symbol, 0)
        return result

    def describe(self) -> str:
        if self.matches:
            return "ledger positions match the broker"
        parts = [f"{d.symbol}: ledger {d.ledger_quantity}, broker {d.broker_quantity}"
                 for d in self.differences]
        return "position mismatch with the broker: " + "; ".join(parts)
