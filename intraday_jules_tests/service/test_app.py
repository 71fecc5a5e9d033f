"""The inference service over HTTP: health, readiness, predictions equal to the agent's own,
FeatureSpec refusal, hot reload on promotion, the model's description, and a load check.

One real server (the uvicorn CLI on the module-level app, configured by environment variables)
serves every test here; each test sets the registry's champion it needs first."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from httpx import Client

from intraday_jules import __version__
from intraday_jules.agent import LivePolicy
from intraday_jules.agent.policy import ActionMode, PolicyStepper, choose_actions
from intraday_jules.features import DEFAULT_SPEC
from intraday_jules.service.loadcheck import ServiceProcess, burst
from intraday_jules_tests.service.conftest import (
    OTHER_SPEC,
    Models,
    bars_payload,
    first_regular_minutes,
    set_champion,
)


@pytest.fixture
def http(server: ServiceProcess) -> Iterator[Client]:
    with Client(base_url=server.url, timeout=60) as client:
        yield client


def test_health_is_200_with_the_version_whatever_the_model_state(
        http: Client, models: Models) -> None:
    set_champion(models.store, None)
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["version"] == __version__


def test_ready_is_503_with_the_reason_until_a_model_is_promoted_then_200(
        http: Client, models: Models) -> None:
    set_champion(models.store, None)
    response = http.get("/ready")
    assert response.status_code == 503
    assert response.json()["ready"] is False and "no model has been promoted" in (
        response.json()["reason"])
    assert http.post("/predict", json={"observations": [[0.0] * 26]}).status_code == 503
    assert http.get("/model").status_code == 503
    set_champion(models.store, models.dual_a)
    response = http.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"ready": True, "reason": None, "model_id": models.dual_a,
                               "model_spec_version": DEFAULT_SPEC.version,
                               "live_spec_version": DEFAULT_SPEC.version}


@pytest.mark.parametrize(("minutes", "mode", "seed"), [(120, None, 0), (200, "argmax", 5)])
def test_predict_on_a_sessions_bars_equals_live_policy_on_those_bars(
        http: Client, models: Models, session_bars: pd.DataFrame, minutes: int,
        mode: ActionMode | None, seed: int) -> None:
    set_champion(models.store, models.dual_a)
    bars = first_regular_minutes(session_bars, minutes)
    body = {"bars": bars_payload(bars), "seed": seed, **({"mode": mode} if mode else {})}
    response = http.post("/predict", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    expected = LivePolicy(models.store.load(models.dual_a), seed=seed,
                          mode=mode or "sample").decide(bars)
    assert expected is not None and answer["decided"] is True
    assert pd.Timestamp(answer["ts"]) == expected.ts == bars["ts"].max()
    assert answer["action"] == expected.action and answer["per_asset"] == expected.per_asset
    assert answer["probabilities"] == list(expected.probabilities)
    assert len(answer["probabilities"]) == 9 and abs(sum(answer["probabilities"]) - 1) < 1e-6
    nvda, msft = (answer["per_asset"][s] for s in ("NVDA", "MSFT"))
    assert answer["action"] == 3 * ["sell", "hold", "buy"].index(nvda) + [
        "sell", "hold", "buy"].index(msft)
    assert answer["model_id"] == models.dual_a and answer["steps"] == minutes - 50
    assert answer["mode"] == (mode or "sample") and answer["seed"] == seed


def test_predict_with_the_actual_book_equals_live_policy_given_that_book(
        http: Client, models: Models, session_bars: pd.DataFrame) -> None:
    set_champion(models.store, models.dual_a)
    bars = first_regular_minutes(session_bars, 80)
    held_at = sorted(bars["ts"].unique())[-10]
    body = {"bars": bars_payload(bars), "book": [
        {"ts": pd.Timestamp(held_at).isoformat(), "shares": {"NVDA": 7, "MSFT": -2}}]}
    answer = http.post("/predict", json=body).json()
    expected = LivePolicy(models.store.load(models.dual_a)).decide(
        bars, book={pd.Timestamp(held_at): (7, -2)})
    assert expected is not None
    assert answer["probabilities"] == list(expected.probabilities)
    assert answer["shares_before"] == dict(zip(("NVDA", "MSFT"), expected.shares_before,
                                               strict=True))


def test_predict_in_the_warm_up_answers_no_decision_with_the_reason(
        http: Client, models: Models, session_bars: pd.DataFrame) -> None:
    set_champion(models.store, models.dual_a)
    answer = http.post("/predict", json={
        "bars": bars_payload(first_regular_minutes(session_bars, 30))}).json()
    assert answer["decided"] is False and answer["action"] is None
    assert "warm-up" in answer["reason"] and "50" in answer["reason"]


def test_predict_with_observations_equals_the_policy_stepped_over_them(
        http: Client, models: Models) -> None:
    set_champion(models.store, models.dual_a)
    obs = np.random.default_rng(11).normal(size=(40, 26)).astype(np.float32)
    stepper = PolicyStepper(models.store.load(models.dual_a).model.policy)
    for k, row in enumerate(obs):
        probs = stepper.step(row[None], np.array([k == 0]))[0]
    ts = pd.Timestamp("2025-02-20T16:29:00Z")
    greedy = http.post("/predict", json={"observations": obs.tolist()}).json()
    assert greedy["probabilities"] == probs.tolist() and greedy["mode"] == "argmax"
    assert greedy["action"] == int(np.argmax(probs)) and greedy["steps"] == 40
    sampled = http.post("/predict", json={"observations": obs.tolist(), "seed": 9,
                                          "ts": ts.isoformat()}).json()
    expected = choose_actions(probs[None], "sample", [9], ts.value // 1000)[0]
    assert sampled["mode"] == "sample" and sampled["action"] == int(expected)
    assert http.post("/predict", json={"observations": obs.tolist(), "seed": 9,
                                       "ts": ts.isoformat()}).json() == sampled


def test_a_promoted_model_of_another_feature_spec_is_not_served_naming_both_hashes(
        http: Client, models: Models) -> None:
    set_champion(models.store, models.other_spec)
    response = http.get("/ready")
    assert response.status_code == 503
    ready = response.json()
    assert ready["model_id"] == models.other_spec
    assert (ready["model_spec_version"], ready["live_spec_version"]) == (
        OTHER_SPEC.version, DEFAULT_SPEC.version)
    assert OTHER_SPEC.version in ready["reason"] and DEFAULT_SPEC.version in ready["reason"]
    refused = http.post("/predict", json={"observations": [[0.0] * 26]})
    assert refused.status_code == 503 and refused.json()["reason"] == ready["reason"]


def test_a_newly_promoted_model_is_served_without_a_restart(
        http: Client, models: Models, server: ServiceProcess) -> None:
    obs = {"observations": np.random.default_rng(3).normal(size=(20, 26)).tolist()}
    set_champion(models.store, models.dual_a)
    before = http.post("/predict", json=obs).json()
    set_champion(models.store, models.dual_b)
    assert http.get("/ready").json()["model_id"] == models.dual_b
    after = http.post("/predict", json=obs).json()
    assert (before["model_id"], after["model_id"]) == (models.dual_a, models.dual_b)
    assert before["probabilities"] != after["probabilities"]
    assert http.get("/model").json()["id"] == models.dual_b
    assert f"serving model {models.dual_b}" in server.log()


def test_model_describes_the_served_model_and_when_it_was_promoted(
        http: Client, models: Models) -> None:
    set_champion(models.store, models.dual_a)
    info = http.get("/model").json()
    record = models.store.get(models.dual_a)
    promoted = [r for r in models.store.promotion_history(models.dual_a)
                if r.decision == "promoted"][-1]
    assert (info["id"], info["kind"], info["parent_id"]) == (
        models.dual_a, "dual", models.foundation)
    assert info["spec_version"] == DEFAULT_SPEC.version and info["status"] == "promoted"
    assert info["training_window"] == record.window.to_dict()
    assert pd.Timestamp(info["promoted_since"]) == pd.Timestamp(promoted.decided_at)
    assert info["obs_shape"] == [26] and info["n_actions"] == 9
    assert info["metrics"]["training"]["steps"] == 64
    assert "learning_curve" not in info["metrics"]["training"]
    models.store.record_evaluation(models.dual_a, {
        "window": {"start": "2025-02-05", "end": "2025-02-14"}, "seeds": 3,
        "model": {"total_return": 0.01}, "baselines": {"flat": {"total_return": 0.0}},
        "costs": {"reference": "1x"}})
    evaluation = http.get("/model").json()["metrics"]["evaluation"]
    assert evaluation["model"] == {"total_return": 0.01} and evaluation["cost"] == "1x"
    assert evaluation["baselines_total_return"] == {"flat": 0.0}


def test_a_burst_of_200_predictions_all_succeed_and_reports_latency(
        server: ServiceProcess, models: Models, session_bars: pd.DataFrame,
        capsys: pytest.CaptureFixture[str]) -> None:
    set_champion(models.store, models.dual_a)
    body = {"bars": bars_payload(first_regular_minutes(session_bars, 60))}
    result = burst(server.url, "/predict", body, requests=200, concurrency=4)
    with capsys.disabled():
        print(f"\n/predict load check (60 regular minutes of bars, 10 decision bars): "
              f"{result.line()}")
    assert result.statuses == {200: 200}
