"""The fake gateway's 'now' and its live subscriptions (real-time bars, keepUpToDate bars).

Live time does not follow the wall clock: a test moves it with ``advance(to)``, and the feed
sends, for every 5-second step, one real-time bar per ``reqRealTimeBars`` subscription and one
updated (possibly still forming) minute bar per ``keepUpToDate`` subscription, both derived
from the replay file. While IB connectivity is lost (after 1100) live messages are held back:
restoring with 1102 (data maintained) delivers them, restoring with 1101 (data lost) discards
them and cancels every subscription, so the client has to resubscribe and backfill.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from intraday_jules.testing.fake_tws import outgoing
from intraday_jules.testing.fake_tws.outgoing import Fields
from intraday_jules.testing.fake_tws.replay import (
    FIVE_SECONDS,
    ReplayBar,
    ReplayBars,
    aggregate,
    five_second_steps,
    minute_of,
    split_minute,
)

Send = Callable[[Fields], None]


class SubscriptionKind(StrEnum):
    REAL_TIME_BARS = "real_time_bars"
    KEEP_UP_TO_DATE = "keep_up_to_date"


@dataclass(slots=True)
class Subscription:
    session_id: int
    req_id: int
    symbol: str
    kind: SubscriptionKind
    use_rth: bool
    send: Send


@dataclass(slots=True)
class LiveFeed:
    """Live time, live subscriptions and the held-back messages of an outage."""

    replay: ReplayBars
    now: datetime
    connected_to_ib: bool = True
    subscriptions: dict[tuple[int, int], Subscription] = field(default_factory=dict)
    _held: list[tuple[Send, Fields]] = field(default_factory=list)

    def subscribe(self, sub: Subscription) -> None:
        self.subscriptions[(sub.session_id, sub.req_id)] = sub

    def unsubscribe(self, session_id: int, req_id: int) -> None:
        self.subscriptions.pop((session_id, req_id), None)

    def drop_session(self, session_id: int) -> None:
        for key in [k for k in self.subscriptions if k[0] == session_id]:
            del self.subscriptions[key]

    def advance(self, to: datetime) -> int:
        """Move live time forward to ``to``; returns the number of live messages produced."""
        if to < self.now:
            raise ValueError(f"live time only moves forward: {to} < {self.now}")
        produced = 0
        for step in five_second_steps(self.now, to):
            bucket_start = step - timedelta(seconds=FIVE_SECONDS)
            for sub in list(self.subscriptions.values()):
                message = self._message_for(sub, bucket_start)
                if message is not None:
                    self._deliver(sub.send, message)
                    produced += 1
        self.now = to
        return produced

    def lose_connectivity(self) -> None:
        self.connected_to_ib = False

    def restore(self, data_lost: bool) -> None:
        """End an outage: 1101 discards held messages and subscriptions, 1102 delivers them."""
        self.connected_to_ib = True
        held, self._held = self._held, []
        if data_lost:
            self.subscriptions.clear()
            return
        for send, message in held:
            send(message)

    def current_partial(self, symbol: str, use_rth: bool) -> ReplayBar | None:
        """The forming bar of the current minute (what keepUpToDate shows as the last bar)."""
        minute = minute_of(self.now)
        if minute == self.now:
            return None
        bar = self._replay_bar(symbol, minute, use_rth)
        if bar is None:
            return None
        done = int((self.now - minute).total_seconds()) // FIVE_SECONDS
        return aggregate(split_minute(bar)[:done], bar.start) if done else None

    def _message_for(self, sub: Subscription, bucket_start: datetime) -> Fields | None:
        minute = minute_of(bucket_start)
        bar = self._replay_bar(sub.symbol, minute, sub.use_rth)
        if bar is None:
            return None
        parts = split_minute(bar)
        k = int((bucket_start - minute).total_seconds()) // FIVE_SECONDS
        if sub.kind is SubscriptionKind.REAL_TIME_BARS:
            return outgoing.real_time_bar(sub.req_id, parts[k])
        return outgoing.historical_data_update(sub.req_id, aggregate(parts[:k + 1], bar.start))

    def _replay_bar(self, symbol: str, minute: datetime, use_rth: bool) -> ReplayBar | None:
        if use_rth and not self.replay.is_rth(minute):
            return None
        return self.replay.bar_at(symbol, minute)

    def _deliver(self, send: Send, message: Fields) -> None:
        if self.connected_to_ib:
            send(message)
        else:
            self._held.append((send, message))
