"""Session reconciliation: the broker's positions against the ledger's, before the open.

A mismatch latches HALTED through the risk engine, which records the difference; the caller
(the reconcile job) only reports the outcome.
"""

from __future__ import annotations

from intraday_jules.domain.clock import system_clock
from intraday_jules.pipelines.trading import BrokerFactory, LedgerFactory, RiskFactory
from intraday_jules.pipelines.trading_parts import close_broker


def reconcile_configured_broker(ledger: LedgerFactory, risk: RiskFactory,
                                broker: BrokerFactory) -> dict[str, object]:
    """Broker positions vs the ledger's; a mismatch latches HALTED (recorded)."""
    built = broker.build(system_clock)
    opened = ledger.open()
    try:
        built.connect()
        result = opened.reconcile(built.positions())
        state = risk.build(opened, system_clock).on_reconciliation(result)
        return {"matches": result.matches, "detail": result.describe(), "state": state.value}
    finally:
        close_broker(built)
        opened.engine.dispose()
