"""The trading ledger: decisions, orders, order_events, fills, risk_events, trading_state.

Every table is append-only: a state change is a new row, never an UPDATE, and triggers on both
backends refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL). Money is NUMERIC(24, 8) on
PostgreSQL and fixed-point TEXT on SQLite (see ``intraday_jules.ledger.schema``).

Revision ID: 0005_ledger
Revises: 0001_market_data
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from intraday_jules.db.types import UtcTimestamp, portable_json

revision = "0005_ledger"
down_revision = "0001_market_data"
branch_labels = ("ledger",)
depends_on = None

TABLES = ("decisions", "orders", "order_events", "fills", "risk_events", "trading_state")


def _money() -> sa.types.TypeEngine[object]:
    return sa.Numeric(24, 8).with_variant(sa.String(40), "sqlite")


def _id(is_pg: bool) -> sa.Column[int]:
    if is_pg:
        return sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True)
    return sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True)


def _side(table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint("side IN ('BUY', 'SELL')", name=f"{table}_side_valid")


def upgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    _create_decisions_and_orders(is_pg)
    _create_fills(is_pg)
    _create_risk(is_pg)
    for table, column in (("decisions", "session"), ("orders", "session"),
                          ("order_events", "client_order_id"), ("fills", "session"),
                          ("fills", "client_order_id"), ("risk_events", "session")):
        op.create_index(f"ix_{table}_{column}", table, [column])
    _append_only_triggers(is_pg)


def _create_decisions_and_orders(is_pg: bool) -> None:
    op.create_table(
        "decisions", _id(is_pg),
        sa.Column("session", sa.Date(), nullable=False),
        sa.Column("ts", UtcTimestamp(), nullable=False, comment="decision bar start, UTC"),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("equity", _money(), nullable=True),
        sa.Column("detail", portable_json(), nullable=False),
        sa.Column("recorded_at", UtcTimestamp(), nullable=False),
        sa.UniqueConstraint("session", "ts", name="decisions_session_ts_key"),
    )
    op.create_table(
        "orders", _id(is_pg),
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("session", sa.Date(), nullable=False),
        sa.Column("ts", UtcTimestamp(), nullable=False, comment="decision bar start, UTC"),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("reference_price", _money(), nullable=False),
        sa.Column("origin", sa.String(8), nullable=False),
        sa.Column("recorded_at", UtcTimestamp(), nullable=False),
        sa.UniqueConstraint("client_order_id", name="orders_client_order_id_key"),
        sa.CheckConstraint("quantity > 0", name="orders_quantity_positive"),
        _side("orders"),
    )
    op.create_table(
        "order_events", _id(is_pg),
        sa.Column("client_order_id", sa.String(64),
                  sa.ForeignKey("orders.client_order_id", name="order_events_order_fkey"),
                  nullable=False),
        sa.Column("ts", UtcTimestamp(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", UtcTimestamp(), nullable=False),
    )


def _create_fills(is_pg: bool) -> None:
    op.create_table(
        "fills", _id(is_pg),
        sa.Column("exec_id", sa.String(64), nullable=False),
        sa.Column("client_order_id", sa.String(64),
                  sa.ForeignKey("orders.client_order_id", name="fills_order_fkey"),
                  nullable=False),
        sa.Column("session", sa.Date(), nullable=False),
        sa.Column("ts", UtcTimestamp(), nullable=False, comment="execution time, UTC"),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("price", _money(), nullable=False),
        sa.Column("commission", _money(), nullable=False),
        sa.Column("recorded_at", UtcTimestamp(), nullable=False),
        sa.UniqueConstraint("exec_id", name="fills_exec_id_key"),
        sa.CheckConstraint("quantity > 0", name="fills_quantity_positive"),
        _side("fills"),
    )


def _create_risk(is_pg: bool) -> None:
    op.create_table(
        "risk_events", _id(is_pg),
        sa.Column("session", sa.Date(), nullable=False),
        sa.Column("ts", UtcTimestamp(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("symbol", sa.String(16), nullable=True),
        sa.Column("detail", portable_json(), nullable=False),
        sa.Column("recorded_at", UtcTimestamp(), nullable=False),
    )
    op.create_table(
        "trading_state", _id(is_pg),
        sa.Column("session", sa.Date(), nullable=False),
        sa.Column("ts", UtcTimestamp(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", UtcTimestamp(), nullable=False),
        sa.CheckConstraint("state IN ('ACTIVE', 'REDUCING', 'HALTED')",
                           name="trading_state_state_valid"),
    )


def _append_only_triggers(is_pg: bool) -> None:
    """Facts are never changed: the database itself refuses UPDATE and DELETE."""
    if is_pg:
        op.execute(
            "CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'ledger table % is append-only: % refused', "
            "TG_TABLE_NAME, TG_OP; END $$")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()")
        return
    for table in TABLES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, 'ledger table {table} is append-only: "
                       f"{verb} refused'); END")


def downgrade() -> None:
    # Migrations never drop data; going back is a restore from backup.
    raise NotImplementedError("downgrades are not supported")
