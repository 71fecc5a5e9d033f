"""features (wide: one float column per feature of the default spec) and feature_specs.

Revision ID: 0003_features
Revises: 0001_market_data
Create Date: 2026-11-26

Wide rather than JSON/array: binary COPY of float8 columns and SQLite REAL columns are the
fastest to write and read on both backends, and each feature stays queryable in SQL. The
column set is that of the default spec when this revision was written; a spec with other
names needs a new revision that adds columns (revisions never drop). ``feature_specs`` keeps
the full definition behind every ``spec_version`` hash found in ``features``.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from intraday_jules.db.types import UtcTimestamp, portable_json

revision = "0003_features"
down_revision = "0001_market_data"
branch_labels = None
depends_on = None

log = logging.getLogger("intraday_jules.db.migrations")

# Frozen here on purpose: a migration must not change when the live spec changes.
FEATURE_COLUMNS = (
    "ret_1", "ret_5", "ret_15", "ret_50", "rv_15", "rv_50", "rsi_14", "ema_trend",
    "vwap_dist", "volume_z", "hl_range", "session_time",
)


def upgrade() -> None:
    op.create_table(
        "features",
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("ts", UtcTimestamp(), nullable=False, comment="bar start, UTC"),
        sa.Column("spec_version", sa.String(64), nullable=False,
                  comment="sha256 of the FeatureSpec's canonical JSON"),
        *(sa.Column(name, sa.Float(precision=53), nullable=False) for name in FEATURE_COLUMNS),
        sa.Column("warmup", sa.Boolean(), nullable=False,
                  comment="within the first lookback bars of its session"),
        # Key order: every read filters one spec_version, then symbol and a ts range.
        sa.PrimaryKeyConstraint("spec_version", "symbol", "ts", name="features_pkey"),
    )
    op.create_table(
        "feature_specs",
        sa.Column("spec_version", sa.String(64), nullable=False),
        sa.Column("spec", portable_json(), nullable=False),
        sa.PrimaryKeyConstraint("spec_version", name="feature_specs_pkey"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _maybe_hypertable(bind)


def _maybe_hypertable(bind: sa.Connection) -> None:
    installed = bind.execute(
        sa.text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).scalar()
    if not installed:
        return
    bind.execute(sa.text(
        "SELECT create_hypertable('features', 'ts', chunk_time_interval => INTERVAL '7 days',"
        " if_not_exists => TRUE, migrate_data => TRUE)"))
    log.info("timescaledb: features is a hypertable")


def downgrade() -> None:
    # Migrations never drop data; going back is a restore from backup.
    raise NotImplementedError("downgrades are not supported")
