"""SQLAlchemy Core tables the quality package reads and writes.

The DDL lives in the Alembic revisions (``0001_market_data`` creates ``data_quality_reports``,
``0002_quality`` creates ``market_data_quarantine``); these are the same columns for queries.
"""

from __future__ import annotations

import sqlalchemy as sa

from intraday_jules.db.types import UtcTimestamp, portable_json

metadata = sa.MetaData()

_id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

data_quality_reports = sa.Table(
    "data_quality_reports", metadata,
    sa.Column("id", _id_type, primary_key=True, autoincrement=True),
    sa.Column("checked_at", UtcTimestamp(), nullable=False),
    sa.Column("asset_key", sa.String(128), nullable=False),
    sa.Column("partition_key", sa.String(64)),
    sa.Column("symbol", sa.String(16)),
    sa.Column("session", sa.Date()),
    sa.Column("check_name", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("passed", sa.Boolean(), nullable=False),
    sa.Column("failures", sa.Integer(), nullable=False),
    sa.Column("rows_checked", sa.Integer(), nullable=False),
    sa.Column("detail", portable_json()),
    sa.Column("run_id", sa.String(64)),
)

market_data_quarantine = sa.Table(
    "market_data_quarantine", metadata,
    sa.Column("id", _id_type, primary_key=True, autoincrement=True),
    sa.Column("partition_key", sa.String(64), nullable=False),
    sa.Column("symbol", sa.String(16)),
    sa.Column("ts", UtcTimestamp()),
    sa.Column("open", sa.Float(precision=53)),
    sa.Column("high", sa.Float(precision=53)),
    sa.Column("low", sa.Float(precision=53)),
    sa.Column("close", sa.Float(precision=53)),
    sa.Column("volume", sa.Float(precision=53)),
    sa.Column("source", sa.String(32)),
    sa.Column("check_name", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("quarantined_at", UtcTimestamp(), nullable=False),
    sa.Column("run_id", sa.String(64)),
)
