"""A hand-built two-session ledger whose targets are worked out by hand (tests of the seed's
targets: ``ledger.performance``, ``status``, the performance report, ``intraday-jules report``).

Equity is recorded with every decision; a value below holds until the next change.

- 2025-02-03 (all 390 minutes decided): 10000 from 09:30, 10100 at 10:00 (the peak), 9898 at
  11:00 (a fall of 202 = exactly 2% of 10100), 10050 at 15:59. P&L +50; 2 fills; ends ACTIVE.
- 2025-02-04 (386 minutes: 14:30-14:33 ET never decided, the loop was down): 10050 from 09:30,
  10250 at 11:10 (new peak), 10148.5 at 12:50 (a fall of 101.5 = 0.990243...% of 10250),
  10175.25 at 15:59. P&L +125.25; 1 fill; REDUCING since 11:00 ("stale data ..."), and reset
  to ACTIVE the next morning (which is not that session's state).

Whole ledger: cumulative P&L 175.25, max drawdown 2%, uptime 776/780 = 99.4872%.
From 2025-02-04 on: 125.25, 0.9902%, 386/390 = 98.9744%.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from intraday_jules.domain.calendar import session_window
from intraday_jules.domain.orders import Fill, Order, OrderIntent, Side
from intraday_jules.domain.risk_state import RiskEventKind, StateRecord, TradingState
from intraday_jules.ledger import DecisionRecord, Ledger

FIRST, SECOND = date(2025, 2, 3), date(2025, 2, 4)
FIRST_PATH = {0: "10000", 30: "10100", 90: "9898", 389: "10050"}
SECOND_PATH = {0: "10050", 100: "10250", 200: "10148.5", 389: "10175.25"}
SECOND_DOWN = range(300, 304)  # minutes of 2025-02-04 without a decision
REDUCING_REASON = "stale data: no NVDA bar for 120 s"


def minute_ts(day: date, n: int) -> datetime:
    return session_window(day).open + timedelta(minutes=n)


def _decide(ledger: Ledger, day: date, path: dict[int, str], down: range = range(0)) -> None:
    equity = Decimal(path[0])
    for n in range(390):
        equity = Decimal(path.get(n, equity))
        if n not in down:
            ledger.record_decision(DecisionRecord(minute_ts(day, n), "hold", equity))


def _trade(ledger: Ledger, day: date, n: int, side: Side, exec_id: str) -> None:
    order = ledger.record_order(Order.from_intent(OrderIntent(
        "NVDA", side, 10, minute_ts(day, n), Decimal("120.50"))))
    ledger.record_fill(Fill(order.ts + timedelta(minutes=1), "NVDA", side, 10,
                            Decimal("120.61"), Decimal("0.35"), order.client_order_id, exec_id))


def seed_two_sessions(ledger: Ledger) -> None:
    _decide(ledger, FIRST, FIRST_PATH)
    _trade(ledger, FIRST, 20, Side.BUY, "A.1")
    _trade(ledger, FIRST, 380, Side.SELL, "A.2")
    _decide(ledger, SECOND, SECOND_PATH, SECOND_DOWN)
    _trade(ledger, SECOND, 50, Side.BUY, "B.1")
    ledger.save_trading_state(StateRecord(TradingState.REDUCING, REDUCING_REASON,
                                          minute_ts(SECOND, 90), RiskEventKind.STALE_DATA))
    ledger.save_trading_state(StateRecord(TradingState.ACTIVE, "reset by ops",
                                          datetime(2025, 2, 5, 13, 0, tzinfo=UTC)))


def seeded_cli_env(folder: Path) -> dict[str, str]:
    """The environment of a command run against a new SQLite ledger holding the two seeded
    sessions (``seed_two_sessions``)."""
    url = f"sqlite:///{folder / 'targets.db'}"
    ledger = Ledger.connect(url)
    try:
        seed_two_sessions(ledger)
    finally:
        ledger.engine.dispose()
    return {"INTRADAY_JULES_HOME": str(folder / "home"), "INTRADAY_JULES_DATABASE_URL": url}
