"""``ModelStore``: model directories on disk plus the ``models`` registry in the database.

Each model is a directory ``<root>/<model id>/`` (its files: ``model_files``).

The registry row (``models``) records id, kind, parent, window, seed, spec version, status
and metrics; promotion decisions are rows of ``model_promotions`` (append-only). ``load``
refuses a model whose FeatureSpec hash or observation shape differs from the live one,
and a model whose ``execution_spec.json`` does not hash to the version its manifest recorded.
"""

from __future__ import annotations

import secrets
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from intraday_jules.agent.bundle import ModelBundle, ModelMismatchError
from intraday_jules.agent.execution_spec import ExecutionSpec
from intraday_jules.agent.model_files import (
    ModelStoreError,
    dump_json,
    json_safe,
    read_bundle,
    read_execution_spec,
    read_feature_spec,
    write_model_files,
)
from intraday_jules.agent.registry import (
    MODELS,
    PROMOTIONS,
    Decision,
    ModelRecord,
    ModelStatus,
    PromotionRow,
)
from intraday_jules.db.migrate import upgrade_to_head
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.features import DEFAULT_SPEC, FeatureSpec

PROMOTED = "promoted"  # the reference that names the current champion
__all__ = ["PROMOTED", "ModelStore", "ModelStoreError"]


class ModelStore:
    """Saves, finds and loads models; records evaluations and promotion decisions."""

    def __init__(self, root_dir: Path | str, engine: Engine, *, clock: Clock | None = None,
                 migrate: bool = True) -> None:
        self.root = Path(root_dir)
        self.engine = engine
        self.clock: Clock = clock or system_clock
        if migrate:
            upgrade_to_head(engine)

    def model_dir(self, model_id: str) -> Path:
        return self.root / model_id

    # ---- writing -----------------------------------------------------------------------

    def save(self, bundle: ModelBundle, *, model_id: str | None = None) -> ModelRecord:
        """Write the model directory, then its registry row (status "trained"); sets
        ``bundle.model_id``. A failed insert removes the directory again."""
        created = self.clock()
        model_id = model_id or (f"{bundle.kind}-{created:%Y%m%dT%H%M%S}-s{bundle.config.seed}"
                                f"-{secrets.token_hex(3)}")
        folder = self.model_dir(model_id)
        if folder.exists():
            raise FileExistsError(f"model directory {folder} already exists")
        staging = self.root / f".staging-{model_id}"
        write_model_files(staging, bundle, model_id, created)
        staging.replace(folder)
        row = {"id": model_id, "kind": bundle.kind, "parent_id": bundle.parent_id,
               "symbols": ",".join(bundle.symbols), "window_start": bundle.train_window.start,
               "window_end": bundle.train_window.end, "seed": bundle.config.seed,
               "spec_version": bundle.spec.version, "status": "trained",
               "created_at": created, "metrics": json_safe(bundle.metrics), "path": str(folder)}
        try:
            with self.engine.begin() as conn:
                conn.execute(MODELS.insert().values(**row))
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        bundle.model_id = model_id
        return self.get(model_id)

    def record_evaluation(self, model_id: str, evaluation: dict[str, Any]) -> ModelRecord:
        """Store an evaluation summary (metrics.json and the row); status becomes
        "evaluated" unless the model was already promoted, rejected or retired."""
        record = self.get(model_id)
        metrics = {**record.metrics, "evaluation": json_safe(evaluation)}
        (record.path / "metrics.json").write_text(dump_json(metrics))
        status = "evaluated" if record.status == "trained" else record.status
        with self.engine.begin() as conn:
            conn.execute(MODELS.update().where(MODELS.c.id == model_id)
                         .values(metrics=metrics, status=status))
        return self.get(model_id)

    def record_decision(self, model_id: str, decision: Decision, reason: str,
                        report: dict[str, Any] | None = None) -> PromotionRow:
        """Append a promotion decision. Promoting retires the previous champion (its own
        "retired" row); the model's status follows the decision."""
        self.get(model_id)
        with self.engine.begin() as conn:
            champion = _champion(conn)
            if decision == "promoted" and champion not in (None, model_id):
                _append(conn, champion, "retired", None, f"replaced by {model_id}", {},
                        self.clock())
                _set_status(conn, champion, "retired")
            row_id = _append(conn, model_id, decision, champion, reason, report or {},
                             self.clock())
            if decision != "rejected" or champion != model_id:
                _set_status(conn, model_id, decision)
        return next(r for r in self.promotion_history() if r.id == row_id)

    # ---- reading -----------------------------------------------------------------------

    def get(self, model_id: str) -> ModelRecord:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(MODELS).where(MODELS.c.id == model_id)).mappings().first()
        if row is None:
            raise ModelStoreError(f"no model {model_id!r} in the registry")
        return ModelRecord.from_row(dict(row))

    def records(self, kind: str | None = None) -> list[ModelRecord]:
        query = sa.select(MODELS).order_by(MODELS.c.created_at, MODELS.c.id)
        if kind is not None:
            query = query.where(MODELS.c.kind == kind)
        with self.engine.connect() as conn:
            return [ModelRecord.from_row(dict(r)) for r in conn.execute(query).mappings()]

    def champion_id(self) -> str | None:
        """The promoted model that has not been retired since, if any."""
        with self.engine.connect() as conn:
            return _champion(conn)

    def promotion_history(self, model_id: str | None = None) -> list[PromotionRow]:
        query = sa.select(PROMOTIONS).order_by(PROMOTIONS.c.id)
        if model_id is not None:
            query = query.where(PROMOTIONS.c.model_id == model_id)
        with self.engine.connect() as conn:
            return [PromotionRow.from_row(dict(r)) for r in conn.execute(query).mappings()]

    def resolve(self, ref: str) -> str:
        """A model id, or "promoted" for the current champion."""
        if ref != PROMOTED:
            return self.get(ref).id
        champion = self.champion_id()
        if champion is None:
            raise ModelStoreError("no model has been promoted yet")
        return champion

    def load(self, ref: str = PROMOTED, *, live_spec: FeatureSpec | None = DEFAULT_SPEC,
             obs_shape: tuple[int, ...] | None = None) -> ModelBundle:
        """The model ``ref`` (id or "promoted"), checked against ``live_spec`` (None: no
        check): a different FeatureSpec hash or observation shape raises
        ``ModelMismatchError`` naming both, before the weights are even read."""
        record = self.get(self.resolve(ref))
        folder = record.path
        if not folder.is_dir():
            raise ModelStoreError(f"model {record.id}: directory {folder} is missing")
        spec = read_feature_spec(record)
        if live_spec is not None and spec.version != live_spec.version:
            raise ModelMismatchError(
                f"model {record.id} was trained with FeatureSpec {spec.version}, but the live "
                f"FeatureSpec is {live_spec.version}; retrain it or run the matching spec")
        bundle = read_bundle(folder, record, spec, read_execution_spec(record))
        if live_spec is not None:
            bundle.check_compatible(live_spec, obs_shape)
        return bundle

    def execution_spec(self, ref: str = PROMOTED) -> ExecutionSpec:
        """The ``ExecutionSpec`` of model ``ref`` without loading its weights (cheap: a
        trading session checks it before anything else)."""
        return read_execution_spec(self.get(self.resolve(ref)))


def _champion(conn: Connection) -> str | None:
    rows = conn.execute(sa.select(PROMOTIONS.c.model_id, PROMOTIONS.c.decision)
                        .where(PROMOTIONS.c.decision.in_(("promoted", "retired")))
                        .order_by(PROMOTIONS.c.id)).all()
    champion = None
    for model_id, decision in rows:
        if decision == "promoted":
            champion = model_id
        elif model_id == champion:
            champion = None
    return champion


def _append(conn: Connection, model_id: str, decision: str, previous: str | None,
            reason: str, report: dict[str, Any], at: datetime) -> int:
    result = conn.execute(PROMOTIONS.insert().values(
        model_id=model_id, decision=decision, previous_champion_id=previous, reason=reason,
        report=json_safe(report), decided_at=at).returning(PROMOTIONS.c.id))
    return int(result.scalar_one())


def _set_status(conn: Connection, model_id: str, status: ModelStatus | str) -> None:
    conn.execute(MODELS.update().where(MODELS.c.id == model_id).values(status=status))
