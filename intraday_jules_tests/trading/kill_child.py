"""Child process of the kill tests: a replay that SIGKILLs itself at a chosen ledger write.

    python -m intraday_jules_tests.trading.kill_child DB_URL JOURNAL REPLAY_FILE POLICY UNTIL KILL

UNTIL: the minute index (0 = 09:30 ET) the replay stops at, ``-`` for the whole session.
KILL: ``step:N`` dies right after the N-th step (every ledger write and every order handed
to the broker is one step, counted from 1), ``decisions:N`` right after the N-th decision
was recorded, ``trace:FILE`` runs to the end and writes one line per step to FILE
(``N kind what``), ``none`` runs to the end. The kill is ``os.kill(getpid(), SIGKILL)``: no
clean-up, no ``finally``, exactly what an operator's ``kill -9`` does. The wrappers are of our
own interfaces (``Ledger``, ``SimulatedBroker``); the database and the broker journal are real.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from intraday_jules.broker import SimulatedBroker, SubmitResult
from intraday_jules.domain.orders import Fill, Order, OrderStatus
from intraday_jules.ledger import DecisionRecord, Ledger
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.risk import RiskEngine, RiskEvent, RiskLimits, StateRecord
from intraday_jules.trading import Collaborators, SessionConfig, build_replay_session
from intraday_jules_tests.trading.conftest import SESSION, minute

SEED = 2  # the random policy decides two orders on some minutes of 09:30-10:30


class Steps:
    """Counts steps; kills the process after the chosen one, or traces every step."""

    def __init__(self, kill: str) -> None:
        what, _, arg = kill.partition(":")
        self.what, self.arg = what, arg
        self.count = 0
        self.decisions = 0
        self.lines: list[str] = []

    def step(self, kind: str, detail: str) -> None:
        self.count += 1
        if kind == "decision":
            self.decisions += 1
        if self.what == "trace":
            self.lines.append(f"{self.count} {kind} {detail}")
            return
        at_step = self.what == "step" and self.count == int(self.arg)
        at_decision = (self.what == "decisions" and kind == "decision"
                       and self.decisions == int(self.arg))
        if at_step or at_decision:
            os.kill(os.getpid(), signal.SIGKILL)

    def finish(self) -> None:
        if self.what == "trace":
            Path(self.arg).write_text("\n".join(self.lines) + "\n", encoding="utf-8")


class CountingLedger(Ledger):
    """The real ledger; every write is a step (the kill lands right after it committed)."""

    steps: Steps

    def record_decision_with_orders(self, decision: DecisionRecord,
                                    new_orders: Sequence[Order]) -> list[Order]:
        written = super().record_decision_with_orders(decision, new_orders)
        orders = ",".join(o.client_order_id for o in new_orders)
        self.steps.step("decision", f"{decision.ts.isoformat()} {orders or '-'}")
        return written

    def record_order_statuses(self, statuses: Sequence[tuple[str, OrderStatus, datetime, str]]
                              ) -> None:
        super().record_order_statuses(statuses)
        if statuses:
            self.steps.step("statuses", ",".join(f"{c}={s}" for c, s, _, _ in statuses))

    def record_order_status(self, client_order_id: str, status: OrderStatus, ts: datetime,
                            reason: str = "") -> None:
        super().record_order_status(client_order_id, status, ts, reason)
        self.steps.step("status", f"{client_order_id}={status}")

    def record_fill(self, fill: Fill) -> Fill:
        recorded = super().record_fill(fill)
        self.steps.step("fill", fill.exec_id)
        return recorded

    def record_risk_event(self, event: RiskEvent) -> None:
        super().record_risk_event(event)
        self.steps.step("risk_event", f"{event.kind}")

    def save_trading_state(self, record: StateRecord) -> None:
        super().save_trading_state(record)
        self.steps.step("state", f"{record.state}")


class CountingBroker(SimulatedBroker):
    """The real simulated broker; handing it an order is a step."""

    def __init__(self, steps: Steps, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.steps = steps

    def submit(self, order: Order) -> SubmitResult:
        result = super().submit(order)
        self.steps.step("submit", order.client_order_id)
        return result


def main(url: str, journal: str, replay_file: str, policy: str, until: str,
         kill: str) -> None:
    steps = Steps(kill)
    config = SessionConfig(SESSION)
    session = build_replay_session(
        config, database_url=url, source=ReplaySource(replay_file), policy=policy, seed=SEED,
        until=None if until == "-" else minute(int(until)),
        extras=Collaborators(report=False))
    ledger = CountingLedger(session.ledger.engine)
    ledger.steps = steps
    session.ledger = ledger
    session.risk = RiskEngine(RiskLimits(), ledger, clock=session.clock)
    session.broker = CountingBroker(steps, journal=journal, clock=session.clock,
                                    execution_model=session.broker.model  # type: ignore[attr-defined]
                                    )
    result = session.run()
    steps.finish()
    print(result.summary_line())


if __name__ == "__main__":
    main(*sys.argv[1:7])
