"""Interactive Brokers market data through ``ib_async`` (the maintained fork of ib_insync).

Split like NautilusTrader's adapters: ``client`` mirrors the vendor API (connection, errors,
connectivity), ``parsing`` converts IB bars to ours, ``pacing`` keeps within IB's
historical-data limits, and ``source`` / ``backfill`` / ``streaming`` are what the rest of
the system calls. See ``docs/ibkr.md``.
"""

from intraday_jules.adapters.ibkr.client import IbkrClient
from intraday_jules.adapters.ibkr.config import Backoff, IbkrConfig
from intraday_jules.adapters.ibkr.data.backfill import BackfillReport, plan_backfill
from intraday_jules.adapters.ibkr.data.historical import IbkrSource
from intraday_jules.adapters.ibkr.data.minutes import MinuteAggregator
from intraday_jules.adapters.ibkr.data.streaming import LiveBarStream, StreamMode
from intraday_jules.adapters.ibkr.errors import (
    ERROR_TABLE,
    ErrorKind,
    IbkrClientIdInUse,
    IbkrConnectError,
    IbkrConnectionLost,
    IbkrConnectivityLost,
    IbkrError,
    IbkrNotConnected,
    IbkrRequestError,
    IbkrTimeout,
    classify,
)
from intraday_jules.adapters.ibkr.pacing import PacedRequest, PacingLimiter, PacingRules

__all__ = [
    "ERROR_TABLE",
    "BackfillReport",
    "Backoff",
    "ErrorKind",
    "IbkrClient",
    "IbkrClientIdInUse",
    "IbkrConfig",
    "IbkrConnectError",
    "IbkrConnectionLost",
    "IbkrConnectivityLost",
    "IbkrError",
    "IbkrNotConnected",
    "IbkrRequestError",
    "IbkrSource",
    "IbkrTimeout",
    "LiveBarStream",
    "MinuteAggregator",
    "PacedRequest",
    "PacingLimiter",
    "PacingRules",
    "StreamMode",
    "classify",
    "plan_backfill",
]
