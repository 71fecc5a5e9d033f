"""The seed's targets, from the ledger: cumulative paper P&L, max drawdown, uptime.

Everything is derived from recorded facts, so it can be recomputed at any time (``status``, the
``trading/performance_report`` asset, ``intraday-jules report``):

- **Equity** is the equity recorded with every decision (cash plus positions at the minute's
  close marks; the book starts from ``SessionConfig.starting_cash`` deposited before the first
  fill ever, so it is the whole paper account, not a per-session figure).
- **A session's P&L** is its last decision's equity minus its first one's: the session
  report's ``pnl`` and ``status``'s today. (Unlike ``Ledger.session_start_equity``, which the
  daily loss limit measures from, it does not restart at a risk reset.)
- **Cumulative P&L** since the start is the last equity in the window minus the first: the
  sum of the sessions' P&L, plus any move of positions held overnight (the seed flattens
  before every close, so normally none).
- **Max drawdown %** is the largest fall of equity from its running peak within the window,
  in % of that peak: ``max((peak - equity) / peak) * 100`` over every recorded minute.
- **Uptime %** is ``100 * live minutes / session minutes`` over the traded sessions of the
  window. A live minute is one the loop decided: it records a decision for every minute it
  processes, and it processes a minute only once every symbol's bar arrived fresh (the intake
  refuses a bar that closed more than ``max_bar_delay`` before it arrived). Session minutes are
  the XNYS regular-hours minutes (390, or 210 on a half day). A traded session is one with at
  least one decision; a session the loop never ran on is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa

from intraday_jules.domain.bars import BAR
from intraday_jules.domain.calendar import session_date_of, session_window
from intraday_jules.domain.risk_state import StateRecord, TradingState
from intraday_jules.ledger.report import money_text
from intraday_jules.ledger.schema import decisions, fills

if TYPE_CHECKING:
    from intraday_jules.ledger.ledger import Ledger

HUNDRED = Decimal(100)
ZERO = Decimal(0)
#: percentages in JSON and metrics: 4 decimals (a hundredth of a basis point)
PCT_PLACES = 4


@dataclass(frozen=True, slots=True)
class Targets:
    """The seed's targets: $1,000 cumulative P&L, at most 2% drawdown, at least 99% uptime."""

    pnl_usd: Decimal = Decimal("1000")
    drawdown_pct: Decimal = Decimal("2")
    uptime_pct: Decimal = Decimal("99")


@dataclass(frozen=True, slots=True)
class SessionPerformance:
    """One traded session: its equity at the first and last decision, fills, live minutes and
    the risk state it ended in (``risk_reason`` says why that state)."""

    session: date
    start_equity: Decimal | None
    end_equity: Decimal | None
    fills: int
    live_minutes: int
    session_minutes: int
    risk_state: str
    risk_reason: str

    @property
    def pnl(self) -> Decimal | None:
        if self.start_equity is None or self.end_equity is None:
            return None
        return self.end_equity - self.start_equity

    @property
    def daily_return(self) -> Decimal | None:
        """P&L over the session's starting equity (the tearsheet's daily return)."""
        pnl = self.pnl
        if pnl is None or not self.start_equity:
            return None
        return pnl / self.start_equity

    @property
    def uptime_pct(self) -> Decimal:
        return HUNDRED * self.live_minutes / self.session_minutes

    def to_json(self) -> dict[str, object]:
        return {"session": self.session.isoformat(), "start_equity": money_text(self.start_equity),
                "end_equity": money_text(self.end_equity), "pnl_usd": money_text(self.pnl),
                "fills": self.fills, "live_minutes": self.live_minutes,
                "session_minutes": self.session_minutes,
                "uptime_pct": pct_number(self.uptime_pct), "risk_state": self.risk_state,
                "risk_reason": self.risk_reason}


@dataclass(frozen=True)
class Performance:
    """Traded sessions (oldest first) and the equity of every recorded minute among them."""

    sessions: tuple[SessionPerformance, ...] = ()
    equity: tuple[tuple[datetime, Decimal], ...] = field(default=(), repr=False)

    @property
    def start(self) -> date | None:
        return self.sessions[0].session if self.sessions else None

    @property
    def end(self) -> date | None:
        return self.sessions[-1].session if self.sessions else None

    @property
    def last_session(self) -> SessionPerformance | None:
        return self.sessions[-1] if self.sessions else None

    def between(self, start: date | None = None, end: date | None = None) -> Performance:
        """The sessions from ``start`` through ``end`` (either open-ended when None)."""
        def inside(day: date) -> bool:
            return (start is None or day >= start) and (end is None or day <= end)

        days = {s.session for s in self.sessions if inside(s.session)}
        return Performance(tuple(s for s in self.sessions if s.session in days),
                           tuple(p for p in self.equity if session_date_of(p[0]) in days))

    @property
    def cumulative_pnl(self) -> Decimal:
        """Last equity minus first equity of the window (0 without any)."""
        if not self.equity:
            return ZERO
        return self.equity[-1][1] - self.equity[0][1]

    def drawdown_pct(self) -> list[tuple[datetime, Decimal]]:
        """Every minute's fall from the running peak of equity, in % of that peak."""
        curve, peak = [], None
        for ts, value in self.equity:
            peak = value if peak is None else max(peak, value)
            curve.append((ts, HUNDRED * (peak - value) / peak if peak > 0 else ZERO))
        return curve

    @property
    def max_drawdown_pct(self) -> Decimal:
        return max((pct for _, pct in self.drawdown_pct()), default=ZERO)

    @property
    def uptime_pct(self) -> Decimal | None:
        """Live minutes over session minutes of the traded sessions (None: no session)."""
        total = sum(s.session_minutes for s in self.sessions)
        if not total:
            return None
        return HUNDRED * sum(s.live_minutes for s in self.sessions) / total

    def met(self, targets: Targets) -> dict[str, bool]:
        """Each target met or not (uptime without any session is not met)."""
        uptime = self.uptime_pct
        return {"pnl": self.cumulative_pnl >= targets.pnl_usd,
                "drawdown": self.max_drawdown_pct <= targets.drawdown_pct,
                "uptime": uptime is not None and uptime >= targets.uptime_pct}

    def targets_json(self, targets: Targets) -> dict[str, object]:
        """``status --json``'s ``targets``: USD as exact strings, percentages as numbers."""
        uptime = self.uptime_pct
        return {"cumulative_pnl_usd": money_text(self.cumulative_pnl),
                "pnl_target_usd": money_text(targets.pnl_usd),
                "max_drawdown_pct": pct_number(self.max_drawdown_pct),
                "drawdown_target_pct": pct_number(targets.drawdown_pct),
                "uptime_pct": None if uptime is None else pct_number(uptime),
                "uptime_target_pct": pct_number(targets.uptime_pct)}


def pct_number(value: Decimal) -> float:
    """A percentage for JSON and metrics, rounded to ``PCT_PLACES`` decimals."""
    return float(round(value, PCT_PLACES))


def load_performance(ledger: Ledger, until: date | None = None) -> Performance:
    """Every traded session in ``ledger`` (through ``until`` when given).

    One query for the decisions' (session, ts, equity), one for fill counts, one for the
    trading-state history: cheap enough for ``status`` over a year of sessions.
    """
    query = sa.select(decisions.c.session, decisions.c.ts, decisions.c.equity).order_by(
        decisions.c.ts, decisions.c.id)
    if until is not None:
        query = query.where(decisions.c.session <= until)
    counts = sa.select(fills.c.session, sa.func.count()).group_by(fills.c.session)
    with ledger.engine.connect() as conn:
        rows = [(r.session, r.ts, r.equity) for r in conn.execute(query)]
        fill_counts = {day: int(n) for day, n in conn.execute(counts)}
    return build_performance(rows, fill_counts, ledger.trading_state_history())


def build_performance(rows: Iterable[tuple[date, datetime, Decimal | str | None]],
                      fill_counts: dict[date, int],
                      history: Sequence[StateRecord]) -> Performance:
    """The sessions and equity curve from decision rows (session, ts, equity) in time order."""
    minutes: dict[date, set[datetime]] = {}
    equities: dict[date, list[Decimal]] = {}
    curve: list[tuple[datetime, Decimal]] = []
    for day, ts, equity in rows:
        minutes.setdefault(day, set()).add(ts)
        equities.setdefault(day, [])
        if equity is not None:
            value = Decimal(equity)
            equities[day].append(value)
            curve.append((ts, value))
    sessions = []
    for day in sorted(minutes):
        values = equities[day]
        state, reason = _state_at_end(history, day)
        sessions.append(SessionPerformance(
            day, values[0] if values else None, values[-1] if values else None,
            fill_counts.get(day, 0), len(minutes[day]), session_minutes(day), state, reason))
    return Performance(tuple(sessions), tuple(curve))


def session_minutes(day: date) -> int:
    """Regular-hours minutes of XNYS session ``day`` (390, 210 on a half day)."""
    window = session_window(day)
    return int((window.close - window.open) / BAR)


def _state_at_end(history: Sequence[StateRecord], day: date) -> tuple[str, str]:
    """The trading state in force when session ``day`` ended: the newest recorded change of
    that session or before it (a reset the next morning is not the session's)."""
    before = [r for r in history if r.session <= day]
    if not before:
        return TradingState.ACTIVE.value, "no state recorded yet"
    return before[-1].state.value, before[-1].reason
