"""The append-only ledger: every decision, order, fill, risk event and state change, exactly.

Writes are INSERTs only (state changes are new rows; triggers refuse UPDATE and DELETE).
Recording an order or a fill twice is a no-op that returns the stored row: a restarted run
derives the same ``client_order_id`` for the same decision, finds it here and sends nothing
again (``order_exists``/``pending_orders``). Positions are folded from fills on demand.

A decision is atomic: ``record_decision_with_orders`` writes the decision row and every order
of it in one transaction, so a crash leaves either the whole decision or none of it (a
restart resumes after the last decision and would never re-decide a minute whose orders were
half recorded). The broker's answers to one minute's orders go in one transaction as well
(``record_order_statuses``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.domain.orders import Fill, Order, OrderStatus
from intraday_jules.domain.portfolio import Position, positions_from_fills
from intraday_jules.ledger import rows
from intraday_jules.ledger.records import (
    DecisionRecord,
    LedgerConflict,
    Reconciliation,
    UnknownOrder,
)
from intraday_jules.ledger.risk_records import RiskRecords
from intraday_jules.ledger.schema import decisions, fills, order_events, orders
from intraday_jules.ledger.session_policies import SessionPolicies
from intraday_jules.ledger.statements import (
    FILL_BY_EXEC_ID,
    FILLED_OF_ORDER,
    INSERT_ORDER_EVENT,
    ORDER_BY_ID,
    insert_new,
)


def _order_status(order: Order, filled: int, last: OrderStatus | None) -> OrderStatus:
    """Fills are the truth for quantity; the broker's last word decides cancels/rejects."""
    if filled >= order.quantity:
        return OrderStatus.FILLED
    if last is not None and last.is_terminal:
        return last
    if filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return last or OrderStatus.PENDING


class Ledger(RiskRecords, SessionPolicies):
    """The ledger on one database (SQLite or PostgreSQL), tables from migration 0005_ledger.

    engine: a SQLAlchemy engine whose schema is at head (``upgrade_to_head``).
    clock: wall clock for ``recorded_at``; inject it in tests.
    """

    def __init__(self, engine: Engine, *, clock: Clock = system_clock) -> None:
        super().__init__(engine, clock)

    @classmethod
    def connect(cls, url: str, *, clock: Clock = system_clock) -> Ledger:
        """Open the database at ``url`` (failing fast) and bring its schema to head."""
        from intraday_jules.db import create_db_engine, upgrade_to_head

        engine = create_db_engine(url)
        upgrade_to_head(engine)
        return cls(engine, clock=clock)

    # decisions -----------------------------------------------------------------------------
    def record_decision(self, decision: DecisionRecord) -> DecisionRecord:
        """Record the decision of a bar; a second one for the same bar returns the first."""
        with self.engine.begin() as conn:
            insert_new(conn, decisions, rows.decision_values(decision, self.clock()),
                       ["session", "ts"])
            row = conn.execute(sa.select(decisions).where(
                decisions.c.session == decision.session, decisions.c.ts == decision.ts)).one()
        return rows.decision_from_row(row._mapping)

    def record_decision_with_orders(self, decision: DecisionRecord,
                                    new_orders: Sequence[Order]) -> list[Order]:
        """Record a decision and its orders in one transaction: all of it or nothing.

        Returns the orders this call wrote, in the order given; one whose id is already here
        is skipped (a restart never sends it again). Raises (writing nothing) if any row is
        refused, e.g. a price the ledger cannot store exactly.
        """
        written = []
        with self.engine.begin() as conn:
            recorded_at = self.clock()
            insert_new(conn, decisions, rows.decision_values(decision, recorded_at),
                       ["session", "ts"])
            for order in new_orders:
                if insert_new(conn, orders, rows.order_values(order, recorded_at),
                              ["client_order_id"]):
                    written.append(order)
        return written

    def decisions(self, session: date) -> list[DecisionRecord]:
        query = sa.select(decisions).where(decisions.c.session == session).order_by(
            decisions.c.ts, decisions.c.id)
        return [rows.decision_from_row(r) for r in self._mappings(query)]

    # orders --------------------------------------------------------------------------------
    def record_order(self, order: Order) -> Order:
        """Record ``order`` before it is sent; if its id is already here, return that one."""
        with self.engine.begin() as conn:
            insert_new(conn, orders, rows.order_values(order, self.clock()),
                       ["client_order_id"])
            row = conn.execute(sa.select(orders).where(
                orders.c.client_order_id == order.client_order_id)).one()
        return rows.order_from_row(row._mapping)

    def order_exists(self, client_order_id: str) -> bool:
        return self.get_order(client_order_id) is not None

    def get_order(self, client_order_id: str) -> Order | None:
        with self.engine.connect() as conn:
            row = conn.execute(ORDER_BY_ID, {"cid": client_order_id}).first()
        return rows.order_from_row(row._mapping) if row is not None else None

    def orders(self, session: date | None = None) -> list[Order]:
        query = sa.select(orders).order_by(orders.c.id)
        if session is not None:
            query = query.where(orders.c.session == session)
        return [rows.order_from_row(r) for r in self._mappings(query)]

    def record_order_status(self, client_order_id: str, status: OrderStatus, ts: datetime,
                            reason: str = "") -> None:
        """Append what the broker said about an order (submitted, cancelled, rejected...)."""
        with self.engine.begin() as conn:
            self._require_order(conn, client_order_id, f"status {status}")
            conn.execute(INSERT_ORDER_EVENT, {
                "client_order_id": client_order_id, "ts": ts,
                "status": OrderStatus(status).value, "reason": reason,
                "recorded_at": self.clock()})

    def record_order_statuses(self, statuses: Sequence[tuple[str, OrderStatus, datetime, str]]
                              ) -> None:
        """Append several (client order id, status, ts, reason) in one transaction."""
        if not statuses:
            return
        with self.engine.begin() as conn:
            recorded_at = self.clock()
            for client_order_id, status, ts, reason in statuses:
                self._require_order(conn, client_order_id, f"status {status}")
                conn.execute(INSERT_ORDER_EVENT, {
                    "client_order_id": client_order_id, "ts": ts,
                    "status": OrderStatus(status).value, "reason": reason,
                    "recorded_at": recorded_at})

    def orders_without_status(self, session: date | None = None) -> list[Order]:
        """Orders without any recorded broker answer (never sent, or the answer was lost)."""
        answered = sa.select(order_events.c.client_order_id)
        query = sa.select(orders).where(orders.c.client_order_id.not_in(answered)).order_by(
            orders.c.id)
        if session is not None:
            query = query.where(orders.c.session == session)
        return [rows.order_from_row(r) for r in self._mappings(query)]

    def order_status_history(self, session: date | None = None
                             ) -> dict[str, list[OrderStatus]]:
        """Every order's recorded statuses in the order they were recorded (none: [])."""
        history: dict[str, list[OrderStatus]] = {
            o.client_order_id: [] for o in self.orders(session)}
        for row in self._mappings(sa.select(order_events).order_by(order_events.c.id)):
            if row["client_order_id"] in history:
                history[row["client_order_id"]].append(OrderStatus(row["status"]))
        return history

    def order_statuses(self, session: date | None = None) -> dict[str, OrderStatus]:
        """Every order's current status, derived from its fills and status events."""
        filled = self.filled_quantities()
        last: dict[str, OrderStatus] = {}
        for row in self._mappings(sa.select(order_events).order_by(order_events.c.id)):
            last[row["client_order_id"]] = OrderStatus(row["status"])
        return {o.client_order_id: _order_status(o, filled.get(o.client_order_id, 0),
                                                 last.get(o.client_order_id))
                for o in self.orders(session)}

    def pending_orders(self, session: date | None = None) -> list[Order]:
        """Orders recorded but not finished (not filled, cancelled or rejected)."""
        statuses = self.order_statuses(session)
        return [o for o in self.orders(session) if not statuses[o.client_order_id].is_terminal]

    def pending_quantities(self, session: date | None = None) -> dict[str, int]:
        """Signed unfilled shares of pending orders per symbol (``Book.pending``)."""
        filled = self.filled_quantities()
        result: dict[str, int] = {}
        for order in self.pending_orders(session):
            left = order.quantity - filled.get(order.client_order_id, 0)
            result[order.symbol] = result.get(order.symbol, 0) + order.side.sign * left
        return result

    def filled_quantity(self, client_order_id: str) -> int:
        return self.filled_quantities().get(client_order_id, 0)

    def filled_quantities(self) -> dict[str, int]:
        query = sa.select(fills.c.client_order_id, sa.func.sum(fills.c.quantity)).group_by(
            fills.c.client_order_id)
        with self.engine.connect() as conn:
            return {cid: int(total) for cid, total in conn.execute(query)}

    def _require_order(self, conn: Connection, client_order_id: str, what: str) -> Order:
        row = conn.execute(ORDER_BY_ID, {"cid": client_order_id}).first()
        if row is None:
            raise UnknownOrder(f"{what} for client order id {client_order_id!r}, which the "
                               "ledger never recorded; nothing was written")
        return rows.order_from_row(row._mapping)

    # fills ---------------------------------------------------------------------------------
    def record_fill(self, fill: Fill) -> Fill:
        """Record an execution once (by ``exec_id``); refuse one that contradicts the ledger."""
        with self.engine.begin() as conn:
            order = self._require_order(conn, fill.client_order_id, f"fill {fill.exec_id}")
            existing = conn.execute(FILL_BY_EXEC_ID, {"exec_id": fill.exec_id}).first()
            if existing is not None:
                stored = rows.fill_from_row(existing._mapping)
                if stored != fill:
                    raise LedgerConflict(f"fill {fill.exec_id} is already recorded as {stored}, "
                                         f"not {fill}; nothing was written")
                return stored
            self._check_fill_fits(conn, order, fill)
            insert_new(conn, fills, rows.fill_values(fill, self.clock()), ["exec_id"])
        return fill

    @staticmethod
    def _check_fill_fits(conn: Connection, order: Order, fill: Fill) -> None:
        if (fill.symbol, fill.side) != (order.symbol, order.side):
            raise LedgerConflict(f"fill {fill.exec_id} is {fill.side} {fill.symbol} but order "
                                 f"{order.client_order_id} is {order.side} {order.symbol}")
        done = conn.execute(FILLED_OF_ORDER, {"cid": order.client_order_id}).scalar_one()
        if int(done) + fill.quantity > order.quantity:
            raise LedgerConflict(f"fill {fill.exec_id} of {fill.quantity} would overfill order "
                                 f"{order.client_order_id} ({done} of {order.quantity} filled)")

    def fills(self, session: date | None = None) -> list[Fill]:
        """Fills in execution order (all sessions unless ``session`` is given)."""
        query = sa.select(fills).order_by(fills.c.ts, fills.c.id)
        if session is not None:
            query = query.where(fills.c.session == session)
        return [rows.fill_from_row(r) for r in self._mappings(query)]

    def fills_for_session(self, session: date) -> list[Fill]:
        return self.fills(session)

    # derived -------------------------------------------------------------------------------
    def positions(self) -> dict[str, Position]:
        """Every symbol's position, folded from all fills (never stored)."""
        return positions_from_fills(self.fills())

    def reconcile(self, broker_positions: Mapping[str, int]) -> Reconciliation:
        """Compare share counts with the broker's (flat symbols may be omitted either side)."""
        ours = {s: p.quantity for s, p in self.positions().items() if p.quantity}
        theirs = {s: int(q) for s, q in broker_positions.items() if q}
        return Reconciliation.compare(ours, theirs)

    def high_water_mark(self) -> Decimal | None:
        """Highest equity recorded with a decision since the latest reset (None: none yet)."""
        values = self._equities_since_reset(None)
        return max(values) if values else None

    def session_start_equity(self, session: date) -> Decimal | None:
        """Equity at the session's first decision (or the first after a reset within it)."""
        values = self._equities_since_reset(session)
        return values[0] if values else None

    def _equities_since_reset(self, session: date | None) -> list[Decimal]:
        since = self.last_reset_ts()
        query = sa.select(decisions.c.equity).where(decisions.c.equity.is_not(None)).order_by(
            decisions.c.ts, decisions.c.id)
        if since is not None:
            query = query.where(decisions.c.ts >= since)
        if session is not None:
            query = query.where(decisions.c.session == session)
        with self.engine.connect() as conn:
            return [Decimal(v) for v in conn.execute(query).scalars()]

    def session_ledger(self, session: date) -> dict[str, list[dict[str, Any]]]:
        """The session as one JSON-ready object (see ``intraday_jules.ledger.report``)."""
        from intraday_jules.ledger.report import session_ledger

        return session_ledger(self, session)

    def checkpoint(self) -> None:
        """SQLite: move the write-ahead log into the database file now (PASSIVE: waits for
        no reader), so no commit of the loop pays for it; PostgreSQL: nothing to do."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _mappings(self, query: sa.Select[Any]) -> list[sa.RowMapping]:
        with self.engine.connect() as conn:
            return list(conn.execute(query).mappings())

