"""The ledger's ``session_policies``: which policy (and model, seed, action mode) traded a run.

One row per start of a session run (a restart adds another), append-only like every ledger
table: the shadow replay (``intraday-jules reconcile``) replays a session with the model, seed
and mode recorded here, so it needs no guess about what traded.

Revision ID: 0006_session_policies
Revises: 0005_ledger
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from intraday_jules.db.types import UtcTimestamp

revision = "0006_session_policies"
down_revision = "0005_ledger"
branch_labels = None
depends_on = None

TABLE = "session_policies"


def upgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    ident = (sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True) if is_pg else
             sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True))
    op.create_table(
        TABLE, ident,
        sa.Column("session", sa.Date(), nullable=False),
        sa.Column("recorded_at", UtcTimestamp(), nullable=False),
        sa.Column("policy", sa.String(128), nullable=False),
        sa.Column("model_id", sa.String(128), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("mode", sa.String(16), nullable=True),
        sa.Column("broker", sa.String(32), nullable=False),
    )
    op.create_index(f"ix_{TABLE}_session", TABLE, ["session"])
    if is_pg:  # ledger_refuse_change() comes with 0005_ledger
        op.execute(f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()")
        op.execute(f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()")
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
                   f"BEGIN SELECT RAISE(ABORT, 'ledger table {TABLE} is append-only: "
                   f"{verb} refused'); END")


def downgrade() -> None:
    # Migrations never drop data; going back is a restore from backup.
    raise NotImplementedError("downgrades are not supported")
