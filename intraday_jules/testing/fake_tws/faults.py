"""Scripted faults: what the fake gateway does wrong, and when.

Tests (and users' own chaos tests) arm faults from any thread; the gateway consumes them as
requests arrive. Every fault is counted ("the next N historical requests ..."), so a script
reads as a sequence: ``faults.pacing_violations(2)`` means two refusals, then normal answers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum


class HistoricalAction(StrEnum):
    """How the gateway treats one incoming ``reqHistoricalData``."""

    ANSWER = "answer"
    DROP = "drop"  # close the socket without answering
    PACING = "pacing"  # error 162, pacing violation
    NO_DATA = "no_data"  # error 162, HMDS query returned no data
    STALL = "stall"  # never answer
    CONNECTIVITY_LOSS = "connectivity_loss"  # 1100, hold the request, restore later


class BarCorruption(StrEnum):
    """Ways to damage the bars of one historical answer (bad vendor payloads)."""

    HIGH_BELOW_LOW = "high_below_low"
    NEGATIVE_PRICE = "negative_price"
    NEGATIVE_VOLUME = "negative_volume"
    UNALIGNED_TS = "unaligned_ts"  # a bar stamped 17 s past the minute
    DUPLICATE_TS = "duplicate_ts"
    LOCAL_TIME_FORMAT = "local_time_format"  # 'YYYYmmdd HH:MM:SS' (no zone) despite formatDate=2
    TRUNCATED = "truncated"  # only the first half of the bars


@dataclass(frozen=True, slots=True)
class ConnectivityLoss:
    """Send 1100, then after ``restore_after_s`` send ``restore_code`` (1101 or 1102).

    With 1102 (data maintained) held requests are answered on restore; with 1101 (data lost)
    they are discarded and live subscriptions are dropped, as IB documents.
    """

    restore_code: int = 1102
    restore_after_s: float | None = 0.2


@dataclass(slots=True)
class HistoricalDecision:
    action: HistoricalAction
    corruption: BarCorruption | None = None
    connectivity: ConnectivityLoss | None = None


class FaultScript:
    """Thread-safe, counted faults consumed by the gateway."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._drop_after: int | None = None
        self._counts: dict[HistoricalAction, int] = {}
        self._corruptions: list[BarCorruption] = []
        self._connectivity: list[ConnectivityLoss] = []
        self._ids_in_use: set[int] = set()

    def drop_after_historical(self, answered: int) -> None:
        """Answer ``answered`` more historical requests, then drop the socket on the next one."""
        with self._lock:
            self._drop_after = answered

    def pacing_violations(self, count: int) -> None:
        """Refuse the next ``count`` historical requests with error 162 (pacing violation)."""
        self._arm(HistoricalAction.PACING, count)

    def no_data(self, count: int = 1) -> None:
        """Answer the next ``count`` historical requests with 162 'query returned no data'."""
        self._arm(HistoricalAction.NO_DATA, count)

    def stall_historical(self, count: int = 1) -> None:
        """Swallow the next ``count`` historical requests: no answer, no error."""
        self._arm(HistoricalAction.STALL, count)

    def corrupt_bars(self, kind: BarCorruption, count: int = 1) -> None:
        """Damage the bars of the next ``count`` answered historical requests."""
        with self._lock:
            self._corruptions.extend([kind] * count)

    def lose_connectivity_on_historical(self, loss: ConnectivityLoss | None = None) -> None:
        """On the next historical request: send 1100, hold it, restore as ``loss`` says."""
        with self._lock:
            self._connectivity.append(loss or ConnectivityLoss())

    def client_id_in_use(self, client_id: int) -> None:
        """Refuse connections with this client id with error 326, as if another app held it."""
        with self._lock:
            self._ids_in_use.add(client_id)

    def release_client_id(self, client_id: int) -> None:
        with self._lock:
            self._ids_in_use.discard(client_id)

    def is_client_id_in_use(self, client_id: int) -> bool:
        with self._lock:
            return client_id in self._ids_in_use

    def clear(self) -> None:
        """Disarm everything."""
        with self._lock:
            self._drop_after = None
            self._counts.clear()
            self._corruptions.clear()
            self._connectivity.clear()
            self._ids_in_use.clear()

    def next_historical(self) -> HistoricalDecision:
        """Consume the fault (if any) for one incoming historical request."""
        with self._lock:
            if self._drop_after is not None:
                if self._drop_after == 0:
                    self._drop_after = None
                    return HistoricalDecision(HistoricalAction.DROP)
                self._drop_after -= 1
            if self._connectivity:
                loss = self._connectivity.pop(0)
                return HistoricalDecision(HistoricalAction.CONNECTIVITY_LOSS, connectivity=loss)
            for action in (HistoricalAction.PACING, HistoricalAction.NO_DATA,
                           HistoricalAction.STALL):
                if self._counts.get(action, 0) > 0:
                    self._counts[action] -= 1
                    return HistoricalDecision(action)
            corruption = self._corruptions.pop(0) if self._corruptions else None
            return HistoricalDecision(HistoricalAction.ANSWER, corruption=corruption)

    def _arm(self, action: HistoricalAction, count: int) -> None:
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        with self._lock:
            self._counts[action] = self._counts.get(action, 0) + count
