"""Brokers behind one protocol: ``Broker`` (base), ``SimulatedBroker`` (the env's execution
model, durable journal) and ``IbkrBroker`` (Interactive Brokers through ib_async; paper by
default, live only with ``allow_live=True`` and a matching account, else ``LiveTradingRefused``).

Imports ``domain``, ``env.execution_model`` and, for IB, ``market_data.ibkr``'s client. See
docs/trading.md.
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
    "MarketDrivenBroker",
    "OpenOrder",
    "OrderAccepted",
    "OrderCancelled",
    "OrderRejected",
    "SimulatedBroker",
    "SubmitResult",
]
