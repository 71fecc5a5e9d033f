from datetime import date

import pandas as pd
import pytest

from intraday_jules.domain.bars import BarValidationError
from intraday_jules.market_data.replay import ReplaySource, read_bars_file
from intraday_jules.market_data.source import BarRequest, MissingBarsError
from intraday_jules_tests.builders import session_bars, write_csv
from intraday_jules_tests.conftest import write_simulated_minutes

HEADER = "symbol,ts,open,high,low,close,volume\n"
GOOD = "NVDA,2025-01-03T14:30:00Z,10,11,9,10.5,100\n"


def _file(tmp_path, body: str, name: str = "bars.csv"):
    path = tmp_path / name
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ("NVDA,2025-01-03T14:31:00Z,10,11,9,nan,100\n", "close", "NaN"),
        ("NVDA,2025-01-03T14:31:00Z,10,9,11,10,100\n", "high", "high < low"),
        ("NVDA,2025-01-03T14:31:00Z,10,11,9,10,-100\n", "volume", ">= 0"),
        ("NVDA,2025-01-03T14:30:00Z,10,11,9,10,100\n", "ts", "duplicate"),
        ("NVDA,2025-01-03 14:31:00,10,11,9,10,100\n", "ts", "naive"),
        ("NVDA,2025-01-03T14:31:30Z,10,11,9,10,100\n", "ts", "aligned"),
        ("NVDA,not-a-time+00:00,10,11,9,10,100\n", "ts", "unparsable"),
        ("NVDA,2025-01-03T14:31:00Z,10,11,9,abc,100\n", "close", "NaN or not a number"),
    ],
)
def test_bad_replay_row_refuses_the_whole_file_naming_file_symbol_ts_field(
        tmp_path, row, field, problem):
    path = _file(tmp_path, HEADER + GOOD + row)
    with pytest.raises(BarValidationError) as err:
        read_bars_file(path)
    message = str(err.value)
    assert str(path) in message
    assert "symbol NVDA" in message
    assert f"field {field}" in message
    assert problem in message
    assert "2025-01-03" in message or "not-a-time" in message


def test_unknown_layout_and_empty_files_are_refused(tmp_path):
    with pytest.raises(BarValidationError, match="unknown column layout"):
        read_bars_file(_file(tmp_path, "timestamp,open,high,low,close,volume\n1,2,3,4,5,6\n"))
    with pytest.raises(BarValidationError, match="empty"):
        read_bars_file(_file(tmp_path, "", "empty.csv"))
    with pytest.raises(BarValidationError, match="no rows"):
        read_bars_file(_file(tmp_path, HEADER, "header.csv"))


def test_offsets_other_than_utc_are_converted(tmp_path):
    frame = read_bars_file(_file(tmp_path, HEADER + "NVDA,2025-01-03T09:30:00-05:00,1,1,1,1,1\n"))
    assert frame["ts"].iloc[0] == pd.Timestamp("2025-01-03T14:30:00Z")


def test_parquet_round_trip(tmp_path):
    bars = session_bars(n=10, source=None)
    path = tmp_path / "bars.parquet"
    bars.to_parquet(path)
    source = ReplaySource(path)
    got = source.fetch_session(BarRequest("NVDA", date(2025, 1, 3)))
    assert len(got) == 10 and set(got["source"]) == {"replay"}


@pytest.mark.recorded_data
def test_session_window_filters_regular_and_extended_hours(market_dir):
    source = ReplaySource(market_dir / "nvda_msft_1min_2025-01-02_2025-02-28.csv")
    manifest = pd.read_csv(market_dir / "manifest_nvda_msft_1min_2025-01-02_2025-02-28.csv")
    for row in manifest.head(6).itertuples():
        day = date.fromisoformat(row.date)
        regular = source.fetch_session(BarRequest(row.symbol, day))
        extended = source.fetch_session(BarRequest(row.symbol, day, extended_hours=True))
        assert len(regular) == row.rth_bars
        assert len(extended) == row.bars


def test_session_window_keeps_regular_hours_and_extended_adds_pre_and_post_market(
        sim_minute_file):
    source = ReplaySource(sim_minute_file)
    local = source.bars["ts"].dt.tz_convert("America/New_York")
    for day in sorted(set(local.dt.date))[:6]:
        for symbol in ("NVDA", "MSFT"):
            on_day = source.bars[(source.bars["symbol"] == symbol) & (local.dt.date == day)]
            regular = source.fetch_session(BarRequest(symbol, day))
            extended = source.fetch_session(BarRequest(symbol, day, extended_hours=True))
            clock = regular["ts"].dt.tz_convert("America/New_York").dt.strftime("%H:%M")
            assert len(regular) == 390 and (clock.min(), clock.max()) == ("09:30", "15:59")
            assert len(extended) == len(on_day) > len(regular)
            late = extended["ts"].dt.tz_convert("America/New_York").dt.strftime("%H:%M")
            assert (late.min(), late.max()) == ("04:00", "19:59")
            assert set(regular["ts"]) <= set(extended["ts"])


def _five_minute_file(folder, *sessions: str):
    """NVDA + MSFT 5-minute bars (all hours) of the given sessions, from the seeded simulator's
    minutes, as a replay CSV."""
    minutes = pd.concat([read_bars_file(write_simulated_minutes(folder / f"{d}.csv", d, d))
                         for d in sessions], ignore_index=True)
    grouped = minutes.groupby([minutes["symbol"], minutes["ts"].dt.floor("5min")], sort=True)
    bars = grouped.agg(open=("open", "first"), high=("high", "max"), low=("low", "min"),
                       close=("close", "last"), volume=("volume", "sum")).reset_index()
    path = folder / "five_minutes.csv"
    write_csv(path, bars.sort_values(["ts", "symbol"]))
    return path


def test_dst_and_half_days_from_a_5_minute_file(tmp_path):
    source = ReplaySource(_five_minute_file(tmp_path, "2025-07-03", "2025-10-31", "2025-11-03",
                                            "2025-11-28"))
    after_close = source.bars[(source.bars["symbol"] == "NVDA")
                              & (source.bars["ts"] >= pd.Timestamp("2025-11-28T18:00Z"))
                              & (source.bars["ts"] < pd.Timestamp("2025-11-29T00:00Z"))]
    assert len(after_close) > 0  # the file has post-market bars after the half-day close
    before = source.fetch_session(BarRequest("NVDA", date(2025, 10, 31)))
    after = source.fetch_session(BarRequest("NVDA", date(2025, 11, 3)))
    assert before["ts"].iloc[0] == pd.Timestamp("2025-10-31T13:30:00Z")
    assert after["ts"].iloc[0] == pd.Timestamp("2025-11-03T14:30:00Z")
    assert len(source.fetch_session(BarRequest("MSFT", date(2025, 7, 3)))) == 42
    # the bars after the 13:00 half-day close on 2025-11-28 are not regular hours
    assert len(source.fetch_session(BarRequest("NVDA", date(2025, 11, 28)))) == 42
    with pytest.raises(MissingBarsError, match="no bars"):
        source.fetch_session(BarRequest("NVDA", date(2025, 5, 9)))


def test_replay_of_a_written_csv_equals_the_original(tmp_path):
    bars = session_bars(n=390, source=None)
    write_csv(tmp_path / "x.csv", bars)
    got = ReplaySource(tmp_path / "x.csv").fetch_session(BarRequest("NVDA", date(2025, 1, 3)))
    pd.testing.assert_frame_equal(got.drop(columns="source"), bars, check_dtype=False)
