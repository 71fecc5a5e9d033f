"""``SessionResult``: what a session did, for the CLI's JSON, the Dagster op and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from intraday_jules.broker.base import BrokerError
from intraday_jules.domain.portfolio import Book
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.trading.context import SessionParts
from intraday_jules.trading.report import SessionReport, build_session_report
from intraday_jules.trading.state import SessionState


@dataclass(frozen=True)
class SessionResult:
    """The outcome of ``run_session``.

    pnl: equity at the end minus equity at the session's first minute (after costs).
    trades: orders that (at least partly) filled; fills: executions.
    latencies_ms: decision latency per decided minute (bar close -> orders handed over).
    warmup_minutes: stored minutes replayed through the policy by a restarted run.
    open_positions: what the broker holds at the end (the ledger's book when the broker could
        not be asked); ledger_positions: the ledger's book. They differ only after a
        reconciliation mismatch (then trading is HALTED and both are reported).
    """

    session: date
    policy: str
    broker: str
    state: str
    state_reason: str
    pnl: Decimal
    end_equity: Decimal
    trades: int
    orders: int
    fills: int
    decisions: int
    risk_events: int
    bad_inputs: int
    restarted: bool
    warmup_minutes: int
    open_positions: dict[str, int]
    latencies_ms: tuple[float, ...]
    ledger: str
    report: SessionReport | None
    ledger_positions: dict[str, int] | None = None

    def latency_percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        return float(np.percentile(np.asarray(self.latencies_ms), q))

    @property
    def latency_p50_ms(self) -> float | None:
        return self.latency_percentile(50)

    @property
    def latency_p99_ms(self) -> float | None:
        return self.latency_percentile(99)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (money as exact strings)."""
        p50, p99 = self.latency_p50_ms, self.latency_p99_ms
        return {"session": self.session.isoformat(), "policy": self.policy,
                "broker": self.broker, "pnl": str(self.pnl),
                "end_equity": str(self.end_equity), "trades": self.trades,
                "orders": self.orders, "fills": self.fills, "decisions": self.decisions,
                "risk_state": self.state, "risk_state_reason": self.state_reason,
                "risk_events": self.risk_events, "bad_inputs": self.bad_inputs,
                "restarted": self.restarted, "warmup_minutes": self.warmup_minutes,
                "open_positions": self.open_positions,
                "ledger_positions": (self.open_positions if self.ledger_positions is None
                                     else self.ledger_positions),
                "decision_latency_p50_ms": None if p50 is None else round(p50, 3),
                "decision_latency_p99_ms": None if p99 is None else round(p99, 3),
                "ledger": self.ledger}

    def summary_line(self) -> str:
        p99 = self.latency_p99_ms
        return (f"pnl {self.pnl}, {self.fills} fills, {self.risk_events} risk events, state "
                f"{self.state}, p99 latency {'n/a' if p99 is None else f'{p99:.1f} ms'}")


def held_at_end(parts: SessionParts, state: SessionState) -> dict[str, int]:
    """What the broker holds now (asked afresh; the last known view if it cannot answer),
    or the ledger's book when the broker's view was never known."""
    try:
        state.broker_positions = {s: int(q) for s, q in parts.broker.positions().items() if q}
    except BrokerError as exc:
        parts.log.warning("broker %s cannot report its positions at the end (%s); reporting "
                          "the last known ones", parts.broker.name, exc)
    if state.broker_positions is None:
        return _book_positions(state.book)
    return dict(sorted((s, q) for s, q in state.broker_positions.items() if q))


def _book_positions(book: Book) -> dict[str, int]:
    return {s: p.quantity for s, p in book.positions.items() if p.quantity}


def session_result(parts: SessionParts, state: SessionState, ledger_location: str,
                   with_report: bool) -> SessionResult:
    """Collect the result (and build the report) from the ledger and the session state."""
    config, risk = parts.config, parts.risk
    ledger_json = parts.ledger.session_ledger(config.session)
    book = state.book
    report = None
    if with_report:
        header = {"session": config.session.isoformat(), "policy": parts.policy.name,
                  "broker": parts.broker.name, "state": risk.state.value,
                  "limits": risk.limits.describe()}
        report = build_session_report(ledger_json, state.bars.frame(),
                                      ExecutionModel(config.execution), header)
    traded = {f["client_order_id"] for f in ledger_json["fills"]}
    return SessionResult(
        session=config.session, policy=parts.policy.name, broker=parts.broker.name,
        state=risk.state.value, state_reason=risk.state_record.reason,
        pnl=book.daily_pnl, end_equity=book.equity, trades=len(traded),
        orders=len(ledger_json["orders"]), fills=len(ledger_json["fills"]),
        decisions=len(ledger_json["decisions"]), risk_events=len(ledger_json["risk_events"]),
        bad_inputs=state.bad_inputs, restarted=state.restarted,
        warmup_minutes=state.warmup_minutes,
        open_positions=(_book_positions(book) if state.broker_positions is None
                        else dict(sorted((s, q) for s, q in state.broker_positions.items()
                                         if q))),
        latencies_ms=tuple(state.latencies_ms), ledger=ledger_location, report=report,
        ledger_positions=_book_positions(book))
