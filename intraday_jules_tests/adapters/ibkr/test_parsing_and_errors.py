"""IB -> our types at the boundary, and the error-code table (code and docs in step)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from ib_async import BarData

from intraday_jules.adapters.ibkr import ERROR_TABLE, ErrorKind, classify
from intraday_jules.adapters.ibkr.parsing import bars_frame, query_for_session, to_bar
from intraday_jules.domain.bars import Bar, BarValidationError
from intraday_jules.market_data.source import BarRequest, SourceDataError

DOCS = Path(__file__).resolve().parents[3] / "docs" / "ibkr.md"
OPEN = datetime(2025, 1, 2, 14, 30, tzinfo=UTC)


def _bar(ts: object, o: float = 10.0, h: float = 11.0, lo: float = 9.0, c: float = 10.5,
         v: float = 100.0) -> BarData:
    return BarData(date=ts, open=o, high=h, low=lo, close=c, volume=v)  # type: ignore[arg-type]


def test_regular_session_query_ends_at_the_close_and_spans_the_session() -> None:
    query = query_for_session(BarRequest("NVDA", date(2025, 1, 2)))
    assert query.end == datetime(2025, 1, 2, 21, 0, tzinfo=UTC)
    assert (query.duration, query.use_rth, query.bar_size) == ("23400 S", True, "1 min")


def test_half_day_query_is_shorter() -> None:
    query = query_for_session(BarRequest("NVDA", date(2024, 11, 29)))
    assert query.duration == "12600 S"  # 09:30-13:00 ET


def test_extended_query_covers_four_to_twenty_new_york_time_across_dst() -> None:
    summer = query_for_session(BarRequest("NVDA", date(2025, 7, 1), extended_hours=True))
    assert summer.end == datetime(2025, 7, 2, 0, 0, tzinfo=UTC)
    assert (summer.duration, summer.use_rth) == ("57600 S", False)


def test_ib_bars_are_start_labelled_and_kept_as_utc() -> None:
    request = BarRequest("NVDA", date(2025, 1, 2))
    frame = bars_frame([_bar(OPEN)], request, query_for_session(request))
    assert frame["ts"].tolist() == [OPEN]
    assert frame["source"].tolist() == ["ibkr"]


def test_bars_outside_the_window_are_dropped() -> None:
    request = BarRequest("NVDA", date(2025, 1, 2))
    early = datetime(2025, 1, 2, 14, 0, tzinfo=UTC)
    frame = bars_frame([_bar(early), _bar(OPEN)], request, query_for_session(request))
    assert frame["ts"].tolist() == [OPEN]


@pytest.mark.parametrize(("raw", "field"), [
    # a naive local time (the feed changed format) is exactly what is under test
    (_bar(datetime(2025, 1, 2, 9, 30)), "ts"),  # noqa: DTZ001
    (_bar(date(2025, 1, 2)), "ts"),  # a daily date
    (_bar(OPEN, h=8.0), "high"),
    (_bar(OPEN, v=-1.0), "volume"),
    (_bar(OPEN, v=1.5), "volume"),
])
def test_impossible_ib_bars_are_refused_naming_the_field(raw: BarData, field: str) -> None:
    request = BarRequest("NVDA", date(2025, 1, 2))
    with pytest.raises(SourceDataError, match=rf"ibkr .*NVDA.*field {field}"):
        bars_frame([raw], request, query_for_session(request))


def test_live_bar_conversion_validates_the_bar() -> None:
    assert to_bar(_bar(OPEN), "NVDA") == Bar("NVDA", OPEN, 10.0, 11.0, 9.0, 10.5, 100)
    with pytest.raises(BarValidationError, match="field volume"):
        to_bar(_bar(OPEN, v=2.5), "NVDA")


@pytest.mark.parametrize(("code", "message", "kind"), [
    (162, "Historical Market Data Service error message:Historical data request pacing "
          "violation", ErrorKind.PACING),
    (162, "Historical Market Data Service error message:HMDS query returned no data: NVDA",
     ErrorKind.NO_DATA),
    (162, "Historical Market Data Service error message:API historical data query cancelled",
     ErrorKind.OTHER),
    (200, "No security definition has been found for the request", ErrorKind.UNKNOWN_CONTRACT),
    (1100, "Connectivity between IB and Trader Workstation has been lost.",
     ErrorKind.CONNECTIVITY_LOST),
    (1101, "... restored - data lost.", ErrorKind.RESTORED_DATA_LOST),
    (1102, "... restored - data maintained.", ErrorKind.RESTORED_DATA_KEPT),
    (2104, "Market data farm connection is OK:usfarm", ErrorKind.INFO),
    (2119, "Market data farm is connecting", ErrorKind.INFO),
    (326, "Unable to connect as the client id is already in use.", ErrorKind.CLIENT_ID_IN_USE),
    (999, "something new", ErrorKind.OTHER),
])
def test_error_codes_are_classified_as_ib_documents_them(code: int, message: str,
                                                         kind: ErrorKind) -> None:
    assert classify(code, message) is kind


def test_every_handled_error_code_is_documented_in_docs_ibkr_md() -> None:
    text = DOCS.read_text()
    documented = {int(m) for m in re.findall(r"^\|\s*(\d{3,4})\s*\|", text, flags=re.M)}
    assert documented == {rule.code for rule in ERROR_TABLE}
