"""The stateful session API over real HTTP (the app under uvicorn on loopback, in a thread):
answers equal ``LivePolicy`` on the same bars bit for bit, refusals leave the session as it
was, sessions expire and are bounded, and sessions run side by side independently."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pandas as pd
import pytest

from intraday_jules.agent import LiveDecision, LivePolicy
from intraday_jules.agent.policy import ActionMode
from intraday_jules.domain.calendar import session_window
from intraday_jules.service import create_app
from intraday_jules.service.loadcheck import session_burst
from intraday_jules.service.protection import admitted
from intraday_jules.service.sessions import SessionLimits
from intraday_jules_tests.service.conftest import (
    SESSION,
    Models,
    bars_payload,
    first_regular_minutes,
    serve_in_thread,
    set_champion,
)

TTL_S = 600
MAX_SESSIONS = 3


class StepClock:
    """The injected clock: stands still until a test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2025, 2, 20, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def clock() -> StepClock:
    return StepClock()


@pytest.fixture(scope="module")
def url(models: Models, clock: StepClock) -> Iterator[str]:
    app = create_app(store=models.store, clock=clock,
                     session_limits=SessionLimits(ttl_s=TTL_S, max_sessions=MAX_SESSIONS))
    with serve_in_thread(app) as base:
        yield base


@pytest.fixture
def http(url: str, models: Models, clock: StepClock) -> Iterator[httpx.Client]:
    """A client; every session a test opened is expired afterwards (the clock moves past the
    TTL), so each test starts with room for MAX_SESSIONS."""
    set_champion(models.store, models.dual_a)
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client
    clock.now += timedelta(seconds=TTL_S + 1)


def open_session(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/sessions", json={"session": SESSION.isoformat(), **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def minute_chunks(bars: pd.DataFrame) -> list[pd.DataFrame]:
    """The session's bars as a client sends them: everything before 09:25 ET in one request,
    then each minute up to 16:05 ET, then the rest of the evening in 30-minute requests."""
    local = bars["ts"].dt.tz_convert("America/New_York")
    minute = local.dt.hour * 60 + local.dt.minute
    keys = minute.where(minute >= 9 * 60 + 25, -1)
    keys = keys.where(minute <= 16 * 60 + 5, 10_000 + (minute // 30))
    return [chunk for _, chunk in bars.groupby(keys.to_numpy(), sort=True)]


def assert_same(answer: dict[str, Any], expected: LiveDecision | None) -> None:
    if expected is None:
        assert answer["decided"] is False and answer["action"] is None, answer
        assert answer["reason"], answer
        return
    assert answer["decided"] is True, answer
    assert pd.Timestamp(answer["ts"]) == expected.ts
    assert answer["action"] == expected.action
    assert answer["probabilities"] == list(expected.probabilities)  # bit for bit
    assert answer["per_asset"] == expected.per_asset
    assert answer["forced_flatten"] == expected.forced_flatten
    assert tuple(answer["shares_before"].values()) == expected.shares_before


@pytest.mark.parametrize(("mode", "seed"), [("sample", 5)])
def test_a_whole_session_fed_bar_by_bar_answers_exactly_what_live_policy_answers(
        http: httpx.Client, models: Models, session_bars: pd.DataFrame, mode: ActionMode,
        seed: int) -> None:
    created = open_session(http, mode=mode, seed=seed)
    assert created["model_id"] == models.dual_a and created["expires_after_s"] == TTL_S
    reference = LivePolicy(models.store.load(models.dual_a), seed=seed, mode=mode)
    window = session_window(SESSION)
    decided, flattened, sent = 0, 0, 0
    for chunk in minute_chunks(session_bars):
        sent += len(chunk)
        response = http.post(f"/sessions/{created['id']}/bars",
                             json={"bars": bars_payload(chunk)})
        assert response.status_code == 200, response.text
        answer = response.json()
        so_far = session_bars.iloc[:sent]
        regular = bool(so_far["ts"].map(window.contains).any())
        expected = reference.decide(so_far) if regular else None
        assert_same(answer, expected)
        assert answer["bars"] == sent and answer["steps"] == len(reference.history)
        decided += answer["decided"]
        flattened += bool(answer["forced_flatten"])
    assert sent == len(session_bars)
    assert decided > 300 and flattened == 1  # the day's decisions, and one forced flatten


def test_a_refused_request_keeps_nothing_and_names_symbol_ts_and_field(
        http: httpx.Client, models: Models, session_bars: pd.DataFrame) -> None:
    created = open_session(http)
    path = f"/sessions/{created['id']}/bars"
    bars = first_regular_minutes(session_bars, 70)
    head, nxt = bars.iloc[:-2], bars.iloc[-2:]
    assert http.post(path, json={"bars": bars_payload(head)}).status_code == 200
    last = bars_payload(head.iloc[[-1]])[0]
    fresh = [b for b in bars_payload(nxt) if b["symbol"] != last["symbol"]]
    duplicate = http.post(path, json={"bars": [*fresh, last]})  # a new bar, then a duplicate
    assert duplicate.status_code == 422
    (problem,) = duplicate.json()["detail"]
    assert problem["loc"] == ["body", "bars", len(fresh), "ts"]
    assert last["symbol"] in problem["msg"] and "duplicate" in problem["msg"]
    assert pd.Timestamp(last["ts"]).isoformat() in problem["msg"]
    older = http.post(path, json={"bars": bars_payload(head.iloc[[-4]])})
    assert older.status_code == 422 and "older than" in older.json()["detail"][0]["msg"]
    other_day = dict(bars_payload(nxt)[0], ts="2025-02-21T15:00:00+00:00")
    wrong_day = http.post(path, json={"bars": [other_day]})
    assert wrong_day.status_code == 422 and "2025-02-21" in wrong_day.json()["detail"][0]["msg"]
    wild = dict(bars_payload(nxt)[0])
    wild.update(close=wild["close"] * 3, high=wild["close"] * 3)
    implausible = http.post(path, json={"bars": [wild]})
    assert implausible.status_code == 422
    assert implausible.json()["detail"][0]["loc"][-1] in {"close", "high"}
    # none of the refused bars was kept: the next bars extend the session as if never sent
    answer = http.post(path, json={"bars": bars_payload(nxt)}).json()
    assert answer["bars"] == len(bars)
    assert_same(answer, LivePolicy(models.store.load(models.dual_a)).decide(bars))


def test_a_session_opens_for_a_named_unpromoted_model_and_refuses_bad_openings(
        http: httpx.Client, models: Models, session_bars: pd.DataFrame) -> None:
    created = open_session(http, model_id=models.dual_b, mode="argmax")
    bars = first_regular_minutes(session_bars, 60)
    answer = http.post(f"/sessions/{created['id']}/bars", json={"bars": bars_payload(bars)})
    assert answer.json()["model_id"] == models.dual_b
    assert_same(answer.json(), LivePolicy(models.store.load(models.dual_b),
                                          mode="argmax").decide(bars))
    assert http.post("/sessions", json={"session": "2025-02-22"}).status_code == 422  # Saturday
    assert http.post("/sessions", json={"session": 20250220}).status_code == 422
    unknown = http.post("/sessions", json={"session": "2025-02-20", "model_id": "nope"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    other = http.post("/sessions", json={"session": "2025-02-20",
                                         "model_id": models.other_spec})
    assert other.status_code == 409 and models.other_spec in other.json()["detail"]
    set_champion(models.store, None)
    no_model = http.post("/sessions", json={"session": "2025-02-20"})
    assert no_model.status_code == 503 and "no model has been promoted" in (
        no_model.json()["reason"])


def test_delete_ends_a_session_and_idle_sessions_expire_and_are_bounded(
        http: httpx.Client, clock: StepClock, session_bars: pd.DataFrame) -> None:
    bars = {"bars": bars_payload(first_regular_minutes(session_bars, 5))}
    first = open_session(http)
    assert http.delete(f"/sessions/{first['id']}").status_code == 204
    assert http.post(f"/sessions/{first['id']}/bars", json=bars).status_code == 404
    assert http.delete(f"/sessions/{first['id']}").status_code == 404
    ids = [open_session(http)["id"] for _ in range(MAX_SESSIONS)]
    full = http.post("/sessions", json={"session": SESSION.isoformat()})
    assert full.status_code == 429 and "MAX_SESSIONS" in full.json()["detail"]
    clock.now += timedelta(seconds=TTL_S - 1)
    assert http.post(f"/sessions/{ids[0]}/bars", json=bars).status_code == 200  # still alive
    clock.now += timedelta(seconds=2)  # the others idle for TTL_S + 1 s now
    assert http.post(f"/sessions/{ids[1]}/bars", json=bars).status_code == 404
    open_session(http)  # room again: the idle ones were dropped


def test_sessions_side_by_side_are_independent(
        http: httpx.Client, models: Models, session_bars: pd.DataFrame) -> None:
    bars = first_regular_minutes(session_bars, 75)
    chunks = minute_chunks(bars)
    seeds = list(range(MAX_SESSIONS))
    ids = [open_session(http, seed=seed)["id"] for seed in seeds]

    def feed(k: int) -> list[dict[str, Any]]:
        with httpx.Client(base_url=str(http.base_url), timeout=60) as client:
            return [client.post(f"/sessions/{ids[k]}/bars",
                                json={"bars": bars_payload(chunk)}).json()
                    for chunk in chunks]

    with ThreadPoolExecutor(len(ids)) as pool:
        answers = list(pool.map(feed, range(len(ids))))
    bundle = models.store.load(models.dual_a)
    for seed, session_answers in zip(seeds, answers, strict=True):
        reference, sent = LivePolicy(bundle, seed=seed), 0
        for chunk, answer in zip(chunks, session_answers, strict=True):
            sent += len(chunk)
            so_far = bars.iloc[:sent]
            regular = bool(so_far["ts"].map(session_window(SESSION).contains).any())
            assert_same(answer, reference.decide(so_far) if regular else None)


def test_session_bars_count_against_the_model_concurrency_limit() -> None:
    assert admitted("/predict") and admitted("/sessions/abc/bars")
    assert not admitted("/sessions") and not admitted("/sessions/abc")
    assert not admitted("/health") and not admitted("/sessions/abc/bars/x")


def test_docs_and_redoc_load_only_local_assets(http: httpx.Client) -> None:
    import re

    for page in ("/docs", "/redoc"):
        response = http.get(page)
        assert response.status_code == 200
        html = response.text
        assert "cdn" not in html.lower() and "googleapis" not in html
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assets = [u for u in urls if u.endswith((".js", ".css"))]
        assert assets, html
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            fetched = http.get(asset)
            assert fetched.status_code == 200, asset
            kind = fetched.headers["content-type"]
            assert ("javascript" in kind or "css" in kind) and len(fetched.content) > 10_000
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/sessions", "/sessions/{session_id}/bars", "/sessions/{session_id}"} <= set(paths)


def test_a_bad_body_is_a_422_naming_the_field_and_leaves_the_session_as_it_was(
        http: httpx.Client, models: Models, session_bars: pd.DataFrame) -> None:
    """The bars route parses its body itself (no FastAPI body parameter): the refusals must
    be FastAPI's, ``loc`` from "body" on, and the route documented with its body schema."""
    created = open_session(http)
    path = f"/sessions/{created['id']}/bars"
    bars = bars_payload(first_regular_minutes(session_bars, 60))
    insane = http.post(path, json={"bars": [dict(bars[0], high=bars[0]["low"] - 1)]})
    assert insane.status_code == 422
    assert insane.json()["detail"][0]["loc"] == ["body", "bars", 0, "high"]
    extra = http.post(path, json={"bars": bars[:1], "sneaky": 1})
    assert extra.status_code == 422 and extra.json()["detail"][0]["loc"] == ["body", "sneaky"]
    broken = http.post(path, content=b'{"bars": [', headers={"content-type": "application/json"})
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"
    assert broken.json()["detail"][0]["loc"][0] == "body"
    unknown = http.post("/sessions/nope/bars", json={"bars": bars[:1]})
    assert unknown.status_code == 404
    answer = http.post(path, json={"bars": bars}).json()
    assert answer["bars"] == len(bars)
    assert_same(answer, LivePolicy(models.store.load(models.dual_a)).decide(
        first_regular_minutes(session_bars, 60)))
    saturday = http.post("/sessions", json={"session": "2025-02-22"})
    assert "session 2025-02-22, which is not an XNYS trading session" in saturday.text
    route = http.get("/openapi.json").json()["paths"]["/sessions/{session_id}/bars"]["post"]
    body = route["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["bars"]["items"] == {"$ref": "#/components/schemas/BarIn"}
    assert body["required"] == ["bars"] and "422" in route["responses"]


def test_the_benchmark_client_drives_concurrent_sessions_over_real_connections(
        http: httpx.Client, url: str, models: Models, session_bars: pd.DataFrame) -> None:
    bars = first_regular_minutes(session_bars, 55)  # ``http``: the champion is set
    minutes = [bars_payload(chunk) for chunk in minute_chunks(bars)]
    result = session_burst(url, {"session": SESSION.isoformat()}, minutes, concurrency=2)
    assert dict(result.statuses) == {200: 2 * len(minutes)}
    reference = LivePolicy(models.store.load(models.dual_a))
    reference.decide(bars)
    assert result.decided == 2 * len(reference.history) > 0  # one answer per decision bar
    assert min(result.latencies_ms) > 0 and result.rps > 0
    refused = session_burst(url, {"session": "2025-02-22"}, minutes, concurrency=2)
    assert dict(refused.statuses) == {422: 2}
