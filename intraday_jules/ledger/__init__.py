"""The append-only trading ledger: decisions, orders, fills, risk events, trading state.

Positions derive from fills; money is exact on SQLite and PostgreSQL. See
docs/risk_and_ledger.md.
"""

from intraday_jules.ledger.ledger import Ledger
from intraday_jules.ledger.records import (
    DecisionRecord,
    LedgerConflict,
    LedgerError,
    PositionDifference,
    Reconciliation,
    UnknownOrder,
)
from intraday_jules.ledger.report import session_ledger
from intraday_jules.ledger.session_policies import SessionPolicy

__all__ = [
    "DecisionRecord",
    "Ledger",
    "LedgerConflict",
    "LedgerError",
    "PositionDifference",
    "Reconciliation",
    "SessionPolicy",
    "UnknownOrder",
    "session_ledger",
]
