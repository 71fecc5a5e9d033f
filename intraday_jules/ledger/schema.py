"""The ledger's tables, as SQLAlchemy Core objects for queries (the DDL lives in migrations
``0005_ledger`` and ``0006_session_policies``; a test checks the two agree).

Money is exact on both backends (``ExactDecimal``): ``NUMERIC(24, 8)`` on PostgreSQL, and on
SQLite fixed-point TEXT with 8 decimals (``'136.38500000'``), because SQLite has no exact
decimal type and would turn a NUMERIC column into binary floats. Nothing sums money in SQL:
positions and P&L are folded from fills in Python, so TEXT never needs arithmetic.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from intraday_jules.db.types import UtcTimestamp, portable_json

MONEY_SCALE = 8
MONEY_PRECISION = 24
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)


def check_money(value: Decimal, name: str = "amount") -> Decimal:
    """``value`` if the ledger can store it exactly (<= 8 decimals, < 10**16), else ValueError."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{name} must be a finite Decimal, got {value!r}")
    if abs(value) >= _LIMIT or value.quantize(_QUANTUM) != value:  # quantize: 28 digits
        raise ValueError(f"{name} {value} cannot be stored exactly: the ledger keeps "
                         f"{MONEY_SCALE} decimals and fewer than {MONEY_PRECISION - MONEY_SCALE}"
                         " integer digits")
    return value


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC(24, 8) on PostgreSQL; fixed-point TEXT on SQLite. Refuses anything inexact."""

    impl = sa.String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric(MONEY_PRECISION, MONEY_SCALE,
                                                      asdecimal=True))
        return dialect.type_descriptor(sa.String(40))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        checked = check_money(value)
        if dialect.name == "postgresql":
            return checked
        return format(checked.quantize(_QUANTUM), "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value).quantize(_QUANTUM)


metadata = sa.MetaData()


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                     primary_key=True, autoincrement=True)


def _recorded_at() -> sa.Column[Any]:
    return sa.Column("recorded_at", UtcTimestamp(), nullable=False)


decisions = sa.Table(
    "decisions", metadata, _id(),
    sa.Column("session", sa.Date(), nullable=False),
    sa.Column("ts", UtcTimestamp(), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("equity", ExactDecimal(), nullable=True),
    sa.Column("detail", portable_json(), nullable=False),
    _recorded_at(),
    sa.UniqueConstraint("session", "ts", name="decisions_session_ts_key"),
)

orders = sa.Table(
    "orders", metadata, _id(),
    sa.Column("client_order_id", sa.String(64), nullable=False, unique=True),
    sa.Column("session", sa.Date(), nullable=False),
    sa.Column("ts", UtcTimestamp(), nullable=False),
    sa.Column("symbol", sa.String(16), nullable=False),
    sa.Column("side", sa.String(4), nullable=False),
    sa.Column("quantity", sa.BigInteger(), nullable=False),
    sa.Column("reference_price", ExactDecimal(), nullable=False),
    sa.Column("origin", sa.String(8), nullable=False),
    _recorded_at(),
)

order_events = sa.Table(
    "order_events", metadata, _id(),
    sa.Column("client_order_id", sa.String(64), nullable=False),
    sa.Column("ts", UtcTimestamp(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    _recorded_at(),
)

fills = sa.Table(
    "fills", metadata, _id(),
    sa.Column("exec_id", sa.String(64), nullable=False, unique=True),
    sa.Column("client_order_id", sa.String(64), nullable=False),
    sa.Column("session", sa.Date(), nullable=False),
    sa.Column("ts", UtcTimestamp(), nullable=False),
    sa.Column("symbol", sa.String(16), nullable=False),
    sa.Column("side", sa.String(4), nullable=False),
    sa.Column("quantity", sa.BigInteger(), nullable=False),
    sa.Column("price", ExactDecimal(), nullable=False),
    sa.Column("commission", ExactDecimal(), nullable=False),
    _recorded_at(),
)

risk_events = sa.Table(
    "risk_events", metadata, _id(),
    sa.Column("session", sa.Date(), nullable=False),
    sa.Column("ts", UtcTimestamp(), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("symbol", sa.String(16), nullable=True),
    sa.Column("detail", portable_json(), nullable=False),
    _recorded_at(),
)

trading_state = sa.Table(
    "trading_state", metadata, _id(),
    sa.Column("session", sa.Date(), nullable=False),
    sa.Column("ts", UtcTimestamp(), nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    _recorded_at(),
)

session_policies = sa.Table(
    "session_policies", metadata, _id(),
    sa.Column("session", sa.Date(), nullable=False),
    _recorded_at(),
    sa.Column("policy", sa.String(128), nullable=False),
    sa.Column("model_id", sa.String(128), nullable=True),
    sa.Column("seed", sa.BigInteger(), nullable=True),
    sa.Column("mode", sa.String(16), nullable=True),
    sa.Column("broker", sa.String(32), nullable=False),
)

LEDGER_TABLES: tuple[sa.Table, ...] = (decisions, orders, order_events, fills, risk_events,
                                       trading_state, session_policies)
