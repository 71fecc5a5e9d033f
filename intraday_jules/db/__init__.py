"""Database plumbing shared by every store: engines, URL masking, portable types, migrations."""

from intraday_jules.db.engine import DatabaseUnreachable, backend_of, create_db_engine
from intraday_jules.db.migrate import upgrade_to_head
from intraday_jules.url_masking import mask_url

__all__ = ["DatabaseUnreachable", "backend_of", "create_db_engine", "mask_url", "upgrade_to_head"]
