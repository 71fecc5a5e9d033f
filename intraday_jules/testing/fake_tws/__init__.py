"""A fake TWS / IB Gateway speaking the TWS API wire protocol to the real ``ib_async`` client.

Serves historical and live bars from a replay file, simulates order flow, records every request
and plays scripted faults (dropped sockets, 1100/1101/1102, pacing errors, stalls, client id in
use, unknown symbols, damaged bars). Run standalone with
``python -m intraday_jules.testing.fake_tws --replay-path FILE --port 7497``.
"""

from intraday_jules.testing.fake_tws.clock import SimulatedClock
from intraday_jules.testing.fake_tws.faults import (
    BarCorruption,
    ConnectivityLoss,
    FaultScript,
    HistoricalAction,
)
from intraday_jules.testing.fake_tws.incoming import HistoricalRequest
from intraday_jules.testing.fake_tws.orders import OrderBook, OrderReaction
from intraday_jules.testing.fake_tws.referee import PacingLimits, violation
from intraday_jules.testing.fake_tws.replay import ReplayBars
from intraday_jules.testing.fake_tws.server import FakeTws, RecordedMessage
from intraday_jules.testing.fake_tws.thread import FakeTwsThread
from intraday_jules.testing.fake_tws.wire import SERVER_VERSION, SUPPORTED_SERVER_VERSIONS

__all__ = [
    "SERVER_VERSION",
    "SUPPORTED_SERVER_VERSIONS",
    "BarCorruption",
    "ConnectivityLoss",
    "FakeTws",
    "FakeTwsThread",
    "FaultScript",
    "HistoricalAction",
    "HistoricalRequest",
    "OrderBook",
    "OrderReaction",
    "PacingLimits",
    "RecordedMessage",
    "ReplayBars",
    "SimulatedClock",
    "violation",
]
