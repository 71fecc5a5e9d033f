"""market_data and data_quality_reports; hypertables when TimescaleDB is available.

Revision ID: 0001_market_data
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from intraday_jules.db.types import UtcTimestamp, portable_json

revision = "0001_market_data"
down_revision = None
branch_labels = None
depends_on = None

log = logging.getLogger("intraday_jules.db.migrations")


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "market_data",
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("ts", UtcTimestamp(), nullable=False, comment="bar start, UTC"),
        sa.Column("open", sa.Float(precision=53), nullable=False),
        sa.Column("high", sa.Float(precision=53), nullable=False),
        sa.Column("low", sa.Float(precision=53), nullable=False),
        sa.Column("close", sa.Float(precision=53), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("ingested_at", UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "ts", name="market_data_pkey"),
        sa.CheckConstraint("high >= low AND low > 0", name="market_data_prices_sane"),
        sa.CheckConstraint("volume >= 0", name="market_data_volume_nonnegative"),
        # SQLite: cluster rows by the key (one b-tree, ~15% faster bulk upserts, smaller file)
        sqlite_with_rowid=False,
    )
    is_pg = bind.dialect.name == "postgresql"
    id_type = sa.BigInteger() if is_pg else sa.Integer()
    op.create_table(
        "data_quality_reports",
        sa.Column("id", id_type, sa.Identity() if is_pg else None, nullable=False,
                  autoincrement=True),
        sa.Column("checked_at", UtcTimestamp(), nullable=False),
        sa.Column("asset_key", sa.String(128), nullable=False),
        sa.Column("partition_key", sa.String(64), nullable=True),
        sa.Column("symbol", sa.String(16), nullable=True),
        sa.Column("session", sa.Date(), nullable=True),
        sa.Column("check_name", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rows_checked", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("detail", portable_json(), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        # TimescaleDB requires the time column in every unique index of a hypertable.
        sa.PrimaryKeyConstraint(*(("id", "checked_at") if is_pg else ("id",)),
                                name="data_quality_reports_pkey"),
    )
    op.create_index("ix_dqr_partition_check", "data_quality_reports",
                    ["asset_key", "partition_key", "check_name", "checked_at"])
    if is_pg:
        _maybe_timescale(bind)


def _maybe_timescale(bind: sa.Connection) -> None:
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    ).scalar()
    if not available:
        log.info("timescaledb extension not available: plain PostgreSQL tables")
        return
    bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
    bind.execute(sa.text(
        "SELECT create_hypertable('market_data', 'ts', chunk_time_interval => INTERVAL '7 days',"
        " if_not_exists => TRUE, migrate_data => TRUE)"))
    bind.execute(sa.text(
        "ALTER TABLE market_data SET (timescaledb.compress,"
        " timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'ts')"))
    bind.execute(sa.text(
        "SELECT add_compression_policy('market_data', INTERVAL '30 days', if_not_exists => TRUE)"))
    bind.execute(sa.text(
        "SELECT create_hypertable('data_quality_reports', 'checked_at',"
        " chunk_time_interval => INTERVAL '30 days', if_not_exists => TRUE,"
        " migrate_data => TRUE)"))
    log.info("timescaledb: market_data and data_quality_reports are hypertables,"
             " market_data compressed after 30 days")


def downgrade() -> None:
    # Migrations never drop data; going back is a restore from backup.
    raise NotImplementedError("downgrades are not supported")
