"""Interactive Brokers execution: ``IbkrBroker`` (the ``Broker`` protocol), its order index
and the live-trading guard."""

from intraday_jules.adapters.ibkr.execution.broker import IbkrBroker
from intraday_jules.adapters.ibkr.execution.guard import LiveTradingRefused

__all__ = ["IbkrBroker", "LiveTradingRefused"]
