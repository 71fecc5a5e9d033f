"""BarStore: idempotent storage of bars in ``market_data`` (TimescaleDB, PostgreSQL, SQLite)."""

from intraday_jules.market_data.store.bar_store import BarStore, UpsertResult

__all__ = ["BarStore", "UpsertResult"]
