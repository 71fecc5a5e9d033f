"""Portable column types: one definition that is right on PostgreSQL and on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

SQLITE_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_sqlite_ts(value: datetime) -> str:
    """UTC ISO text that sorts chronologically, e.g. 2025-01-02T14:30:00.000000Z."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; use tz-aware UTC")
    return value.astimezone(UTC).strftime(SQLITE_TS_FORMAT)


class UtcTimestamp(TypeDecorator[datetime]):
    """``timestamptz`` on PostgreSQL; fixed-width UTC ISO text on SQLite. Always tz-aware."""

    impl = sa.String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(sa.String(32))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: timestamps must be tz-aware UTC")
        if dialect.name == "postgresql":
            return value.astimezone(UTC)
        return format_sqlite_ts(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.strptime(value, SQLITE_TS_FORMAT).replace(tzinfo=UTC)


def portable_json() -> sa.types.TypeEngine[Any]:
    """JSONB on PostgreSQL, JSON (text) on SQLite."""
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
