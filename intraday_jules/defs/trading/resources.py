"""Trading's resources, configured from Settings: the ledger, the risk engine and the broker
(the bar store, market data and model store are bound by the slices that own them)."""

from intraday_jules.defs.common.resources import (
    broker_resource,
    ledger_resource,
    risk_engine_resource,
)
from intraday_jules.settings import Settings


def trading_resources(settings: Settings) -> dict[str, object]:
    return {"ledger": ledger_resource(settings),
            "risk_engine": risk_engine_resource(settings),
            "broker": broker_resource(settings)}
