"""Every vendor error body (``messages/``), served over HTTP, becomes the right typed error."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from intraday_jules.adapters.alpha_vantage import (
    BurstLimit,
    DailyLimit,
    DemoKey,
    InvalidApiCall,
    InvalidApiKey,
    PerMinuteLimit,
    PremiumEndpoint,
    VendorCall,
    VendorRefused,
)
from intraday_jules.adapters.alpha_vantage.errors import classify_vendor_message
from intraday_jules.market_data.source import (
    BarRequest,
    SourceRateLimited,
    SourceRequestError,
)
from intraday_jules.testing.alpha_vantage_server import AlphaVantageServer, Reply
from intraday_jules_tests.adapters.alpha_vantage.conftest import API_KEY, MakeSource

EXPECTED = {
    "error_apikey_invalid_or_missing": (InvalidApiKey, SourceRequestError),
    "error_invalid_api_call_time_series_intraday": (InvalidApiCall, SourceRequestError),
    "note_rate_limit_5_per_minute_500_per_day": (PerMinuteLimit, SourceRateLimited),
    "information_burst_limit_1_per_second": (BurstLimit, SourceRateLimited),
    "information_daily_limit_25_per_day": (DailyLimit, SourceRateLimited),
    "information_daily_limit_25_per_day_detected_key": (DailyLimit, SourceRateLimited),
    "information_premium_endpoint": (PremiumEndpoint, SourceRequestError),
    "information_premium_endpoint_2022_variant": (PremiumEndpoint, SourceRequestError),
    "information_demo_key": (DemoKey, SourceRequestError),
}


def test_every_message_file_has_an_expected_error(av_fixtures: Path) -> None:
    assert {p.stem for p in (av_fixtures / "messages").glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_vendor_message_becomes_its_typed_error(
        stem: str, server: AlphaVantageServer, make_source: MakeSource, av_fixtures: Path) -> None:
    error_type, family = EXPECTED[stem]
    server.push(Reply.file(av_fixtures / "messages" / f"{stem}.json"))
    request = BarRequest("NVDA", date(2025, 1, 2))
    with pytest.raises(error_type) as info:
        make_source().fetch_session(request)
    error = info.value
    assert isinstance(error, family)
    assert error.source == "alpha_vantage"
    assert error.request == request
    message = str(error)
    assert "NVDA" in message and "month=2025-01" in message and "alpha_vantage" in message
    assert error.field in ("Error Message", "Note", "Information")
    assert error.vendor_message and error.vendor_message[:30] in message
    assert API_KEY not in message and API_KEY not in repr(error)


def test_detected_key_message_echoes_the_key_and_the_error_masks_it(
        server: AlphaVantageServer, make_source: MakeSource, av_fixtures: Path) -> None:
    server.push(Reply.file(
        av_fixtures / "messages" / "information_daily_limit_25_per_day_detected_key.json"))
    source = make_source()
    with pytest.raises(DailyLimit) as info:
        source.month_bars("NVDA", "2025-01", extended_hours=False)
    assert "We have detected your API key as ********" in str(info.value)
    assert API_KEY not in str(info.value)


def test_unknown_information_text_is_a_request_error_not_data() -> None:
    assert classify_vendor_message("Information", "Something new happened") is VendorRefused
    assert classify_vendor_message("Error Message", "whatever else") is InvalidApiCall


def test_server_answers_unknown_symbols_with_the_invalid_call_body(
        make_source: MakeSource) -> None:
    with pytest.raises(InvalidApiCall, match="unknown symbol"):
        make_source().month_bars("ZZZZ", "2025-01", extended_hours=False)


def test_server_answers_a_wrong_key_with_the_invalid_key_body(make_source: MakeSource) -> None:
    from intraday_jules.secrets import SecretValue

    with pytest.raises(InvalidApiKey):
        make_source(key=SecretValue("WRONG-KEY-1234")).month_bars("NVDA", "2025-01",
                                                                  extended_hours=False)


def test_vendor_call_description_never_holds_the_key() -> None:
    call = VendorCall("NVDA", "2025-01", extended_hours=True)
    assert call.describe() == ("function=TIME_SERIES_INTRADAY symbol=NVDA interval=1min "
                               "month=2025-01 outputsize=full extended_hours=true "
                               "adjusted=false datatype=json")
    assert "apikey" not in call.params()
