"""Child process of the crash test: a replay that SIGKILLs itself at a chosen point.

    python -m intraday_jules_tests.trading.crash_child DB_URL JOURNAL REPLAY_FILE KILL

KILL is ``submit:N`` (die right after the N-th order reached the broker, before the loop
records anything more), ``fill:N`` (die when the N-th fill leaves the broker, after the
broker journaled it and before the ledger records it) or ``none`` (run to the end).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from intraday_jules.broker import BrokerEvent, FillReport, SimulatedBroker, SubmitResult
from intraday_jules.domain.orders import Order
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.trading import Collaborators, SessionConfig, build_replay_session
from intraday_jules_tests.trading.conftest import SESSION, minute

UNTIL = minute(90)  # 11:00 ET
SEED = 3


class KillingBroker(SimulatedBroker):
    """The real simulated broker, killed (SIGKILL, no clean-up) at the chosen point."""

    def __init__(self, kill: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        what, _, count = kill.partition(":")
        self.what, self.count, self.seen = what, int(count or 0), 0

    def submit(self, order: Order) -> SubmitResult:
        result = super().submit(order)
        self._maybe_die("submit", 1)
        return result

    def poll_events(self) -> list[BrokerEvent]:
        events = super().poll_events()
        self._maybe_die("fill", sum(isinstance(e, FillReport) for e in events))
        return events

    def _maybe_die(self, what: str, n: int) -> None:
        if what == self.what and n:
            self.seen += n
            if self.seen >= self.count:
                os.kill(os.getpid(), signal.SIGKILL)


def main(url: str, journal: str, replay_file: str, kill: str) -> None:
    session = build_replay_session(
        SessionConfig(SESSION), database_url=url, source=ReplaySource(replay_file),
        policy="random", seed=SEED, until=UNTIL, broker=KillingBroker(kill, journal=journal),
        extras=Collaborators(report=False))
    result = session.run()
    print(result.summary_line())


if __name__ == "__main__":
    main(*sys.argv[1:5])
