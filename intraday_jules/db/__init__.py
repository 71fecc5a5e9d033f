"""Database plumbing shared by every store: engines, URL masking, portable types, migrations."""

from intraday_jules.db.engine import (
    DatabaseUnreachable,
    backend_of,
    create_db_engine,
    mask_url,
)
from intraday_jules.db.migrate import upgrade_to_head

__all__ = ["DatabaseUnreachable", "backend_of", "create_db_engine", "mask_url", "upgrade_to_head"]
