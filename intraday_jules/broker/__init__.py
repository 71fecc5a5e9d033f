"""Brokers behind one protocol: ``Broker`` (base) and ``SimulatedBroker`` (the env's execution
model, durable journal). The Interactive Brokers broker implements the same protocol in
``adapters.ibkr.execution`` (only adapters talk to vendors). See docs/trading.md.
"""

from intraday_jules.broker.base import (
    Broker,
    BrokerError,
    BrokerEvent,
    CancelRejected,
    CancelResult,
    ConnectionChanged,
    ConnectionState,
    FillReport,
    JournaledBroker,
    MarketDrivenBroker,
    OpenOrder,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    SubmitResult,
)
from intraday_jules.broker.journal import Journal
from intraday_jules.broker.simulated import SimulatedBroker

__all__ = [
    "Broker",
    "BrokerError",
    "BrokerEvent",
    "CancelRejected",
    "CancelResult",
    "ConnectionChanged",
    "ConnectionState",
    "FillReport",
    "Journal",
    "JournaledBroker",
    "MarketDrivenBroker",
    "OpenOrder",
    "OrderAccepted",
    "OrderCancelled",
    "OrderRejected",
    "SimulatedBroker",
    "SubmitResult",
]
