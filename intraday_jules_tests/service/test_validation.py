"""Bad requests are 422 before any model runs, and ``loc`` names the offending field."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, get_args

import httpx
import pandas as pd
import pytest

from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.service.loadcheck import ServiceProcess
from intraday_jules.service.schemas import SERVICE_SYMBOLS, ServiceSymbol
from intraday_jules_tests.service.conftest import (
    Models,
    bars_payload,
    first_regular_minutes,
    set_champion,
)

Body = dict[str, Any]


@pytest.fixture(scope="module")
def good_bars(session_bars: pd.DataFrame) -> list[dict[str, Any]]:
    return bars_payload(first_regular_minutes(session_bars, 3))


@pytest.fixture
def http(server: ServiceProcess, models: Models) -> Iterator[httpx.Client]:
    set_champion(models.store, models.dual_a)  # a servable model: only the input is wrong
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _obs(**changes: Any) -> Body:
    rows = [[0.1] * 26 for _ in range(3)]
    for (i, j), value in changes.get("cells", {}).items():
        rows[i][j] = value
    if "row" in changes:
        rows[1] = changes["row"]
    return {"observations": rows}


def _bar(i: int, **fields: Any) -> Callable[[list[Body]], Body]:
    def build(bars: list[Body]) -> Body:
        changed = [dict(b) for b in bars]
        changed[i].update(fields)
        return {"bars": changed}
    return build


CASES: list[tuple[str, Callable[[list[Body]], Body], list[Any], str]] = [
    ("observation of 25 values", lambda _: _obs(row=[0.0] * 25),
     ["body", "observations", 1], "too_short"),
    ("observation of 27 values", lambda _: _obs(row=[0.0] * 27),
     ["body", "observations", 1], "too_long"),
    ("infinity", lambda _: _obs(cells={(2, 5): float("inf")}),
     ["body", "observations", 2, 5], "finite_number"),
    ("beyond float32", lambda _: _obs(cells={(0, 1): 1e39}),
     ["body", "observations", 0, 1], "less_than_equal"),
    ("a string for a number", lambda _: _obs(cells={(0, 0): "0.5"}),
     ["body", "observations", 0, 0], "float_type"),
    ("a boolean for a number", lambda _: _obs(cells={(1, 2): True}),
     ["body", "observations", 1, 2], "float_type"),
    ("naive ts", _bar(0, ts="2025-02-20T14:30:00"), ["body", "bars", 0, "ts"],
     "timezone_aware"),
    ("ts not on a minute", _bar(1, ts="2025-02-20T14:30:30Z"), ["body", "bars", 1, "ts"],
     "value_error"),
    ("ts as a number", _bar(0, ts=1740061800), ["body", "bars", 0, "ts"], "value_error"),
    ("unknown symbol", _bar(2, symbol="AAPL"), ["body", "bars", 2, "symbol"], "literal_error"),
    ("high below low", _bar(3, high=1.0), ["body", "bars", 3, "high"], "value_error"),
    ("low above close", _bar(3, low=10_000.0), ["body", "bars", 3, "low"], "value_error"),
    ("negative price", _bar(0, open=-1.0), ["body", "bars", 0, "open"], "greater_than"),
    ("fractional volume", _bar(0, volume=10.5), ["body", "bars", 0, "volume"], "int_type"),
    ("volume as text", _bar(0, volume="100"), ["body", "bars", 0, "volume"], "int_type"),
    ("unknown field", _bar(0, closee=1.0), ["body", "bars", 0, "closee"], "extra_forbidden"),
    ("bars of two sessions", _bar(0, ts="2025-02-19T15:00:00Z"), ["body", "bars"],
     "value_error"),
    ("bars of a holiday", lambda bars: {"bars": [
        {**b, "ts": b["ts"].replace("2025-02-20", "2025-02-17")} for b in bars]},
     ["body", "bars"], "value_error"),
    ("bars of one symbol only", lambda bars: {"bars": [b for b in bars
                                                       if b["symbol"] == "NVDA"]},
     ["body", "bars"], "value_error"),
    ("a repeated bar", lambda bars: {"bars": [*bars, bars[0]]}, ["body", "bars"],
     "value_error"),
    ("both bars and observations", lambda bars: {"bars": bars, **_obs()}, ["body"],
     "value_error"),
    ("neither", lambda _: {"seed": 1}, ["body"], "value_error"),
    ("sampling observations without ts", lambda _: {**_obs(), "mode": "sample"}, ["body"],
     "value_error"),
    ("an unknown mode", lambda _: {**_obs(), "mode": "greedy"}, ["body", "mode"],
     "literal_error"),
]


@pytest.mark.parametrize(("build", "loc", "kind"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_invalid_predict_input_is_422_naming_the_field(
        http: httpx.Client, good_bars: list[Body], build: Callable[[list[Body]], Body],
        loc: list[Any], kind: str) -> None:
    body = build(good_bars)
    response = http.post("/predict", content=json.dumps(body),
                         headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [loc] and errors[0]["type"] == kind, errors
    assert errors[0]["msg"]


def test_nan_in_an_observation_is_422_naming_the_value(http: httpx.Client) -> None:
    rows = [[0.0] * 26 for _ in range(2)]
    rows[1][3] = 12345.5
    text = json.dumps({"observations": rows}).replace("12345.5", "NaN")  # JSON5-style NaN
    response = http.post("/predict", content=text,
                         headers={"content-type": "application/json"})
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "observations", 1, 3] and error["type"] == "finite_number"
    assert error["input"] == "nan"


def test_a_422_does_not_echo_the_whole_request(http: httpx.Client,
                                               good_bars: list[Body]) -> None:
    response = http.post("/predict", json={"bars": good_bars, **_obs()})
    assert response.status_code == 422 and "input" not in response.json()["detail"][0]


def test_service_symbol_literal_lists_the_default_symbols() -> None:
    # pydantic validates ``symbol`` against the Literal, the model against SERVICE_SYMBOLS: both
    # must name the default symbols, in observation order.
    assert get_args(ServiceSymbol) == SERVICE_SYMBOLS == DEFAULT_SYMBOLS
