"""The ledger's side of the risk engine: it is the engine's ``RiskStore``.

The latched trading state is the newest ``trading_state`` row; earlier rows are its history.
Risk events are appended as they happen.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from intraday_jules.domain.clock import Clock
from intraday_jules.domain.risk_state import RiskEvent, RiskEventKind, StateRecord
from intraday_jules.ledger import rows
from intraday_jules.ledger.schema import risk_events, trading_state
from intraday_jules.ledger.statements import LATEST_TRADING_STATE


class RiskRecords:
    """Risk events and trading-state history on the ledger's engine."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def record_risk_event(self, event: RiskEvent) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.insert(risk_events).values(
                rows.risk_event_values(event, self.clock())))

    def risk_events(self, session: date | None = None) -> list[RiskEvent]:
        query = sa.select(risk_events).order_by(risk_events.c.ts, risk_events.c.id)
        if session is not None:
            query = query.where(risk_events.c.session == session)
        with self.engine.connect() as conn:
            return [rows.risk_event_from_row(r) for r in conn.execute(query).mappings()]

    def save_trading_state(self, record: StateRecord) -> None:
        """Append a state change (the newest row is the state; history is kept)."""
        with self.engine.begin() as conn:
            conn.execute(sa.insert(trading_state).values(rows.state_values(record, self.clock())))

    def load_trading_state(self) -> StateRecord | None:
        with self.engine.connect() as conn:  # every minute (``RiskEngine.refresh``): prebuilt
            row = conn.execute(LATEST_TRADING_STATE).mappings().first()
        return rows.state_from_row(row) if row is not None else None

    def trading_state_history(self) -> list[StateRecord]:
        """Every recorded state change, oldest first."""
        query = sa.select(trading_state).order_by(trading_state.c.id)
        with self.engine.connect() as conn:
            return [rows.state_from_row(r) for r in conn.execute(query).mappings()]

    def last_reset_ts(self) -> datetime | None:
        """When trading was last reset by hand (loss measures restart from there)."""
        query = sa.select(trading_state.c.ts).where(
            trading_state.c.kind == RiskEventKind.RESET.value).order_by(
            trading_state.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            value: datetime | None = conn.execute(query).scalar_one_or_none()
        return value
