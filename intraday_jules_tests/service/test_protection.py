"""The service's front door (issue 11, finding 7): a request-size limit (413), admission
control (503 + Retry-After, /health stays fast), bearer-token authentication (401; refusal to
start exposed without a token), and 422 instead of 500 for malformed or implausible values.

Each check runs against the real server (the uvicorn CLI in a child process) unless it is
about one ASGI detail that a real socket cannot produce here."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from intraday_jules.service.loadcheck import (
    ServiceProcess,
    free_port,
    run_service,
    service_command,
)
from intraday_jules.service.protection import (
    Guard,
    GuardConfig,
    ServiceLimits,
    command_line_host,
    is_loopback,
)
from intraday_jules_tests.service.conftest import (
    Models,
    bars_payload,
    first_regular_minutes,
    service_env,
    set_champion,
)

TOKEN = "svc-T0ken-for-tests-8d1f"  # a throw-away test token
EVERYWHERE = "0.0.0.0"  # noqa: S104  # binding beyond loopback is what these tests are about
BIG_BODY_BYTES = 52_800_000  # the finding's body: 52.8 MB


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def _big_observations_body(size: int) -> bytes:
    row = b"[" + b",".join([b"0.125"] * 26) + b"]"
    count = size // (len(row) + 1)
    return b'{"observations": [' + b",".join([row] * count) + b"]}"


def _health_latencies(url: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            assert client.get("/health").status_code == 200
            out.append(time.perf_counter() - started)
            time.sleep(0.02)


@pytest.fixture
def ready(server: ServiceProcess, models: Models) -> ServiceProcess:
    set_champion(models.store, models.dual_a)  # servable: only the request decides the answer
    return server


# --- size ----------------------------------------------------------------------------------

def test_a_body_over_the_size_limit_is_413_before_parsing_and_memory_and_health_hold(
        ready: ServiceProcess) -> None:
    body = _big_observations_body(BIG_BODY_BYTES)
    assert len(body) > 50_000_000
    rss_before = _rss_bytes(ready.process.pid)
    stop, latencies = threading.Event(), list[float]()
    poller = threading.Thread(target=_health_latencies, args=(ready.url, stop, latencies))
    poller.start()
    try:
        declared = httpx.post(f"{ready.url}/predict", content=body, timeout=120,
                              headers={"content-type": "application/json"})

        def chunks() -> Iterator[bytes]:  # no Content-Length: refused while streaming
            for start in range(0, len(body), 1 << 16):
                yield body[start:start + (1 << 16)]

        streamed = httpx.post(f"{ready.url}/predict", content=chunks(), timeout=120,
                              headers={"content-type": "application/json"})
    finally:
        stop.set()
        poller.join()
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert "1048576 bytes" in response.json()["detail"]
    growth = _rss_bytes(ready.process.pid) - rss_before
    # Parsing it took RSS from 404 MB to 938 MB; refused unread, the body never accumulates.
    assert growth < 50_000_000, f"RSS grew {growth / 1e6:.1f} MB"
    assert latencies and max(latencies) < 1.0, f"/health took up to {max(latencies):.2f} s"
    assert httpx.get(f"{ready.url}/health", timeout=10).status_code == 200


def test_a_body_just_under_the_size_limit_is_parsed_normally(ready: ServiceProcess) -> None:
    body = {"observations": [[0.0] * 26] * 960, "ts": "2025-02-20T16:29:00Z"}
    text = json.dumps(body)
    assert len(text) < 1_048_576
    response = httpx.post(f"{ready.url}/predict", content=text, timeout=60,
                          headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


# --- admission -----------------------------------------------------------------------------

def test_predict_beyond_the_concurrency_limit_is_503_with_retry_after_at_once_and_health_fast(
        models: Models, service_home: Path, session_bars: pd.DataFrame,
        tmp_path: Path) -> None:
    set_champion(models.store, models.dual_a)
    env = service_env(service_home, INTRADAY_JULES_SERVICE_MAX_CONCURRENCY="1",
                      INTRADAY_JULES_SERVICE_MAX_QUEUE="1")
    payload = json.dumps({"bars": bars_payload(session_bars)}).encode()  # a whole session
    clients = 12
    results: list[tuple[int, float, str | None]] = []
    start = threading.Barrier(clients)

    def one() -> None:
        with httpx.Client(timeout=120) as client:
            start.wait()
            began = time.perf_counter()
            response = client.post(f"{service.url}/predict", content=payload,
                                   headers={"content-type": "application/json"})
            results.append((response.status_code, time.perf_counter() - began,
                            response.headers.get("retry-after")))

    with run_service(env, tmp_path / "service.log") as service:
        warm = httpx.post(f"{service.url}/predict", content=payload, timeout=120,
                          headers={"content-type": "application/json"})
        assert warm.status_code == 200, warm.text  # the model is loaded before the burst
        stop, latencies = threading.Event(), list[float]()
        poller = threading.Thread(target=_health_latencies, args=(service.url, stop, latencies))
        poller.start()
        threads = [threading.Thread(target=one) for _ in range(clients)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            stop.set()
            poller.join()
    statuses = sorted(status for status, _, _ in results)
    assert set(statuses) == {200, 503}, statuses
    busy = [(seconds, retry) for status, seconds, retry in results if status == 503]
    served = [seconds for status, seconds, _ in results if status == 200]
    # 1 running + 1 waiting at a time: most of the 12 simultaneous requests are turned away
    assert len(busy) >= clients // 2 and len(served) >= 2, statuses
    assert all(retry == "1" for _, retry in busy)
    assert max(seconds for seconds, _ in busy) < min(served), (busy, served)  # not queued
    assert max(latencies) < 1.0, f"/health took up to {max(latencies):.2f} s"


# --- authentication ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def token_server(models: Models, service_home: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The app on loopback with a service token from the environment override."""
    env = service_env(service_home, INTRADAY_JULES_SERVICE_TOKEN=TOKEN)
    with run_service(env, tmp_path_factory.mktemp("token") / "service.log") as service:
        yield service


@pytest.mark.parametrize(("method", "path"), [("GET", "/ready"), ("GET", "/model"),
                                              ("POST", "/predict"), ("GET", "/openapi.json"),
                                              ("POST", "/sessions"), ("POST", "/sessions/x/bars"),
                                              ("DELETE", "/sessions/x"), ("GET", "/docs")])
@pytest.mark.parametrize("header", [None, "Bearer wrong-token-123", f"Basic {TOKEN}",
                                    f"Bearer {TOKEN}x", "Bearer"])
def test_every_endpoint_but_health_is_401_without_the_right_token_when_one_is_set(
        token_server: ServiceProcess, models: Models, method: str, path: str,
        header: str | None) -> None:
    set_champion(models.store, models.dual_a)
    headers = {"authorization": header} if header is not None else {}
    response = httpx.request(method, f"{token_server.url}{path}", headers=headers, timeout=30,
                             json={"observations": [[0.0] * 26]} if method == "POST" else None)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert "bearer token" in response.json()["detail"]


def test_with_the_right_token_every_endpoint_answers_and_health_needs_none(
        token_server: ServiceProcess, models: Models) -> None:
    set_champion(models.store, models.dual_a)
    auth = {"authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=token_server.url, timeout=60) as http:
        assert http.get("/health").status_code == 200
        assert http.get("/ready", headers=auth).status_code == 200
        assert http.get("/model", headers=auth).json()["id"] == models.dual_a
        answer = http.post("/predict", headers=auth, json={"observations": [[0.0] * 26]})
        assert answer.status_code == 200 and answer.json()["model_id"] == models.dual_a
        opened = http.post("/sessions", headers=auth, json={"session": "2025-02-20"})
        assert opened.status_code == 201 and opened.json()["model_id"] == models.dual_a
        closed = http.delete(f"/sessions/{opened.json()['id']}", headers=auth)
        assert closed.status_code == 204
    assert TOKEN not in token_server.log()


def test_the_service_refuses_to_start_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    result = subprocess.run(
        service_command(free_port(), host=EVERYWHERE),
        env=service_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "refusing to start" in output and EVERYWHERE in output, output[-3000:]
    assert "INTRADAY_JULES_SERVICE_TOKEN" in output and "service_token" in output


def test_the_service_starts_beyond_loopback_with_a_token_and_enforces_it(
        models: Models, service_home: Path, tmp_path: Path) -> None:
    set_champion(models.store, models.dual_a)
    env = service_env(service_home, INTRADAY_JULES_SERVICE_TOKEN=TOKEN)
    with run_service(env, tmp_path / "service.log", host=EVERYWHERE) as service:
        assert httpx.get(f"{service.url}/health", timeout=10).status_code == 200
        assert httpx.get(f"{service.url}/ready", timeout=30).status_code == 401
        assert httpx.get(f"{service.url}/ready", timeout=30, headers={
            "authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_without_a_token_a_request_arriving_beyond_loopback_is_403() -> None:
    """Backstop for a bind the app could not see (e.g. ``uvicorn.run(app, host=...)``): the
    request's local address decides. A real non-loopback socket is not available in every
    test environment, so the guard is driven with the ASGI scope uvicorn would give it."""
    reached: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    state = type("State", (), {"guard": GuardConfig(ServiceLimits())})()
    sent: list[dict[str, Any]] = []

    async def run(path: str, server: tuple[str, int]) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path, "headers": [],
                 "server": server, "app": type("App", (), {"state": state})()}
        await Guard(inner)(scope, receive, send)

    asyncio.run(run("/ready", ("10.1.2.3", 8000)))
    assert sent[0]["status"] == 403 and not reached
    assert b"beyond loopback" in sent[1]["body"]
    asyncio.run(run("/health", ("10.1.2.3", 8000)))
    asyncio.run(run("/ready", ("127.0.0.1", 8000)))
    assert reached == ["/health", "/ready"]


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.3.4.5", True), ("::1", True), ("[::1]", True),
    ("localhost", True), (None, True), (EVERYWHERE, False), ("::", False),
    ("192.168.1.20", False), ("example.org", False)])
def test_only_loopback_addresses_count_as_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_bind_host_is_read_from_the_uvicorn_command_line() -> None:
    assert command_line_host(["uvicorn", "m:app", "--host", EVERYWHERE], {}) == EVERYWHERE
    assert command_line_host(["uvicorn", "m:app", "--host=::"], {}) == "::"
    assert command_line_host(["uvicorn", "m:app"], {"UVICORN_HOST": "10.0.0.1"}) == "10.0.0.1"
    assert command_line_host(["uvicorn", "m:app"], {}) == "127.0.0.1"
    assert command_line_host(["uvicorn", "m:app", "--uds", "/tmp/s"], {}) is None
    assert not is_loopback(command_line_host(["uvicorn", "m:app", "--fd", "3"], {}))


# --- malformed and implausible values: 422, never 500 ---------------------------------------

@pytest.fixture(scope="module")
def good_bars(session_bars: pd.DataFrame) -> list[dict[str, Any]]:
    return bars_payload(first_regular_minutes(session_bars, 60))


def _post(url: str, text: str) -> httpx.Response:
    return httpx.post(f"{url}/predict", content=text.encode("utf-8", "surrogatepass"),
                      headers={"content-type": "application/json"}, timeout=60)


def _with_bar(bars: list[dict[str, Any]], i: int, **fields: Any) -> str:
    changed = [dict(b) for b in bars]
    changed[i].update(fields)
    return json.dumps({"bars": changed})


def test_a_lone_surrogate_anywhere_is_422_not_500(ready: ServiceProcess,
                                                   good_bars: list[dict[str, Any]]) -> None:
    for text, loc in [
            (_with_bar(good_bars, 0, symbol="\ud800"), ["body", "bars", 0, "symbol"]),
            (_with_bar(good_bars, 1, ts="2025-02-20T14:3\ud800"), ["body", "bars", 1, "ts"]),
            (json.dumps({"observations": [[0.0] * 26], "mode": "\ud800"}), ["body", "mode"]),
            (_with_bar(good_bars, 2, **{"\ud800": 1}), ["body", "bars", 2])]:  # the key
        response = _post(ready.url, text)
        assert response.status_code == 422, response.text
        assert [e["loc"] for e in response.json()["detail"]] == [loc]


def test_a_volume_of_2_to_the_70_is_422_naming_the_volume(
        ready: ServiceProcess, good_bars: list[dict[str, Any]]) -> None:
    response = _post(ready.url, _with_bar(good_bars, 4, volume=2**70))
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "bars", 4, "volume"] and error["type"] == "less_than_equal"


def test_a_price_of_1e308_is_422_naming_the_field_not_a_decision(
        ready: ServiceProcess, good_bars: list[dict[str, Any]]) -> None:
    response = _post(ready.url, _with_bar(good_bars, 5, high=1e308))
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "bars", 5, "high"] and error["type"] == "less_than_equal"


def test_a_price_far_from_the_requests_own_bars_is_422_naming_bar_and_field(
        ready: ServiceProcess, good_bars: list[dict[str, Any]]) -> None:
    i = len(good_bars) - 3
    bar = good_bars[i]
    response = _post(ready.url, _with_bar(good_bars, i, high=bar["high"] * 3))
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [["body", "bars", i, "high"]]
    assert bar["symbol"] in errors[0]["msg"] and bar["ts"][:16] in errors[0]["msg"]
    tiny = _post(ready.url, _with_bar(good_bars, 0, open=1e-300, low=1e-300))
    assert tiny.status_code == 422
    assert {tuple(e["loc"]) for e in tiny.json()["detail"]} == {
        ("body", "bars", 0, "open"), ("body", "bars", 0, "low")}


@pytest.mark.parametrize(("text", "loc"), [
    ('{"observations": [[' + "9" * 5000 + "]]}", ["body"]),  # beyond int parsing limits
    ('{"observations": [[1e400]]}', ["body", "observations", 0, 0]),  # inf after parsing
    ('{"observations": [[0.0]], "seed": ' + "9" * 40 + "}", ["body", "seed"]),
    ('{"observations": [[0.0]], "seed": -1}', ["body", "seed"]),
    ('{"bars": [{"symbol": "NVDA", "ts": "9999-12-31T23:59:00-05:00", "open": 1.0, '
     '"close": 1.0, "low": 1.0, "high": 1.0, "volume": 1}]}', ["body", "bars", 0, "ts"]),
    ('{"bars": [{"symbol": "NVDA", "ts": "1970-01-01T00:00:00Z", "open": 1.0, '
     '"close": 1.0, "low": 1.0, "high": 1.0, "volume": 1}]}', ["body", "bars", 0, "ts"]),
    ('{"bars": "many"}', ["body", "bars"]),
    ("[1, 2]", ["body"]),
    ('{"observations": [[0.0]]', ["body"]),  # truncated JSON
])
def test_malformed_values_are_422_never_500(ready: ServiceProcess, text: str,
                                            loc: list[Any]) -> None:
    response = _post(ready.url, text)
    assert response.status_code == 422, response.text
    assert any(e["loc"][:len(loc)] == loc for e in response.json()["detail"]), response.json()


def test_a_book_of_2_to_the_70_shares_is_422_naming_the_symbol(
        ready: ServiceProcess, good_bars: list[dict[str, Any]]) -> None:
    text = json.dumps({"bars": good_bars, "book": [
        {"ts": good_bars[-1]["ts"], "shares": {"NVDA": 2**70, "MSFT": 0}}]})
    response = _post(ready.url, text)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "book", 0, "shares", "NVDA"]
