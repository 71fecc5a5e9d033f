"""Malformed, truncated, impossible and re-formatted vendor answers: a typed error that names
vendor, symbol, request and field, and nothing returned or cached."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pandas as pd
import pytest

from intraday_jules.adapters.alpha_vantage import (
    AlphaVantageSource,
    MalformedPayload,
    PerMinuteLimit,
    VendorRefused,
    VendorUnavailable,
)
from intraday_jules.market_data.source import BarRequest, SourceDataError, SourceUnavailable
from intraday_jules.testing.alpha_vantage_server import (
    AlphaVantageServer,
    Reply,
    render_intraday,
)
from intraday_jules_tests.adapters.alpha_vantage.conftest import API_KEY, MakeSource

REQUEST = BarRequest("NVDA", date(2025, 1, 2))
SERIES = "Time Series (1min)"
FIRST_BAR = "2025-01-02 09:30:00"


@pytest.fixture(scope="module")
def two_days(jan_feb_bars: pd.DataFrame) -> pd.DataFrame:
    """2025-01-02 and 2025-01-31 of NVDA: a small month keeps each case fast."""
    day = jan_feb_bars["ts"].dt.tz_convert("America/New_York").dt.strftime("%Y-%m-%d")
    keep = (jan_feb_bars["symbol"] == "NVDA") & day.isin(["2025-01-02", "2025-01-31"])
    return jan_feb_bars[keep].reset_index(drop=True)


@pytest.fixture
def server(two_days: pd.DataFrame) -> Iterator[AlphaVantageServer]:
    with AlphaVantageServer(two_days, api_key=API_KEY) as running:
        yield running


@pytest.fixture(scope="module")
def good_month(two_days: pd.DataFrame) -> dict[str, Any]:
    body = render_intraday(two_days, "NVDA", "2025-01", extended_hours=False)
    assert body is not None
    return body


def edited(month: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(month)
    edit(body)
    return body


def set_value(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda body: body[SERIES][FIRST_BAR].__setitem__(field, value)


def rename_first_bar(new_key: str) -> Callable[[dict[str, Any]], None]:
    def edit(body: dict[str, Any]) -> None:
        body[SERIES][new_key] = body[SERIES].pop(FIRST_BAR)
    return edit


CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    # name: (edit, field named, words in the message)
    "high_below_low": (set_value("2. high", "1.0000"), "2. high", "high < low"),
    "negative_price": (set_value("1. open", "-136.0000"), "1. open", "must be > 0"),
    "zero_close": (set_value("4. close", "0.0000"), "4. close", "must be > 0"),
    "text_price": (set_value("3. low", "n/a"), "3. low", "is not a number ('n/a')"),
    "missing_volume": (lambda b: b[SERIES][FIRST_BAR].pop("5. volume"), "5. volume",
                       "is missing"),
    "fractional_volume": (set_value("5. volume", "12.5"), "5. volume", "whole number"),
    "negative_volume": (set_value("5. volume", "-5"), "5. volume", ">= 0"),
    "iso_timestamps": (rename_first_bar("2025-01-02T09:30:00Z"), "timestamp",
                       "change its format"),
    "epoch_timestamps": (rename_first_bar("1735828200"), "timestamp", "change its format"),
    "unknown_zone": (lambda b: b["Meta Data"].__setitem__("6. Time Zone", "Mars/Olympus"),
                     "Meta Data.6. Time Zone", "unknown time zone"),
    "missing_zone": (lambda b: b["Meta Data"].pop("6. Time Zone"),
                     "Meta Data.6. Time Zone", "missing"),
    "other_symbol": (lambda b: b["Meta Data"].__setitem__("2. Symbol", "MSFT"),
                     "Meta Data.2. Symbol", "'MSFT'"),
    "no_meta": (lambda b: b.pop("Meta Data"), "Meta Data", "not a time series"),
    "no_series": (lambda b: b.pop(SERIES), SERIES, "no 'Time Series (1min)'"),
    "bar_not_object": (lambda b: b[SERIES].__setitem__(FIRST_BAR, "136.0"), SERIES,
                       "is not an object"),
    "bar_in_other_month": (rename_first_bar("2025-02-03 09:30:00"), "month",
                           "not in the requested month"),
    "bar_after_the_close": (rename_first_bar("2025-01-02 16:00:00"), "timestamp",
                            "label bars by their end"),
    "nonexistent_dst_time": (rename_first_bar("2025-03-09 02:30:00"), "timestamp",
                             "does not map to one instant"),
}


def assert_names_everything(error: Exception, field: str) -> None:
    message = str(error)
    for part in ("alpha_vantage", "NVDA", "month=2025-01", "function=TIME_SERIES_INTRADAY",
                 f"[field {field}]"):
        assert part in message, (part, message)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_month_is_refused_with_vendor_symbol_request_and_field(
        case: str, good_month: dict[str, Any], server: AlphaVantageServer,
        make_source: MakeSource) -> None:
    edit, field, words = CASES[case]
    server.push(Reply.json(edited(good_month, edit)))
    source = make_source()
    with pytest.raises(MalformedPayload) as info:
        source.fetch_session(REQUEST)
    assert isinstance(info.value, SourceDataError)
    assert info.value.field == field
    assert words in str(info.value)
    assert_names_everything(info.value, field)
    assert len(source.cache) == 0  # nothing of the refused month is kept
    assert len(source.fetch_session(REQUEST)) == 390  # the next, good answer is used


BODIES: dict[str, tuple[Callable[[bytes], Reply], type[Exception], str]] = {
    "truncated_json": (lambda good: Reply(good).truncated(5000), MalformedPayload,
                       "not valid JSON"),
    "empty_body": (lambda good: Reply(b""), MalformedPayload, "empty"),
    "html_with_200": (lambda good: Reply(b"<html>maintenance</html>", content_type="text/html"),
                      MalformedPayload, "not valid JSON"),
    "json_list": (lambda good: Reply.json([1, 2]), MalformedPayload, "JSON list"),
    "not_utf8": (lambda good: Reply(b"\xff\xfe\xfa"), MalformedPayload, "not UTF-8"),
    "cut_off_mid_body": (lambda good: Reply(good).cut_off(5000), VendorUnavailable,
                         "RemoteProtocolError"),
    "http_500": (lambda good: Reply.http_error(500), VendorUnavailable, "HTTP 500"),
    "http_503": (lambda good: Reply.http_error(503), VendorUnavailable, "HTTP 503"),
    "http_404": (lambda good: Reply.http_error(404, "no"), VendorRefused, "HTTP 404"),
    "http_429": (lambda good: Reply.http_error(429, "slow down"), PerMinuteLimit, "HTTP 429"),
}


@pytest.mark.parametrize("case", sorted(BODIES))
def test_broken_http_answers_raise_typed_errors(
        case: str, good_month: dict[str, Any], server: AlphaVantageServer,
        make_source: MakeSource) -> None:
    build, error_type, words = BODIES[case]
    server.push(build(Reply.json(good_month).body))
    source = make_source()
    with pytest.raises(error_type) as info:
        source.fetch_session(REQUEST)
    assert words in str(info.value)
    assert "NVDA" in str(info.value) and "month=2025-01" in str(info.value)
    assert len(source.cache) == 0


def test_slow_answer_times_out_as_unavailable(
        good_month: dict[str, Any], server: AlphaVantageServer, make_source: MakeSource) -> None:
    server.push(Reply.json(good_month).slow(2.0))
    with pytest.raises(VendorUnavailable, match=r"no answer .* within 0\.3 s") as info:
        make_source(timeout_s=0.3).fetch_session(REQUEST)
    assert isinstance(info.value, SourceUnavailable)


def test_unreachable_server_is_unavailable(make_source: MakeSource,
                                           server: AlphaVantageServer) -> None:
    source = make_source()
    server.stop()
    with pytest.raises(VendorUnavailable, match="ConnectError"):
        source.fetch_session(REQUEST)


def test_transport_failures_are_retried_with_backoff_then_succeed(
        server: AlphaVantageServer, make_source: MakeSource, fake_time: Any) -> None:
    server.push(Reply.http_error(500), Reply(b"{}").cut_off(1))
    bars = make_source(max_retries=2, retry_backoff_s=2.0).fetch_session(REQUEST)
    assert len(bars) == 390
    assert len(server.requests) == 3
    assert fake_time.slept == [2.0, 4.0]


def test_vendor_refusals_are_not_retried(
        server: AlphaVantageServer, make_source: MakeSource) -> None:
    server.push(Reply.json({"Note": "Our standard API call frequency is 5 calls per minute"}))
    with pytest.raises(Exception, match="per-minute"):
        make_source(max_retries=3).fetch_session(REQUEST)
    assert len(server.requests) == 1


def test_source_answers_nothing_when_any_bar_of_the_month_is_bad(
        good_month: dict[str, Any], server: AlphaVantageServer,
        make_source: MakeSource) -> None:
    # The bad bar is on 2025-01-31; asking for 2025-01-02 still gets nothing from this answer.
    bad = edited(good_month, lambda b: b[SERIES]["2025-01-31 15:59:00"].__setitem__(
        "2. high", "0.5000"))
    server.push(Reply.json(bad))
    source: AlphaVantageSource = make_source()
    with pytest.raises(MalformedPayload, match="2025-01-31"):
        source.fetch_session(REQUEST)
