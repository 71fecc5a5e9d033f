"""The hot route's fast path (``SessionBarsFastPath``) and the session's incremental median:
the fast path answers ``POST /sessions/{id}/bars`` itself (even with the FastAPI route gone),
hands a bad body to FastAPI's 422, and the median check equals ``np.median``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from intraday_jules.service import create_app
from intraday_jules.service.fastpath import bars_session_id
from intraday_jules.service.schemas import BarIn
from intraday_jules.service.sessions import BarBuffer
from intraday_jules_tests.service.conftest import (
    SESSION,
    Models,
    bars_payload,
    first_regular_minutes,
    serve_in_thread,
    set_champion,
)

BARS_ROUTE = "/sessions/{session_id}/bars"


def scope(path: str, method: str = "POST", **extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, **extra}


def test_the_fast_path_matches_only_a_sessions_bars_post() -> None:
    assert bars_session_id(scope("/sessions/abc123/bars")) == "abc123"
    for path in ["/sessions//bars", "/sessions/abc/bars/", "/sessions/abc", "/predict",
                 "/x/sessions/abc/bars", "sessions/abc/bars", "/sessions/a/b/bars"]:
        assert bars_session_id(scope(path)) is None, path
    assert bars_session_id(scope("/sessions/abc/bars", method="GET")) is None
    assert bars_session_id(scope("/sessions/abc/bars", root_path="/api")) is None
    assert bars_session_id({"type": "websocket", "path": "/sessions/abc/bars"}) is None


def test_the_fast_path_answers_without_the_route_and_leaves_a_bad_body_to_fastapi(
        models: Models, session_bars: pd.DataFrame) -> None:
    set_champion(models.store, models.dual_a)
    app = create_app(store=models.store)
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", "") != BARS_ROUTE]
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        created = http.post("/sessions", json={"session": SESSION.isoformat()})
        assert created.status_code == 201, created.text
        path = f"/sessions/{created.json()['id']}/bars"
        bars = bars_payload(first_regular_minutes(session_bars, 2))
        answer = http.post(path, json={"bars": bars})
        assert answer.status_code == 200, answer.text  # served with no such route
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["bars"] == len(bars)
        refused = http.post(path, json={"bars": bars[-1:]})  # the latest bar again
        assert refused.status_code == 422 and "duplicate" in refused.json()["detail"][0]["msg"]
        unknown = http.post("/sessions/nope/bars", json={"bars": bars})
        assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
        bad = http.post(path, json={"bars": "not a list"})
        assert bad.status_code == 404  # handed on to FastAPI, which has no route here


def close_bar(symbol: str, minute: int, close: float) -> BarIn:
    ts = datetime(2025, 2, 20, 15, 0, tzinfo=UTC) + timedelta(minutes=minute)
    return BarIn(symbol=symbol, ts=ts, open=close, high=close, low=close, close=close,
                 volume=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_kept_median_equals_numpy_median_with_ties_extra_closes_and_truncation(
        seed: int) -> None:
    rng = np.random.default_rng(seed)
    buffer = BarBuffer(capacity=200)
    closes: dict[str, list[float]] = {"NVDA": [], "MSFT": []}
    for minute in range(60):
        bars = [close_bar(s, minute, float(rng.choice([100.0, 100.5, 101.25, 99.0])
                                           + rng.normal() * (s == "MSFT")))
                for s in closes]
        buffer.append(bars)
        for bar in bars:
            closes[bar.symbol].append(bar.close)
        extra = list(rng.normal(100.0, 1.0, size=minute % 3))
        for symbol, kept in closes.items():
            assert buffer.median_close(symbol) == float(np.median(kept))
            assert buffer.median_close(symbol, extra) == float(np.median(kept + extra))
    buffer.truncate(50)  # the first 25 minutes of both symbols
    for symbol, kept in closes.items():
        assert buffer.median_close(symbol) == float(np.median(kept[:25]))
