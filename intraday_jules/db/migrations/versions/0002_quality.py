"""market_data_quarantine: bad bars set aside with the check and reason that refused them.

Its own branch off 0001 (the quality area). Prices and volume are nullable and volume is a
double, because a quarantined row is by definition one that broke the rules (NaN prices,
fractional or negative volume) and must be kept as it arrived. No key on (symbol, ts): the
duplicates a key would refuse are among the rows kept here.

Revision ID: 0002_quality
Revises: 0001_market_data
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from intraday_jules.db.types import UtcTimestamp

revision = "0002_quality"
down_revision = "0001_market_data"
branch_labels = ("quality",)
depends_on = None


def upgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    id_type = sa.BigInteger() if is_pg else sa.Integer()
    op.create_table(
        "market_data_quarantine",
        sa.Column("id", id_type, sa.Identity() if is_pg else None, nullable=False,
                  autoincrement=True),
        sa.Column("partition_key", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(16), nullable=True),
        sa.Column("ts", UtcTimestamp(), nullable=True, comment="bar start, UTC"),
        sa.Column("open", sa.Float(precision=53), nullable=True),
        sa.Column("high", sa.Float(precision=53), nullable=True),
        sa.Column("low", sa.Float(precision=53), nullable=True),
        sa.Column("close", sa.Float(precision=53), nullable=True),
        sa.Column("volume", sa.Float(precision=53), nullable=True),
        sa.Column("source", sa.String(32), nullable=True),
        sa.Column("check_name", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("quarantined_at", UtcTimestamp(), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="market_data_quarantine_pkey"),
    )
    op.create_index("ix_mdq_partition", "market_data_quarantine",
                    ["partition_key", "quarantined_at"])
    op.create_index("ix_mdq_symbol_ts", "market_data_quarantine", ["symbol", "ts"])


def downgrade() -> None:
    # Migrations never drop data; going back is a restore from backup.
    raise NotImplementedError("downgrades are not supported")
