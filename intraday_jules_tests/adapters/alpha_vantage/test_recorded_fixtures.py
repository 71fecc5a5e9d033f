"""Every recorded vendor answer, served over a real socket and parsed: labels, zone, values.

SOURCES.md: the 2020 extended CSV is END-labelled (first bar 04:01, opening auction on 09:31);
the 2017 compact JSON ends a regular session on 16:00 (END) too; the current API labels by START.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest

from intraday_jules.adapters.alpha_vantage import BarLabel, MalformedPayload, VendorCall
from intraday_jules.adapters.alpha_vantage.parsing import parse_intraday_csv, parse_intraday_json
from intraday_jules.adapters.alpha_vantage.source import check_month_scope
from intraday_jules.domain.calendar import NEW_YORK, session_window
from intraday_jules.testing.alpha_vantage_server import AlphaVantageServer, Reply
from intraday_jules_tests.adapters.alpha_vantage.conftest import MakeSource

RECORDED = "recorded"
COMPACT = "time_series_intraday_1min_MSFT_2017-12-18_compact.json"
TRIMMED = "time_series_intraday_1min_MSFT_2017-08-11_trimmed.json"
IBM_5MIN = "time_series_intraday_5min_IBM_2020-05-08_trimmed.json"
EXTENDED_CSV = "time_series_intraday_extended_1min_MSFT_2020-11-23_2020-12-18.csv"


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def fetch_recorded(server: AlphaVantageServer, make_source: MakeSource, path: Path,
                   call: VendorCall) -> dict:
    server.push(Reply.file(path))
    return make_source().client.get_intraday(call)


def test_every_recorded_fixture_is_covered_here(av_fixtures: Path) -> None:
    names = {p.name for p in (av_fixtures / RECORDED).iterdir() if p.name != "LICENSE"}
    assert names == {COMPACT, TRIMMED, IBM_5MIN, EXTENDED_CSV, "global_quote.json"}


def test_compact_json_localises_us_eastern_winter_time_start_labelled(
        server: AlphaVantageServer, make_source: MakeSource, av_fixtures: Path) -> None:
    call = VendorCall("MSFT", "2017-12", extended_hours=False)
    payload = fetch_recorded(server, make_source, av_fixtures / RECORDED / COMPACT, call)
    bars = parse_intraday_json(payload, call)
    assert len(bars) == 100
    assert bars["ts"].is_monotonic_increasing
    assert (bars["ts"].iloc[0], bars["ts"].iloc[-1]) == (utc("2017-12-18 18:17"),
                                                          utc("2017-12-18 19:56"))
    last = bars.iloc[-1]  # "2017-12-18 14:56:00": 86.4900 / 86.5000 / 86.4750 / 86.5000 / 10494
    assert (last.open, last.high, last.low, last.close, last.volume) == (
        86.49, 86.5, 86.475, 86.5, 10494)
    assert str(bars["ts"].dtype) == "datetime64[us, UTC]"
    assert bars["volume"].dtype == "int64"


def test_end_label_moves_every_bar_back_one_interval(av_fixtures: Path) -> None:
    payload = json.loads((av_fixtures / RECORDED / COMPACT).read_text())
    call = VendorCall("MSFT", "2017-12", extended_hours=False)
    start = parse_intraday_json(payload, call, label=BarLabel.START)
    end = parse_intraday_json(payload, call, label=BarLabel.END)
    assert (start["ts"] - end["ts"]).eq(pd.Timedelta(minutes=1)).all()
    assert start[["open", "close", "volume"]].equals(end[["open", "close", "volume"]])


def test_2017_answer_ending_at_1600_is_end_labelled_in_summer_time(
        server: AlphaVantageServer, make_source: MakeSource, av_fixtures: Path) -> None:
    call = VendorCall("MSFT", "2017-08", extended_hours=False)
    payload = fetch_recorded(server, make_source, av_fixtures / RECORDED / TRIMMED, call)
    as_end = parse_intraday_json(payload, call, label=BarLabel.END)
    # 16:00 EDT = 20:00Z names the bar 15:59-16:00, which starts 19:59Z: the session's last bar.
    assert as_end["ts"].tolist() == [utc("2017-08-11 19:59")]
    assert as_end["ts"].iloc[0] == session_window(date(2017, 8, 11)).close \
        - pd.Timedelta(minutes=1)
    check_month_scope(as_end, call, BarLabel.END)
    as_start = parse_intraday_json(payload, call, label=BarLabel.START)
    with pytest.raises(MalformedPayload, match="label bars by their end") as info:
        check_month_scope(as_start, call, BarLabel.START)
    assert info.value.field == "timestamp"


def test_five_minute_ibm_answer_parses_with_its_interval(
        server: AlphaVantageServer, make_source: MakeSource, av_fixtures: Path) -> None:
    call = VendorCall("IBM", "2020-05", extended_hours=False, interval="5min")
    payload = fetch_recorded(server, make_source, av_fixtures / RECORDED / IBM_5MIN, call)
    bars = parse_intraday_json(payload, call)
    assert bars["ts"].tolist() == [utc("2020-05-08 18:00"), utc("2020-05-08 18:05")]
    assert bars.iloc[1][["open", "high", "low", "close", "volume"]].tolist() == [
        121.79, 121.86, 121.7225, 121.74, 31454]
    with pytest.raises(MalformedPayload, match=r"4\. Interval"):
        parse_intraday_json(payload, VendorCall("IBM", "2020-05", False, interval="1min"))


def test_global_quote_is_refused_as_not_a_time_series(av_fixtures: Path) -> None:
    payload = json.loads((av_fixtures / RECORDED / "global_quote.json").read_text())
    with pytest.raises(MalformedPayload, match="not a time series") as info:
        parse_intraday_json(payload, VendorCall("MSFT", "2018-10", False))
    assert info.value.field == "Meta Data"


@pytest.fixture(scope="module")
def extended_csv_text(fixtures_dir: Path) -> str:
    path = fixtures_dir / "alpha_vantage" / RECORDED / EXTENDED_CSV
    with AlphaVantageServer() as server:
        server.push(Reply.file(path))
        response = httpx.get(server.base_url, params={"function": "TIME_SERIES_INTRADAY"})
    assert response.headers["content-type"] == "text/csv"
    return response.text


def _et_minutes(bars: pd.DataFrame) -> pd.Series:
    local = bars["ts"].dt.tz_convert(NEW_YORK)
    return local.dt.hour * 60 + local.dt.minute


def test_2020_extended_csv_is_end_labelled(extended_csv_text: str) -> None:
    call = VendorCall("MSFT", "2020-12", extended_hours=True)
    bars = parse_intraday_csv(extended_csv_text, call, label=BarLabel.END)
    assert len(bars) == 11_190
    minutes = _et_minutes(bars)
    assert (minutes.min(), minutes.max()) == (4 * 60, 19 * 60 + 59)  # 04:00 ... 19:59 starts
    opening = bars[bars["ts"] == utc("2020-12-18 14:30")]  # 09:30 EST start, label 09:31
    assert opening["volume"].tolist() == [6_499_753]
    pre_open = bars[bars["ts"] == utc("2020-12-18 14:29")]
    assert pre_open["volume"].tolist() == [54_795]
    day = bars[bars["ts"].dt.tz_convert(NEW_YORK).dt.date == date(2020, 12, 18)]
    window = session_window(date(2020, 12, 18))
    regular = day[(day["ts"] >= window.open) & (day["ts"] < window.close)]
    assert len(regular) == 390


def test_2020_extended_csv_read_as_start_labelled_runs_past_the_window(
        extended_csv_text: str) -> None:
    call = VendorCall("MSFT", "2020-12", extended_hours=True)
    bars = parse_intraday_csv(extended_csv_text, call, label=BarLabel.START)
    assert _et_minutes(bars).max() == 20 * 60  # a bar "starting" at 20:00: impossible
    assert _et_minutes(bars).min() == 4 * 60 + 1  # and none at 04:00


def test_csv_without_a_time_column_is_refused() -> None:
    with pytest.raises(MalformedPayload, match="no time column") as info:
        parse_intraday_csv("when,open,high,low,close,volume\n", VendorCall("MSFT", "2020-12",
                           True), label=BarLabel.END)
    assert info.value.field == "timestamp"


def test_fixture_times_carry_no_offset_and_the_zone_comes_from_meta_data(
        av_fixtures: Path) -> None:
    payload = json.loads((av_fixtures / RECORDED / COMPACT).read_text())
    assert payload["Meta Data"]["6. Time Zone"] == "US/Eastern"
    payload["Meta Data"]["6. Time Zone"] = "UTC"
    bars = parse_intraday_json(payload, VendorCall("MSFT", "2017-12", False))
    assert bars["ts"].iloc[-1] == datetime(2017, 12, 18, 14, 56, tzinfo=UTC)
