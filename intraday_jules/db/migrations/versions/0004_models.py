"""models (the registry of trained models) and model_promotions (append-only decisions).

``models`` holds one row per trained model: kind, parent (the foundation a dual model was
transferred from), training window, seed, FeatureSpec version, status and metrics. Its status
is the model's current state; the history of promotion decisions is ``model_promotions``,
where every decision (promoted, rejected, retired) is a new row and triggers on both backends
refuse UPDATE and DELETE.

Revision ID: 0004_models
Revises: 0001_market_data
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from intraday_jules.db.types import UtcTimestamp, portable_json

revision = "0004_models"
down_revision = "0001_market_data"
branch_labels = ("models",)
depends_on = None

STATUSES = ("trained", "evaluated", "promoted", "rejected", "retired")
DECISIONS = ("promoted", "rejected", "retired")


def upgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "models",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.String(64), sa.ForeignKey("models.id", name="models_parent_fkey"),
                  nullable=True, comment="the foundation a dual model was transferred from"),
        sa.Column("symbols", sa.String(64), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("spec_version", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("metrics", portable_json(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('foundation', 'dual')", name="models_kind_valid"),
        sa.CheckConstraint("status IN ('" + "', '".join(STATUSES) + "')",
                           name="models_status_valid"),
        sa.CheckConstraint("window_start <= window_end", name="models_window_ordered"),
    )
    op.create_index("ix_models_kind_created", "models", ["kind", "created_at"])
    id_column = (sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True) if is_pg
                 else sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True))
    op.create_table(
        "model_promotions", id_column,
        sa.Column("model_id", sa.String(64),
                  sa.ForeignKey("models.id", name="model_promotions_model_fkey"),
                  nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("previous_champion_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("report", portable_json(), nullable=False),
        sa.Column("decided_at", UtcTimestamp(), nullable=False),
        sa.CheckConstraint("decision IN ('" + "', '".join(DECISIONS) + "')",
                           name="model_promotions_decision_valid"),
    )
    op.create_index("ix_model_promotions_model", "model_promotions", ["model_id", "id"])
    _append_only(is_pg)


def _append_only(is_pg: bool) -> None:
    """Promotion decisions are history: the database refuses to change or delete them."""
    if is_pg:
        op.execute(
            "CREATE FUNCTION model_promotions_refuse_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
            "'model_promotions is append-only: % refused', TG_OP; END $$")
        op.execute("CREATE TRIGGER model_promotions_append_only BEFORE UPDATE OR DELETE ON "
                   "model_promotions FOR EACH ROW EXECUTE FUNCTION "
                   "model_promotions_refuse_change()")
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER model_promotions_no_{verb.lower()} BEFORE {verb} ON "
                   "model_promotions BEGIN SELECT RAISE(ABORT, "
                   f"'model_promotions is append-only: {verb} refused'); END")


def downgrade() -> None:
    # Migrations never drop data; going back is a restore from backup.
    raise NotImplementedError("downgrades are not supported")
