"""A model's directory on disk: what ``ModelStore`` writes and reads beside its registry row.

Each model is a directory ``<root>/<model id>/``:

=====================  ==============================================================
file                   content
=====================  ==============================================================
model.zip              the SB3 RecurrentPPO save (policy weights, spaces, hyperparameters)
feature_spec.json      the FeatureSpec (full definition) and its version hash
execution_spec.json    the ExecutionSpec (how it trades: shorts, step, cap, timing,
                       costs, evaluation book) and its version hash
normalization.json     per symbol, the normaliser fit on the training window
config.json            the ``TrainingConfig`` (with the env settings)
data_hashes.json       training window and per-symbol sha256 of its bars
metrics.json           training metrics (learning curve, fps) and later evaluations
manifest.json          id, kind, parent, symbols, observation shape, actions, versions
=====================  ==============================================================

Reading verifies what it can without the registry: the FeatureSpec and its normalisers
agree, and ``execution_spec.json`` hashes to the version recorded in it and in the manifest.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sb3_contrib import RecurrentPPO

from intraday_jules.agent.bundle import ModelBundle, ModelMismatchError
from intraday_jules.agent.config import TrainingConfig
from intraday_jules.agent.data import DateWindow
from intraday_jules.agent.execution_spec import ExecutionSpec
from intraday_jules.agent.registry import ModelRecord
from intraday_jules.features import FeatureSpec
from intraday_jules.features.normalize import Normalizer


class ModelStoreError(LookupError):
    """A model id is unknown, its directory or one of its files is missing, or no model is
    promoted (raised here and by ``ModelStore``)."""


def read_feature_spec(record: ModelRecord) -> FeatureSpec:
    """The model's ``feature_spec.json``, which must hash to the registry's spec version."""
    spec = FeatureSpec.from_dict(read_json(record.path / "feature_spec.json")["spec"])
    if spec.version != record.spec_version:
        raise ModelMismatchError(f"model {record.id}: feature_spec.json hashes to "
                                 f"{spec.version}, the registry says {record.spec_version}")
    return spec


def read_execution_spec(record: ModelRecord) -> ExecutionSpec:
    """Read and verify ``execution_spec.json``: its spec must hash to the version in the
    file and in ``manifest.json``. A model saved before execution specs existed has no
    file: its spec is derived from its saved TrainingConfig (the env's rules) and the
    default cost model, which is what it was trained and evaluated with."""
    folder = record.path
    path = folder / "execution_spec.json"
    if not path.is_file():
        config = TrainingConfig.from_dict(read_json(folder / "config.json"))
        return ExecutionSpec.from_training(config, record.symbols)
    document = read_json(path)
    spec = ExecutionSpec.from_dict(document["spec"])
    recorded = read_json(folder / "manifest.json").get("execution_spec_version")
    for where, version in (("execution_spec.json", document.get("version")),
                           ("manifest.json", recorded)):
        if version != spec.version:
            raise ModelMismatchError(
                f"model {record.id}: execution_spec.json hashes to {spec.version}, "
                f"{where} says {version}; the file was changed after the model was saved")
    return spec


def read_bundle(folder: Path, record: ModelRecord, spec: FeatureSpec,
                execution: ExecutionSpec) -> ModelBundle:
    """The model of ``folder`` (weights included) with its checked specs."""
    normalizers = {s: Normalizer.from_dict(d)
                   for s, d in read_json(folder / "normalization.json").items()}
    for normalizer in normalizers.values():
        normalizer.check_spec(spec)
    hashes = read_json(folder / "data_hashes.json")
    config = TrainingConfig.from_dict(read_json(folder / "config.json"))
    model = RecurrentPPO.load(folder / "model.zip", device="cpu")
    return ModelBundle(
        model=model, kind=record.kind, symbols=record.symbols, spec=spec,  # type: ignore[arg-type]
        normalizers=normalizers, config=config,
        train_window=DateWindow.from_dict(hashes["window"]), data_hashes=hashes["hashes"],
        metrics=read_json(folder / "metrics.json"), parent_id=record.parent_id,
        model_id=record.id, execution=execution)


def write_model_files(folder: Path, bundle: ModelBundle, model_id: str,
                      created: datetime) -> None:
    """Every file of the model directory ``folder`` (created here, must not exist)."""
    import sb3_contrib
    import stable_baselines3

    folder.mkdir(parents=True)
    bundle.model.save(folder / "model.zip")
    documents: dict[str, Any] = {
        "feature_spec.json": {"version": bundle.spec.version, "spec": bundle.spec.to_dict()},
        "execution_spec.json": {"version": bundle.execution.version,
                                "spec": bundle.execution.to_dict()},
        "normalization.json": {s: n.to_dict() for s, n in bundle.normalizers.items()},
        "config.json": bundle.config.to_dict(),
        "data_hashes.json": {"window": bundle.train_window.to_dict(),
                             "hashes": dict(bundle.data_hashes)},
        "metrics.json": json_safe(bundle.metrics),
        "manifest.json": {"id": model_id, "kind": bundle.kind, "parent_id": bundle.parent_id,
                          "symbols": list(bundle.symbols), "obs_shape": list(bundle.obs_shape),
                          "n_actions": bundle.n_actions, "spec_version": bundle.spec.version,
                          "execution_spec_version": bundle.execution.version,
                          "created_at": created.isoformat(), "seed": bundle.config.seed,
                          "stable_baselines3": stable_baselines3.__version__,
                          "sb3_contrib": sb3_contrib.__version__},
    }
    for name, document in documents.items():
        (folder / name).write_text(dump_json(document))


def json_safe(value: Any) -> Any:
    """Plain JSON values (NaN/inf become null, numpy scalars Python numbers), so the row and
    the files hold the same document."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    if hasattr(value, "item"):
        return json_safe(value.item())
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def dump_json(document: Any) -> str:
    return json.dumps(json_safe(document), indent=2, sort_keys=True)


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise ModelStoreError(f"model file {path} is missing")
    return json.loads(path.read_text())
