"""``AlphaVantageSource`` against the loopback server: replay files round-trip bar for bar,
DST and half days land right, one request serves a month, provenance is recorded."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from intraday_jules.adapters.alpha_vantage import (
    AlphaVantageConfig,
    AlphaVantageSource,
    MalformedPayload,
    MissingApiKey,
)
from intraday_jules.domain.bars import BAR_COLUMNS
from intraday_jules.domain.calendar import session_window, sessions_in_range
from intraday_jules.market_data.source import (
    BarRequest,
    BarSource,
    MissingBarsError,
    SourceRequestError,
)
from intraday_jules.secrets import SecretStore
from intraday_jules.testing.alpha_vantage_server import AlphaVantageServer
from intraday_jules_tests.adapters.alpha_vantage.conftest import API_KEY, FakeTime, MakeSource
from intraday_jules_tests.conftest import write_simulated_minutes


def expected_bars(bars: pd.DataFrame, request: BarRequest) -> pd.DataFrame:
    window = session_window(request.session)
    lo, hi = ((window.extended_open, window.extended_close) if request.extended_hours
              else (window.open, window.close))
    rows = bars[(bars["symbol"] == request.symbol) & (bars["ts"] >= lo) & (bars["ts"] < hi)]
    return rows[list(BAR_COLUMNS)].reset_index(drop=True)


def fetch_all(source: AlphaVantageSource, symbols: tuple[str, ...], sessions: list[date],
              extended: bool) -> pd.DataFrame:
    frames = [source.fetch_session(BarRequest(s, d, extended)) for s in symbols for d in sessions]
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("extended", [False, True], ids=["regular", "extended"])
def test_two_months_of_both_symbols_round_trip_to_the_replay_file(
        extended: bool, jan_feb_bars: pd.DataFrame, server: AlphaVantageServer,
        make_source: MakeSource) -> None:
    sessions = sessions_in_range(date(2025, 1, 1), date(2025, 2, 28))
    assert len(sessions) == 39
    got = fetch_all(make_source(), ("NVDA", "MSFT"), sessions, extended)
    assert (got["source"] == "alpha_vantage").all()
    want = pd.concat([expected_bars(jan_feb_bars, BarRequest(s, d, extended))
                      for s in ("NVDA", "MSFT") for d in sessions], ignore_index=True)
    pd.testing.assert_frame_equal(got[list(BAR_COLUMNS)], want, check_exact=True)
    if extended:  # every bar of the file lies in an extended session
        assert len(got) == len(jan_feb_bars)
    else:
        assert len(got) == 2 * 39 * 390
    months = {(r.params["symbol"], r.params["month"]) for r in server.requests}
    assert len(server.requests) == len(months) == 4  # one request per (symbol, month)
    assert {r.params["extended_hours"] for r in server.requests} == {str(extended).lower()}
    assert {r.params["adjusted"] for r in server.requests} == {"false"}
    assert {r.params["outputsize"] for r in server.requests} == {"full"}


@pytest.fixture(scope="module")
def autumn_bars(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """NVDA minutes of October-November 2025, all hours: the DST change (11-02) and a half day
    (11-28) with post-market prints after its 13:00 ET close (the seeded simulator)."""
    from intraday_jules.market_data.replay import read_bars_file

    path = write_simulated_minutes(tmp_path_factory.mktemp("autumn") / "nvda_autumn.csv",
                                   "2025-10-01", "2025-11-28")
    bars = read_bars_file(path)
    return bars[bars["symbol"] == "NVDA"].reset_index(drop=True)


def test_dst_change_and_half_day_land_on_the_right_utc_minutes(
        autumn_bars: pd.DataFrame, make_source: MakeSource) -> None:
    with AlphaVantageServer(autumn_bars) as autumn:
        source = make_source(base_url=autumn.base_url)
        sessions = sessions_in_range(date(2025, 10, 1), date(2025, 11, 30))
        got = fetch_all(source, ("NVDA",), sessions, extended=False)
        assert len(autumn.requests) == 2
    want = pd.concat([expected_bars(autumn_bars, BarRequest("NVDA", d)) for d in sessions],
                     ignore_index=True)
    pd.testing.assert_frame_equal(got[list(BAR_COLUMNS)], want, check_exact=True)
    first = got.groupby(got["ts"].dt.tz_convert("America/New_York").dt.date)["ts"].min()
    assert first[date(2025, 10, 31)] == pd.Timestamp("2025-10-31 13:30", tz="UTC")  # EDT
    assert first[date(2025, 11, 3)] == pd.Timestamp("2025-11-03 14:30", tz="UTC")  # EST
    half_day = got[got["ts"].dt.tz_convert("America/New_York").dt.date == date(2025, 11, 28)]
    served = autumn_bars[autumn_bars["ts"].dt.tz_convert("America/New_York").dt.date
                         == date(2025, 11, 28)]
    assert (served["ts"] >= pd.Timestamp("2025-11-28 18:00", tz="UTC")).any()  # after 13:00 ET
    assert len(half_day) == 210  # 09:30-13:00 ET; the file's later prints are not regular hours
    assert half_day["ts"].max() == pd.Timestamp("2025-11-28 17:59", tz="UTC")


def test_an_end_labelling_vendor_is_detected_not_silently_shifted(
        jan_feb_bars: pd.DataFrame, make_source: MakeSource) -> None:
    with AlphaVantageServer(jan_feb_bars, label="end") as vendor:
        source = make_source(base_url=vendor.base_url)
        with pytest.raises(MalformedPayload, match="label bars by their end"):
            source.fetch_session(BarRequest("NVDA", date(2025, 1, 2)))
        ended = make_source(base_url=vendor.base_url, bar_label="end")
        bars = ended.fetch_session(BarRequest("NVDA", date(2025, 1, 2)))
    pd.testing.assert_frame_equal(
        bars[list(BAR_COLUMNS)], expected_bars(jan_feb_bars, BarRequest("NVDA", date(2025, 1, 2))))


def test_a_month_fetched_before_a_session_ended_is_fetched_again_for_it(
        server: AlphaVantageServer, make_source: MakeSource) -> None:
    now = {"t": datetime(2025, 1, 15, 18, 0, tzinfo=UTC)}  # during the 2025-01-15 session
    source = make_source(clock=lambda: now["t"])
    source.fetch_session(BarRequest("NVDA", date(2025, 1, 14)))
    source.fetch_session(BarRequest("NVDA", date(2025, 1, 13)))
    assert len(server.requests) == 1  # both ended before the fetch
    source.fetch_session(BarRequest("NVDA", date(2025, 1, 16)))
    assert len(server.requests) == 2  # not over when fetched: fetched again
    now["t"] = datetime(2025, 2, 1, tzinfo=UTC)
    source.fetch_session(BarRequest("NVDA", date(2025, 1, 31)))
    source.fetch_session(BarRequest("NVDA", date(2025, 1, 30)))
    assert len(server.requests) == 3


def test_the_live_twin_refetches_during_the_session_and_keeps_out_of_the_disk_cache(
        server: AlphaVantageServer, make_source: MakeSource, tmp_path: Path) -> None:
    now = {"t": datetime(2025, 2, 3, 18, 0, tzinfo=UTC)}  # 13:00 ET, the session running
    shared = make_source(cache_dir=tmp_path, clock=lambda: now["t"])
    live = shared.for_live_session()
    request = BarRequest("NVDA", date(2025, 2, 3))
    live.fetch_session(request)
    now["t"] = datetime(2025, 2, 3, 18, 1, tzinfo=UTC)
    live.fetch_session(request)
    assert len(server.requests) == 2  # the minutes since the first fetch exist only now
    assert list(tmp_path.iterdir()) == [] and len(shared.cache) == 0
    assert live.client is shared.client  # one rate limiter per key


def test_the_disk_cache_lets_another_process_reuse_the_month(
        server: AlphaVantageServer, make_source: MakeSource, tmp_path: Path) -> None:
    first = make_source(cache_dir=tmp_path).fetch_session(BarRequest("MSFT", date(2025, 2, 3)))
    second = make_source(cache_dir=tmp_path).fetch_session(BarRequest("MSFT", date(2025, 2, 4)))
    assert len(server.requests) == 1
    assert len(first) == len(second) == 390
    assert [p.name for p in tmp_path.iterdir()] == ["MSFT_2025-02_rth.parquet"]
    (tmp_path / "MSFT_2025-02_rth.parquet").write_bytes(b"not parquet")
    make_source(cache_dir=tmp_path).fetch_session(BarRequest("MSFT", date(2025, 2, 5)))
    assert len(server.requests) == 2  # a damaged cache file is a miss


def test_a_session_the_month_lacks_is_missing_bars(
        jan_feb_bars: pd.DataFrame, make_source: MakeSource) -> None:
    local = jan_feb_bars["ts"].dt.tz_convert("America/New_York").dt.date
    request = BarRequest("NVDA", date(2025, 1, 2))
    with (AlphaVantageServer(jan_feb_bars[local != date(2025, 1, 2)]) as gappy,
          pytest.raises(MissingBarsError, match="no bars for this session")):
        make_source(base_url=gappy.base_url).fetch_session(request)


def test_requests_for_non_sessions_and_bad_symbols_are_refused_without_a_call(
        server: AlphaVantageServer, make_source: MakeSource) -> None:
    source = make_source()
    with pytest.raises(SourceRequestError, match="not an XNYS trading session"):
        source.fetch_session(BarRequest("NVDA", date(2025, 1, 20)))
    with pytest.raises(SourceRequestError, match="invalid symbol"):
        source.fetch_session(BarRequest("nvda; drop", date(2025, 1, 2)))
    assert server.requests == []


def test_no_configured_key_is_a_typed_error_and_no_call(
        server: AlphaVantageServer, make_source: MakeSource) -> None:
    with pytest.raises(MissingApiKey, match="secrets set alpha_vantage_key"):
        make_source(key=None).fetch_session(BarRequest("NVDA", date(2025, 1, 2)))
    assert server.requests == []


def test_key_comes_from_the_secret_store_env_override(server: AlphaVantageServer,
                                                      tmp_path: Path) -> None:
    store = SecretStore(tmp_path, {"INTRADAY_JULES_ALPHA_VANTAGE_KEY": API_KEY})
    config = AlphaVantageConfig(base_url=server.base_url, min_interval_s=0)
    source = AlphaVantageSource.from_secret_store(config, store)
    try:
        assert isinstance(source, BarSource)
        assert source.name == "alpha_vantage"
        assert len(source.fetch_session(BarRequest("NVDA", date(2025, 1, 2)))) == 390
    finally:
        source.close()


def test_a_locked_vault_is_a_missing_key_with_the_reason(server: AlphaVantageServer,
                                                         tmp_path: Path,
                                                         fake_time: FakeTime) -> None:
    (tmp_path / "secrets.vault").write_text("[keyring_2Dsetting]\n")
    store = SecretStore(tmp_path, {"INTRADAY_JULES_SECRETS_BACKEND": "vault"})
    config = AlphaVantageConfig(base_url=server.base_url, min_interval_s=0)
    source = AlphaVantageSource.from_secret_store(config, store)
    with pytest.raises(MissingApiKey, match="INTRADAY_JULES_VAULT_PASSWORD"):
        source.fetch_session(BarRequest("NVDA", date(2025, 1, 2)))
    source.close()
