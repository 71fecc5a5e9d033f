"""The ``models`` and ``model_promotions`` tables (migration 0004), as SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from intraday_jules.agent.data import DateWindow
from intraday_jules.db.types import UtcTimestamp, portable_json

ModelStatus = Literal["trained", "evaluated", "promoted", "rejected", "retired"]
Decision = Literal["promoted", "rejected", "retired"]

METADATA = sa.MetaData()
MODELS = sa.Table(
    "models", METADATA,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("parent_id", sa.String(64), nullable=True),
    sa.Column("symbols", sa.String(64), nullable=False),
    sa.Column("window_start", sa.Date(), nullable=False),
    sa.Column("window_end", sa.Date(), nullable=False),
    sa.Column("seed", sa.Integer(), nullable=False),
    sa.Column("spec_version", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcTimestamp(), nullable=False),
    sa.Column("metrics", portable_json(), nullable=False),
    sa.Column("path", sa.Text(), nullable=False),
)
PROMOTIONS = sa.Table(
    "model_promotions", METADATA,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("model_id", sa.String(64), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("previous_champion_id", sa.String(64), nullable=True),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("report", portable_json(), nullable=False),
    sa.Column("decided_at", UtcTimestamp(), nullable=False),
)


@dataclass(frozen=True)
class ModelRecord:
    """One registry row."""

    id: str
    kind: str
    parent_id: str | None
    symbols: tuple[str, ...]
    window: DateWindow
    seed: int
    spec_version: str
    status: str
    created_at: datetime
    metrics: dict[str, Any]
    path: Path

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ModelRecord:
        return cls(id=row["id"], kind=row["kind"], parent_id=row["parent_id"],
                   symbols=tuple(row["symbols"].split(",")),
                   window=DateWindow(_day(row["window_start"]), _day(row["window_end"])),
                   seed=int(row["seed"]), spec_version=row["spec_version"],
                   status=row["status"], created_at=row["created_at"],
                   metrics=dict(row["metrics"] or {}), path=Path(row["path"]))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "parent_id": self.parent_id,
                "symbols": list(self.symbols), "window": self.window.to_dict(),
                "seed": self.seed, "spec_version": self.spec_version, "status": self.status,
                "created_at": self.created_at.isoformat(), "path": str(self.path)}


@dataclass(frozen=True)
class PromotionRow:
    """One append-only promotion decision."""

    id: int
    model_id: str
    decision: str
    previous_champion_id: str | None
    reason: str
    report: dict[str, Any]
    decided_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PromotionRow:
        return cls(id=int(row["id"]), model_id=row["model_id"], decision=row["decision"],
                   previous_champion_id=row["previous_champion_id"], reason=row["reason"],
                   report=dict(row["report"] or {}), decided_at=row["decided_at"])


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
