"""IbkrSource through the real ib_async client over a real socket to the fake gateway."""

from __future__ import annotations

import threading
from datetime import date

import pandas as pd
import pytest

from intraday_jules.adapters.ibkr import IbkrConfig, IbkrSource
from intraday_jules.domain.bars import BAR_COLUMNS
from intraday_jules.domain.calendar import session_window
from intraday_jules.market_data.source import (
    BarRequest,
    BarSource,
    MissingBarsError,
    SourceDataError,
    SourceRateLimited,
    SourceRequestError,
    SourceUnavailable,
)
from intraday_jules.testing.fake_tws import BarCorruption, FakeTwsThread, SimulatedClock
from intraday_jules_tests.adapters.ibkr.conftest import SourceFactory, replay_session, wait_until

DAY = date(2025, 1, 2)


def _expected(frame: pd.DataFrame, request: BarRequest) -> pd.DataFrame:
    window = session_window(request.session)
    start, end = ((window.extended_open, window.extended_close) if request.extended_hours
                  else (window.open, window.close))
    return replay_session(frame, request.symbol, start, end)


def _assert_same_bars(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got[list(BAR_COLUMNS)].reset_index(drop=True),
                                  expected[list(BAR_COLUMNS)], check_dtype=False)


def test_ibkr_source_implements_the_bar_source_protocol(make_source: SourceFactory) -> None:
    source = make_source()
    assert isinstance(source, BarSource)
    assert source.name == "ibkr"


@pytest.mark.parametrize("symbol", ["NVDA", "MSFT"])
def test_fetch_session_regular_hours_equals_the_replay_file(
        make_source: SourceFactory, replay_frame: pd.DataFrame, symbol: str) -> None:
    request = BarRequest(symbol, DAY)
    frame = make_source().fetch_session(request)
    assert len(frame) == 390
    assert (frame["source"] == "ibkr").all()
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    _assert_same_bars(frame, _expected(replay_frame, request))


def test_fetch_session_extended_hours_includes_pre_and_post_market(
        make_source: SourceFactory, replay_frame: pd.DataFrame) -> None:
    request = BarRequest("NVDA", DAY, extended_hours=True)
    frame = make_source().fetch_session(request)
    expected = _expected(replay_frame, request)
    assert len(frame) == len(expected) > 390
    _assert_same_bars(frame, expected)


def test_fetch_session_sends_one_utc_request_per_session_with_rth_flag(
        make_source: SourceFactory, gateway: FakeTwsThread) -> None:
    source = make_source()
    source.fetch_session(BarRequest("NVDA", DAY))
    source.fetch_session(BarRequest("NVDA", DAY, extended_hours=True))
    regular, extended = gateway.historical_requests
    assert (regular.end, regular.duration, regular.use_rth) == ("20250102 21:00:00 UTC",
                                                                "23400 S", True)
    assert (extended.end, extended.duration, extended.use_rth) == ("20250103 01:00:00 UTC",
                                                                   "57600 S", False)
    assert {r.format_date for r in (regular, extended)} == {2}
    assert {r.what_to_show for r in (regular, extended)} == {"TRADES"}


def test_unknown_symbol_raises_source_request_error_naming_the_symbol(
        make_source: SourceFactory) -> None:
    with pytest.raises(SourceRequestError, match=r"unknown symbol AAPL.*field symbol"):
        make_source().fetch_session(BarRequest("AAPL", DAY))


def test_a_day_without_a_session_is_a_request_error(make_source: SourceFactory,
                                                    gateway: FakeTwsThread) -> None:
    with pytest.raises(SourceRequestError, match="not an XNYS trading session"):
        make_source().fetch_session(BarRequest("NVDA", date(2025, 1, 20)))
    assert gateway.historical_requests == []


def test_pacing_violation_backs_off_then_succeeds(
        make_source: SourceFactory, gateway: FakeTwsThread, sim_clock: SimulatedClock) -> None:
    gateway.faults.pacing_violations(2)
    frame = make_source().fetch_session(BarRequest("NVDA", DAY))
    assert len(frame) == 390
    assert len(gateway.historical_requests) == 3
    assert sim_clock.sleeps[:2] == [15.0, 30.0]  # the backoff, which also clears the 15 s rule


def test_pacing_violation_that_outlasts_the_retries_raises_rate_limited(
        make_source: SourceFactory, gateway: FakeTwsThread) -> None:
    gateway.faults.pacing_violations(10)
    with pytest.raises(SourceRateLimited, match="162"):
        make_source().fetch_session(BarRequest("NVDA", DAY))
    assert len(gateway.historical_requests) == 5  # first try + 4 backed-off retries


def test_no_data_answer_raises_missing_bars(make_source: SourceFactory,
                                            gateway: FakeTwsThread) -> None:
    gateway.faults.no_data()
    with pytest.raises(MissingBarsError, match="returned no data"):
        make_source().fetch_session(BarRequest("NVDA", DAY))


def test_truncated_answer_raises_missing_bars_naming_the_first_gap(
        make_source: SourceFactory, gateway: FakeTwsThread) -> None:
    gateway.faults.corrupt_bars(BarCorruption.TRUNCATED)
    with pytest.raises(MissingBarsError, match=r"195 of 390 .*field ts.*2025-01-02T17:45:00Z"):
        make_source().fetch_session(BarRequest("NVDA", DAY))


@pytest.mark.parametrize(("corruption", "field"), [
    (BarCorruption.HIGH_BELOW_LOW, "high"),
    (BarCorruption.NEGATIVE_PRICE, "open"),
    (BarCorruption.NEGATIVE_VOLUME, "volume"),
    (BarCorruption.UNALIGNED_TS, "ts"),
    (BarCorruption.DUPLICATE_TS, "ts"),
    (BarCorruption.LOCAL_TIME_FORMAT, "ts"),
])
def test_impossible_bars_raise_source_data_error_naming_vendor_symbol_request_and_field(
        make_source: SourceFactory, gateway: FakeTwsThread, corruption: BarCorruption,
        field: str) -> None:
    gateway.faults.corrupt_bars(corruption)
    source = make_source()
    with pytest.raises(SourceDataError) as info:
        source.fetch_session(BarRequest("NVDA", DAY))
    message = str(info.value)
    for part in ("ibkr", "NVDA", "reqHistoricalData", "2025-01-02", f"field {field}"):
        assert part in message
    assert len(source.fetch_session(BarRequest("NVDA", date(2025, 1, 3)))) == 390


def test_stalled_gateway_times_out_as_source_unavailable(make_source: SourceFactory,
                                                         gateway: FakeTwsThread) -> None:
    gateway.faults.stall_historical()
    source = make_source(request_timeout_s=0.5)
    with pytest.raises(SourceUnavailable, match="no answer"):
        source.fetch_session(BarRequest("NVDA", DAY))
    # the timed-out request is cancelled at the gateway
    assert wait_until(lambda: any(m.name == "cancelHistoricalData" for m in gateway.messages))


def test_client_id_in_use_fails_fast_with_a_clear_error(make_source: SourceFactory,
                                                        gateway: FakeTwsThread) -> None:
    gateway.faults.client_id_in_use(42)
    source = make_source(client_id=42, connect_timeout_s=30.0)
    with pytest.raises(SourceUnavailable, match=r"326.*client id 42 is already in use"):
        source.fetch_session(BarRequest("NVDA", DAY))


def test_second_connection_with_the_same_client_id_is_refused(make_source: SourceFactory) -> None:
    make_source(client_id=5).fetch_session(BarRequest("NVDA", DAY))
    with pytest.raises(SourceUnavailable, match="326"):
        make_source(client_id=5).fetch_session(BarRequest("NVDA", DAY))


def test_nothing_listening_is_source_unavailable_naming_host_and_port(
        sim_clock: SimulatedClock) -> None:
    with FakeTwsThread(pd.DataFrame({"symbol": ["NVDA"],
                                     "ts": [pd.Timestamp("2025-01-02T14:30Z")],
                                     "open": [1.0], "high": [1.0], "low": [1.0],
                                     "close": [1.0], "volume": [1]})) as gw:
        port = gw.port
    source = IbkrSource(IbkrConfig(port=port, connect_timeout_s=2.0), sleep=sim_clock.sleep)
    try:
        with pytest.raises(SourceUnavailable, match=rf"502.*127.0.0.1:{port}"):
            source.fetch_session(BarRequest("NVDA", DAY))
    finally:
        source.close()


def test_connectivity_lost_then_restored_with_data_kept_answers_the_request(
        make_source: SourceFactory, gateway: FakeTwsThread, replay_frame: pd.DataFrame) -> None:
    from intraday_jules.testing.fake_tws import ConnectivityLoss

    gateway.faults.lose_connectivity_on_historical(ConnectivityLoss(1102, 0.2))
    request = BarRequest("NVDA", DAY)
    frame = make_source().fetch_session(request)
    _assert_same_bars(frame, _expected(replay_frame, request))
    assert len(gateway.historical_requests) == 1


def test_connectivity_restored_with_data_lost_resends_the_request(
        make_source: SourceFactory, gateway: FakeTwsThread, sim_clock: SimulatedClock,
        replay_frame: pd.DataFrame) -> None:
    from intraday_jules.testing.fake_tws import ConnectivityLoss

    gateway.faults.lose_connectivity_on_historical(ConnectivityLoss(1101, 0.2))
    request = BarRequest("NVDA", DAY)
    frame = make_source().fetch_session(request)
    _assert_same_bars(frame, _expected(replay_frame, request))
    first, second = gateway.historical_requests
    assert first.identity == second.identity
    assert (second.received_at - first.received_at).total_seconds() >= 15  # identical-rule wait


def test_request_made_during_an_outage_waits_for_the_restore(
        make_source: SourceFactory, gateway: FakeTwsThread) -> None:
    source = make_source()
    source.fetch_session(BarRequest("MSFT", DAY))  # connected
    gateway.send_connectivity(1100)
    assert wait_until(lambda: source.client.connectivity.lost)
    restore = threading.Timer(0.3, gateway.send_connectivity, args=(1101,))
    restore.start()
    try:
        assert len(source.fetch_session(BarRequest("NVDA", DAY))) == 390
    finally:
        restore.join()
    # sent after the restore: a request sent during the outage would have been lost with 1101
    assert [r.symbol for r in gateway.historical_requests] == ["MSFT", "NVDA"]


def test_connectivity_never_restored_is_source_unavailable(make_source: SourceFactory,
                                                           gateway: FakeTwsThread) -> None:
    from intraday_jules.testing.fake_tws import ConnectivityLoss

    gateway.faults.lose_connectivity_on_historical(ConnectivityLoss(1102, None))
    with pytest.raises(SourceUnavailable, match="1100"):
        make_source(request_timeout_s=0.5).fetch_session(BarRequest("NVDA", DAY))


def test_config_repr_masks_the_account() -> None:
    text = repr(IbkrConfig(account="DU1234567"))
    assert "DU1234567" not in text
    assert "port=7497" in text
