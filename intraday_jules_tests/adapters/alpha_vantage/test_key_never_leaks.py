"""The API key never appears in a log record, an exception (message, repr, attributes,
traceback, chained causes), a repr, stdout/stderr or what the fake server records, on every
error path and on the happy path, with every logger at DEBUG."""

from __future__ import annotations

import logging
import traceback
from datetime import date
from pathlib import Path

import pytest

from intraday_jules.adapters.alpha_vantage import AlphaVantageSource
from intraday_jules.market_data.source import BarRequest, SourceError
from intraday_jules.testing.alpha_vantage_server import AlphaVantageServer, Reply
from intraday_jules_tests.adapters.alpha_vantage.conftest import API_KEY, MakeSource

REQUEST = BarRequest("NVDA", date(2025, 1, 2))


def everything_about(error: BaseException) -> str:
    """Every text a person or a log could get from an exception."""
    parts = ["".join(traceback.format_exception(error)), repr(error), repr(error.args)]
    seen: BaseException | None = error
    while seen is not None:
        parts += [str(seen), repr(seen), *(repr(v) for v in vars(seen).values())]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


@pytest.fixture(autouse=True)
def debug_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # root: httpx, httpcore, ours, the server's
    for name in ("httpx", "httpcore", "intraday_jules"):  # even if configure_logging quieted them
        caplog.set_level(logging.DEBUG, logger=name)


def assert_no_leak(text: str) -> None:
    assert API_KEY not in text


def fail_with(source: AlphaVantageSource) -> SourceError:
    with pytest.raises(SourceError) as info:
        source.fetch_session(REQUEST)
    return info.value


def message_files(fixtures: Path) -> list[Path]:
    return sorted((fixtures / "alpha_vantage" / "messages").glob("*.json"))


def test_every_error_path_keeps_the_key_out_of_errors_logs_and_output(
        server: AlphaVantageServer, make_source: MakeSource, av_fixtures: Path,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    replies = [Reply.file(p) for p in message_files(av_fixtures.parent)]
    replies += [Reply.http_error(500), Reply.http_error(404), Reply.http_error(429),
                Reply(b'{"Meta Data": {"2. Symbol": "NVDA"}, "Time').truncated(20),
                Reply(b'{"Error Message": "bad"}').cut_off(3),
                Reply(b"<html>" + API_KEY.encode() + b"</html>", content_type="text/html"),
                Reply.json({"Error Message": f"key {API_KEY} refused"})]
    errors = []
    for reply in replies:
        server.push(reply)
        errors.append(fail_with(make_source()))
    server.push(Reply.json({}).slow(1.0))
    errors.append(fail_with(make_source(timeout_s=0.2)))
    limited = make_source(calls_per_day=1)
    limited.month_bars("NVDA", "2025-02", extended_hours=False)
    errors.append(fail_with(limited))
    assert len(errors) == len(replies) + 2
    for error in errors:
        assert_no_leak(everything_about(error))
    assert_no_leak(caplog.text)
    captured = capsys.readouterr()
    assert_no_leak(captured.out + captured.err)
    assert_no_leak(repr(server.requests))


def test_an_echoed_key_is_masked_in_the_error(server: AlphaVantageServer,
                                               make_source: MakeSource) -> None:
    server.push(Reply(b'{"Information": "We have detected your API key as REDACTED_KEY and '
                      b'our standard API rate limit is 25 requests per day."}'))
    error = fail_with(make_source())
    assert "detected your API key as ********" in str(error)
    assert_no_leak(everything_about(error))


def test_a_refused_connection_keeps_the_key_out(make_source: MakeSource,
                                                server: AlphaVantageServer,
                                                caplog: pytest.LogCaptureFixture) -> None:
    source = make_source()
    server.stop()
    error = fail_with(source)
    assert_no_leak(everything_about(error))
    assert_no_leak(caplog.text)


def test_a_rejected_key_keeps_it_out(jan_feb_bars: object, make_source: MakeSource,
                                     caplog: pytest.LogCaptureFixture) -> None:
    with AlphaVantageServer(api_key="THE-RIGHT-KEY") as other:
        source = make_source(base_url=other.base_url)
        error = fail_with(source)
    assert "refused the API key" in str(error)
    assert_no_leak(everything_about(error))
    assert_no_leak(caplog.text)


def test_the_happy_path_logs_the_request_with_the_key_masked(
        server: AlphaVantageServer, make_source: MakeSource,
        caplog: pytest.LogCaptureFixture) -> None:
    source = make_source()
    bars = source.fetch_session(REQUEST)
    assert len(bars) == 390
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert httpx_lines, "httpx logs each request URL; the test must see it to mean anything"
    assert all("apikey=********" in line for line in httpx_lines)
    assert_no_leak(caplog.text)
    for shown in (repr(source), repr(source.client), repr(source.config), repr(bars),
                  bars.to_json(date_format="iso"), repr(bars.attrs)):
        assert_no_leak(shown)
    assert server.requests[-1].params["apikey"] == "***"
