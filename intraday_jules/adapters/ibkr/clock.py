"""``GatewayClock``: the IB gateway's time (``reqCurrentTime``) as a trading session's clock.

For a session traded against a gateway whose time is not the wall clock's (the fake TWS
replaying a recorded day: ``intraday-jules trade --broker ibkr --clock gateway``), or to follow
TWS's time rather than the local clock. The live feed already takes its first minute from the
gateway's clock; with this one, the loop's stale-data checks, its end of session and its event
times follow the same time line.

Each reading asks the gateway (a loopback round trip; the loop reads its clock a few times a
minute and per heartbeat), unless ``refresh_s`` allows running on the monotonic clock since
the last answer; it never goes backwards. TWS answers in whole seconds, so latencies measured
on this clock are coarse: against a real gateway, trade on the wall clock. When the gateway
cannot answer, the clock runs on from its last answer (the loop still sees time pass) and
asks again at the next reading.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from intraday_jules.adapters.ibkr.client import IbkrClient
from intraday_jules.adapters.ibkr.config import IbkrConfig
from intraday_jules.adapters.ibkr.errors import IbkrError

log = logging.getLogger(__name__)


class GatewayClock:
    """UTC 'now' by the gateway; call ``start`` (connects, reads once) before reading it.

    config: the clock's own connection (``IbkrConfig.for_role(base, ClientRole.CLOCK)``).
    refresh_s: how long the clock may run on the monotonic clock before asking again (0: ask
        on every reading, so a gateway whose time jumps is followed exactly).
    """

    def __init__(self, config: IbkrConfig, *, refresh_s: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if refresh_s < 0:
            raise ValueError(f"refresh_s must be >= 0, got {refresh_s}")
        self.config, self.refresh_s, self._monotonic = config, refresh_s, monotonic
        self._client = IbkrClient(config)
        self._lock = threading.Lock()
        self._anchor: datetime | None = None  # the gateway's last answer ...
        self._anchor_at = 0.0  # ... and when (monotonic) it came
        self._asked_at = 0.0
        self._last: datetime | None = None

    def start(self) -> datetime:
        """Connect and read the gateway's time; IbkrConnectError / IbkrError when it cannot
        be reached or does not answer (nothing has been sent anywhere yet)."""
        with self._lock:
            self._client.connect()
            self._ask(self._monotonic())
            return self._read(self._monotonic())

    def __call__(self) -> datetime:
        with self._lock:
            if self._anchor is None:
                raise RuntimeError("GatewayClock: call start() before reading the time")
            now = self._monotonic()
            if now - self._asked_at >= self.refresh_s:
                try:
                    self._ask(now)
                except IbkrError as exc:  # run on from the last answer; ask again later
                    log.warning("gateway clock %s: %s; running on from its last answer",
                                self.config.endpoint, exc)
            return self._read(now)

    def close(self) -> None:
        self._client.close()

    def _ask(self, now: float) -> None:
        self._asked_at = now
        if not self._client.is_connected:
            self._client.connect()
        self._anchor = self._client.server_time()
        self._anchor_at = self._monotonic()

    def _read(self, now: float) -> datetime:
        assert self._anchor is not None  # start() got an answer
        current = self._anchor + timedelta(seconds=max(now - self._anchor_at, 0.0))
        self._last = current if self._last is None else max(self._last, current)
        return self._last
