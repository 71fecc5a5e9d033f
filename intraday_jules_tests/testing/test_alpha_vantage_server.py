"""The loopback Alpha Vantage speaks the vendor's format and runs its scripts, over HTTP."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from intraday_jules.testing.alpha_vantage_server import AlphaVantageServer, Reply

KEY = "SERVER-CANARY-KEY-42"


@pytest.fixture(scope="module")
def bars(sim_minute_file: Path) -> pd.DataFrame:
    """Realistic NVDA + MSFT minutes of 2025-01-02..2025-02-28, all hours (seeded simulator)."""
    from intraday_jules.market_data.replay import read_bars_file

    return read_bars_file(sim_minute_file)


@pytest.fixture
def server(bars: pd.DataFrame) -> Iterator[AlphaVantageServer]:
    with AlphaVantageServer(bars, api_key=KEY) as running:
        yield running


def get(server: AlphaVantageServer, **params: str) -> httpx.Response:
    query = {"function": "TIME_SERIES_INTRADAY", "symbol": "NVDA", "interval": "1min",
             "month": "2025-01", "apikey": KEY, **params}
    return httpx.get(server.base_url, params=query, timeout=10)


def test_month_is_rendered_in_the_vendor_format(server: AlphaVantageServer,
                                                bars: pd.DataFrame) -> None:
    response = get(server, extended_hours="false")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["Meta Data", "Time Series (1min)"]
    assert body["Meta Data"] == {
        "1. Information": "Intraday (1min) open, high, low, close prices and volume",
        "2. Symbol": "NVDA", "3. Last Refreshed": "2025-01-31 15:59:00", "4. Interval": "1min",
        "5. Output Size": "Full size", "6. Time Zone": "US/Eastern"}
    series = body["Time Series (1min)"]
    keys = list(series)
    assert keys == sorted(keys, reverse=True)  # newest first
    assert (keys[0], keys[-1]) == ("2025-01-31 15:59:00", "2025-01-02 09:30:00")
    # the replay file's first regular bar, values as strings with 4 decimals, volume whole
    first = bars[(bars["symbol"] == "NVDA")
                 & (bars["ts"] == pd.Timestamp("2025-01-02T14:30:00Z"))].iloc[0]
    assert series["2025-01-02 09:30:00"] == {
        "1. open": f"{first['open']:.4f}", "2. high": f"{first['high']:.4f}",
        "3. low": f"{first['low']:.4f}", "4. close": f"{first['close']:.4f}",
        "5. volume": str(int(first["volume"]))}
    assert len(series) == 20 * 390


def test_extended_hours_is_the_vendor_default(server: AlphaVantageServer,
                                              bars: pd.DataFrame) -> None:
    series = get(server).json()["Time Series (1min)"]
    assert "2025-01-02 04:00:00" in series
    january = bars[(bars["symbol"] == "NVDA") & (bars["ts"] < pd.Timestamp("2025-02-01 05:00",
                                                                             tz="UTC"))]
    assert len(series) == len(january)


def test_end_labelled_rendering_shifts_keys_by_a_minute(bars: pd.DataFrame) -> None:
    with AlphaVantageServer(bars, label="end") as vendor:
        series = get(vendor, extended_hours="false").json()["Time Series (1min)"]
    assert "2025-01-02 16:00:00" in series and "2025-01-02 09:30:00" not in series


@pytest.mark.parametrize(("params", "body_key", "words"), [
    ({"apikey": "wrong"}, "Error Message", "apikey is invalid"),
    ({"apikey": ""}, "Error Message", "apikey is invalid"),
    ({"symbol": "ZZZZ"}, "Error Message", "Invalid API call"),
    ({"month": "2019-01"}, "Error Message", "Invalid API call"),
    ({"interval": "5min"}, "Error Message", "Invalid API call"),
    ({"function": "GLOBAL_QUOTE"}, "Error Message", "Invalid API call"),
])
def test_refusals_use_the_vendor_bodies(server: AlphaVantageServer, params: dict[str, str],
                                        body_key: str, words: str) -> None:
    response = get(server, **params)
    assert response.status_code == 200
    assert list(response.json()) == [body_key]
    assert words in response.json()[body_key]


def test_rate_limit_after_n_calls_then_every_call(server: AlphaVantageServer,
                                                  fixtures_dir: Path) -> None:
    note = Reply.file(fixtures_dir / "alpha_vantage" / "messages" /
                      "note_rate_limit_5_per_minute_500_per_day.json")
    server.rate_limit_after(2, note)
    answers = [next(iter(get(server, month="2025-02").json())) for _ in range(4)]
    assert answers == ["Meta Data", "Meta Data", "Note", "Note"]
    server.clear_script()
    assert "Meta Data" in get(server).json()


def test_pushed_replies_come_first_in_order_then_symbol_scripts(
        server: AlphaVantageServer) -> None:
    server.reply_for_symbol("MSFT", Reply.json({"Error Message": "scripted"}))
    server.push(Reply.json({"n": 1}), Reply.json({"n": 2}))
    assert get(server, symbol="MSFT").json() == {"n": 1}
    assert get(server).json() == {"n": 2}
    assert get(server, symbol="MSFT").json() == {"Error Message": "scripted"}
    assert "Meta Data" in get(server).json()


def test_key_placeholder_is_replaced_by_the_callers_key(server: AlphaVantageServer) -> None:
    server.push(Reply(b'{"Information": "We have detected your API key as REDACTED_KEY"}'))
    assert get(server).json() == {"Information": f"We have detected your API key as {KEY}"}


def test_faults_slow_truncated_cut_off_and_http_errors(server: AlphaVantageServer) -> None:
    server.push(Reply.json({"a": 1}).slow(0.3))
    started = time.monotonic()
    assert get(server).json() == {"a": 1}
    assert time.monotonic() - started >= 0.3
    server.push(Reply.json({"abc": "def"}).truncated(6))
    assert get(server).content == b'{\n    '
    server.push(Reply.http_error(500))
    assert get(server).status_code == 500
    server.push(Reply.json({"abc": "def" * 100}).cut_off(10))
    with pytest.raises(httpx.RemoteProtocolError):
        get(server)
    assert "Meta Data" in get(server).json()  # the server survives all of it


def test_requests_are_recorded_and_logged_with_the_key_masked(
        server: AlphaVantageServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="intraday_jules.testing.alpha_vantage_server")
    get(server, extended_hours="false")
    recorded = server.requests
    assert len(recorded) == 1
    assert recorded[0].path == "/query"
    assert recorded[0].params["apikey"] == "***"
    assert recorded[0].params["extended_hours"] == "false"
    assert any("GET /query" in r.getMessage() for r in caplog.records)
    assert KEY not in caplog.text and KEY not in repr(recorded)


def test_stopped_server_refuses_connections(bars: pd.DataFrame) -> None:
    server = AlphaVantageServer(bars).start()
    url = server.base_url
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url


def test_runs_standalone_from_a_replay_file(sim_minute_file: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "intraday_jules.testing.alpha_vantage_server", "--replay-path",
         str(sim_minute_file), "--port", "0", "--api-key", KEY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = next(word for word in line.split() if word.startswith("http"))
        assert url.startswith("http://127.0.0.1:") and url.endswith("/query")
        body = httpx.get(url, params={"function": "TIME_SERIES_INTRADAY", "symbol": "MSFT",
                                      "interval": "1min", "month": "2025-02",
                                      "extended_hours": "false", "apikey": KEY}, timeout=30)
        assert json.loads(body.text)["Meta Data"]["2. Symbol"] == "MSFT"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
    assert KEY not in err
