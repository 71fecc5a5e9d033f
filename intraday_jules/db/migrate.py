"""Alembic migrations, run programmatically; every revision only ever adds (never drops data).

The history may have several heads: each area (market data, quality, features, models, ledger)
keeps its own branch off the base revision, so we always upgrade to ``heads``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema up to date (idempotent; safe to call on every start)."""
    command.upgrade(alembic_config(engine), "heads")
