"""Risk outside the policy: limits, pre-trade checks, the latched trading state.

``RiskEngine.evaluate(intent, book)`` returns ``Approved`` (possibly shrunk to fit) or
``Denied(reason)``; denials are recorded ``RiskEvent``s, never exceptions. See
docs/risk_and_ledger.md.
"""

from intraday_jules.domain.risk_state import (
    MemoryRiskStore,
    RiskEvent,
    RiskEventKind,
    RiskStore,
    StateRecord,
    TradingState,
    effective_state,
)
from intraday_jules.risk.checks import CHECKS, Approved, CheckContext, Denied, Verdict, run_checks
from intraday_jules.risk.engine import RiskEngine
from intraday_jules.risk.limits import RiskLimits

__all__ = [
    "CHECKS",
    "Approved",
    "CheckContext",
    "Denied",
    "MemoryRiskStore",
    "RiskEngine",
    "RiskEvent",
    "RiskEventKind",
    "RiskLimits",
    "RiskStore",
    "StateRecord",
    "TradingState",
    "Verdict",
    "effective_state",
    "run_checks",
]
