from datetime import UTC, date, datetime

from intraday_jules.domain.calendar import (
    is_session,
    last_completed_sessions,
    non_sessions_in_range,
    session_date_of,
    session_window,
    sessions_in_range,
)


def test_regular_session_has_390_bars_and_half_day_210():
    assert session_window(date(2025, 1, 3)).regular_minutes == 390
    half = session_window(date(2025, 7, 3))
    assert half.is_half_day and half.regular_minutes == 210
    assert len(half.bar_starts()) == 210
    assert half.close == datetime(2025, 7, 3, 17, 0, tzinfo=UTC)


def test_dst_moves_the_open_in_utc():
    assert session_window(date(2025, 10, 31)).open == datetime(2025, 10, 31, 13, 30, tzinfo=UTC)
    assert session_window(date(2025, 11, 3)).open == datetime(2025, 11, 3, 14, 30, tzinfo=UTC)


def test_holidays_and_special_closures_are_not_sessions():
    assert not is_session(date(2025, 12, 25))
    assert not is_session(date(2025, 1, 9))  # national day of mourning (President Carter)
    assert date(2025, 1, 20) in non_sessions_in_range(date(2025, 1, 1), date(2025, 1, 31))
    assert len(sessions_in_range(date(2025, 1, 1), date(2025, 2, 28))) == 39  # SOURCES.md


def test_extended_hours_window_is_4_to_20_et_and_17_on_half_days():
    w = session_window(date(2025, 1, 3))
    assert w.extended_open == datetime(2025, 1, 3, 9, 0, tzinfo=UTC)
    assert w.extended_close == datetime(2025, 1, 4, 1, 0, tzinfo=UTC)
    assert session_window(date(2025, 7, 3)).extended_close == datetime(2025, 7, 3, 21, 0,
                                                                       tzinfo=UTC)


def test_last_completed_sessions_skip_the_open_session_and_holidays():
    during = datetime(2025, 12, 26, 15, 0, tzinfo=UTC)  # Friday 10:00 ET, open
    assert last_completed_sessions(during, 2) == [date(2025, 12, 23), date(2025, 12, 24)]
    after = datetime(2025, 12, 26, 22, 0, tzinfo=UTC)
    assert last_completed_sessions(after, 1) == [date(2025, 12, 26)]
    assert session_date_of(datetime(2025, 1, 4, 0, 30, tzinfo=UTC)) == date(2025, 1, 3)
