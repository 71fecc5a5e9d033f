"""Statements of the ledger's hot path, built once (one decision per minute, its orders, fills).

Building a statement per call (``insert(t).values({...})``, ``select(t).where(col == value)``)
makes SQLAlchemy derive a cache key from every literal on every call: about 0.3 ms a
statement, most of the ledger's cost on the decision-latency path (docs/trading.md, "Decision
latency"). These are built once with bind parameters and run with a parameter dict, so
SQLAlchemy finds their compiled form in its cache; the column types (exact money, UTC
timestamps, JSON) still process every value, exactly as before.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from intraday_jules.ledger.schema import fills, order_events, orders, trading_state

_INSERT_NEW: dict[tuple[str, str, tuple[str, ...]], Any] = {}

ORDER_BY_ID = sa.select(orders).where(orders.c.client_order_id == sa.bindparam("cid"))
FILL_BY_EXEC_ID = sa.select(fills).where(fills.c.exec_id == sa.bindparam("exec_id"))
FILLED_OF_ORDER = sa.select(sa.func.coalesce(sa.func.sum(fills.c.quantity), 0)).where(
    fills.c.client_order_id == sa.bindparam("cid"))
INSERT_ORDER_EVENT = sa.insert(order_events)
LATEST_TRADING_STATE = sa.select(trading_state).order_by(trading_state.c.id.desc()).limit(1)


def insert_new(conn: Connection, table: sa.Table, values: dict[str, Any],
               key: list[str]) -> bool:
    """INSERT unless a row with the same ``key`` exists; True if this call wrote it.

    Told by RETURNING, not ``rowcount``: psycopg reports -1 for ON CONFLICT DO NOTHING.
    """
    dialect = conn.dialect.name
    cache_key = (dialect, table.name, tuple(key))
    stmt = _INSERT_NEW.get(cache_key)
    if stmt is None:
        dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=key).returning(
            table.c.id)
        _INSERT_NEW[cache_key] = stmt
    return conn.execute(stmt, values).first() is not None
