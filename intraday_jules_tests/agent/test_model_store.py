"""ModelStore: directories + registry on SQLite and PostgreSQL; mismatches refused."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from intraday_jules.agent import (
    ExecutionSpec,
    ModelBundle,
    ModelMismatchError,
    ModelStore,
    ModelStoreError,
)
from intraday_jules.agent.policy import PolicyStepper
from intraday_jules.db.engine import create_db_engine
from intraday_jules.env import ExecutionModel
from intraday_jules.features import DEFAULT_SPEC, FeatureSpec

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models", create_db_engine(db_url), clock=lambda: T0)


def _probabilities(bundle: ModelBundle) -> np.ndarray:
    obs = np.random.default_rng(5).normal(size=(15, bundle.obs_shape[0])).astype(np.float32)
    stepper = PolicyStepper(bundle.model.policy)
    return np.array([stepper.step(o[None], np.array([k == 0]))[0] for k, o in enumerate(obs)])


def test_save_then_load_round_trips_weights_normalisation_config_and_actions(
        store: ModelStore, foundation: ModelBundle, dual: ModelBundle) -> None:
    f_record = store.save(replace(foundation, model_id=None), model_id="f-1")
    saved_dual = replace(dual, parent_id="f-1", model_id=None)
    d_record = store.save(saved_dual)
    assert saved_dual.model_id == d_record.id and d_record.parent_id == f_record.id == "f-1"
    folder = d_record.path
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "data_hashes.json", "execution_spec.json", "feature_spec.json",
        "manifest.json", "metrics.json", "model.zip", "normalization.json"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["obs_shape"] == [26] and manifest["n_actions"] == 9
    assert manifest["execution_spec_version"] == dual.execution.version
    loaded = store.load(d_record.id)
    assert loaded.execution == dual.execution
    assert loaded.execution.position_rules() == loaded.config.env.position_rules()
    np.testing.assert_array_equal(_probabilities(loaded), _probabilities(dual))
    assert loaded.config == dual.config and loaded.train_window == dual.train_window
    assert dict(loaded.data_hashes) == dict(dual.data_hashes)
    for symbol in ("NVDA", "MSFT"):
        assert loaded.normalizers[symbol].to_dict() == dual.normalizers[symbol].to_dict()


def test_registry_row_records_kind_parent_window_seed_spec_status_and_metrics(
        store: ModelStore, foundation: ModelBundle, dual: ModelBundle) -> None:
    store.save(replace(foundation), model_id="f-2")
    record = store.save(replace(dual, parent_id="f-2"), model_id="d-2")
    assert (record.kind, record.parent_id, record.seed, record.status) == ("dual", "f-2", 3,
                                                                           "trained")
    assert record.window == dual.train_window and record.symbols == ("NVDA", "MSFT")
    assert record.spec_version == DEFAULT_SPEC.version and record.created_at == T0
    assert record.metrics["steps"] == 64
    assert [r.id for r in store.records(kind="foundation")] == ["f-2"]
    evaluated = store.record_evaluation("d-2", {"model": {"total_return": 0.01}})
    assert evaluated.status == "evaluated"
    assert evaluated.metrics["evaluation"]["model"]["total_return"] == 0.01


def test_load_refuses_a_model_of_another_feature_spec_naming_both_hashes(
        store: ModelStore, foundation: ModelBundle) -> None:
    record = store.save(replace(foundation), model_id="f-3")
    live = FeatureSpec(features=DEFAULT_SPEC.features, lookback=60)
    with pytest.raises(ModelMismatchError) as caught:
        store.load(record.id, live_spec=live)
    assert DEFAULT_SPEC.version in str(caught.value) and live.version in str(caught.value)


def test_load_refuses_a_model_whose_observation_shape_differs(
        store: ModelStore, foundation: ModelBundle) -> None:
    record = store.save(replace(foundation), model_id="f-4")
    with pytest.raises(ModelMismatchError, match=r"shape \(13,\) \(FeatureSpec \w+\).*\(26,\)"):
        store.load(record.id, obs_shape=(26,))


def test_unknown_model_missing_directory_and_no_champion_are_clear_errors(
        store: ModelStore, foundation: ModelBundle) -> None:
    with pytest.raises(ModelStoreError, match="no model 'nope'"):
        store.load("nope")
    with pytest.raises(ModelStoreError, match="no model has been promoted"):
        store.load("promoted")
    record = store.save(replace(foundation), model_id="f-5")
    for path in record.path.iterdir():
        path.unlink()
    record.path.rmdir()
    with pytest.raises(ModelStoreError, match=r"directory .* is missing"):
        store.load("f-5")


def test_promotions_are_appended_and_promoted_resolves_to_the_champion(
        store: ModelStore, foundation: ModelBundle, dual: ModelBundle) -> None:
    store.save(replace(foundation), model_id="f-6")
    store.save(replace(dual, parent_id="f-6"), model_id="d-a")
    store.save(replace(dual, parent_id="f-6"), model_id="d-b")
    store.record_decision("d-a", "promoted", "passed")
    assert store.champion_id() == "d-a" and store.load("promoted").model_id == "d-a"
    store.record_decision("d-b", "rejected", "drawdown 3% > 2%")
    assert store.champion_id() == "d-a" and store.get("d-b").status == "rejected"
    store.record_decision("d-b", "promoted", "passed on new data")
    assert store.champion_id() == "d-b" and store.get("d-a").status == "retired"
    history = [(r.model_id, r.decision, r.previous_champion_id)
               for r in store.promotion_history()]
    assert history == [("d-a", "promoted", None), ("d-b", "rejected", "d-a"),
                       ("d-a", "retired", None), ("d-b", "promoted", "d-a")]


def test_promotion_history_refuses_updates_and_deletes(store: ModelStore,
                                                       foundation: ModelBundle) -> None:
    store.save(replace(foundation), model_id="f-7")
    store.record_decision("f-7", "rejected", "no")
    for statement in ("UPDATE model_promotions SET reason = 'rewritten'",
                      "DELETE FROM model_promotions"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), \
                store.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert [r.reason for r in store.promotion_history()] == ["no"]


def test_the_execution_spec_is_saved_hashed_and_read_back_without_the_weights(
        store: ModelStore, dual: ModelBundle) -> None:
    record = store.save(replace(dual), model_id="d-8")
    document = json.loads((record.path / "execution_spec.json").read_text())
    assert document["version"] == dual.execution.version
    assert ExecutionSpec.from_dict(document["spec"]) == dual.execution
    assert document["spec"]["symbols"] == ["NVDA", "MSFT"]
    assert document["spec"]["allow_short"] is False  # the one default, end to end
    assert document["spec"]["costs"] == ExecutionModel().config.to_dict()
    assert store.execution_spec("d-8") == dual.execution


def test_load_refuses_an_execution_spec_edited_after_saving(
        store: ModelStore, dual: ModelBundle) -> None:
    record = store.save(replace(dual), model_id="d-9")
    path = record.path / "execution_spec.json"
    document = json.loads(path.read_text())
    document["spec"]["allow_short"] = True  # the version no longer matches the content
    path.write_text(json.dumps(document))
    edited = ExecutionSpec.from_dict(document["spec"]).version
    with pytest.raises(ModelMismatchError, match=r"execution_spec\.json hashes to") as caught:
        store.load("d-9")
    assert edited in str(caught.value) and dual.execution.version in str(caught.value)
    document["version"] = edited  # rewriting the file's own hash is caught by the manifest
    path.write_text(json.dumps(document))
    with pytest.raises(ModelMismatchError, match=r"manifest\.json says"):
        store.execution_spec("d-9")


def test_a_model_saved_before_execution_specs_loads_with_the_spec_of_its_config(
        store: ModelStore, dual: ModelBundle) -> None:
    shorting = replace(dual.config, env=replace(dual.config.env, allow_short=True))
    record = store.save(replace(dual, config=shorting, execution=None), model_id="d-10")
    (record.path / "execution_spec.json").unlink()
    manifest = json.loads((record.path / "manifest.json").read_text())
    del manifest["execution_spec_version"]
    (record.path / "manifest.json").write_text(json.dumps(manifest))
    loaded = store.load("d-10")
    assert loaded.execution.allow_short is True and loaded.execution.symbols == ("NVDA", "MSFT")
    assert loaded.execution == ExecutionSpec.from_training(shorting, ("NVDA", "MSFT"))
