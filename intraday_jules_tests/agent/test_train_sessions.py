"""Training on a listed, non-contiguous set of sessions (a CPCV split): the normalisers see
only those sessions, and no bar of another session reaches the training env."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from intraday_jules.agent import training
from intraday_jules.agent.data import DateWindow, TrainingDataError, prepare_data
from intraday_jules.domain.calendar import NEW_YORK
from intraday_jules.env import MarketArrays
from intraday_jules.env.data import MarketArraysError
from intraday_jules_tests.agent.conftest import synthetic_bars, tiny_config


def _days(bars: pd.DataFrame) -> list[date]:
    return sorted(set(bars["ts"].dt.tz_convert(NEW_YORK).dt.date))


def _ny_days(ts: np.ndarray) -> set[date]:
    return set(pd.DatetimeIndex(ts).tz_localize("UTC").tz_convert(NEW_YORK).date)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    # a volatile middle: a normaliser fitted over the span would see its spread
    frame = synthetic_bars(n_sessions=6, bars_per_session=120, seed=3)
    days = frame["ts"].dt.tz_convert(NEW_YORK).dt.date
    middle = days.isin(_days(frame)[2:4])
    for column in ("open", "high", "low", "close"):
        base = frame.groupby("symbol")[column].transform("first")
        frame.loc[middle, column] = base[middle] + (frame.loc[middle, column]
                                                     - base[middle]) * 8.0
    return frame


def test_select_sessions_keeps_only_those_sessions_renumbered(bars: pd.DataFrame) -> None:
    data = prepare_data(bars, train_window=DateWindow.of(_days(bars)))
    days = _days(bars)
    chosen = [days[4], days[0], days[5]]
    cut = data.arrays.select_sessions(chosen)
    assert cut.session_dates == (days[0], days[4], days[5])
    assert _ny_days(cut.ts) == set(chosen)
    assert list(np.unique(cut.session)) == [0, 1, 2]
    rows = np.isin(data.arrays.session, [0, 4, 5])
    np.testing.assert_array_equal(cut.close, data.arrays.close[rows])
    np.testing.assert_array_equal(cut.features, data.arrays.features[rows])


def test_select_sessions_refuses_a_session_without_bars(bars: pd.DataFrame) -> None:
    data = prepare_data(bars, train_window=DateWindow.of(_days(bars)))
    with pytest.raises(MarketArraysError, match=r"1 requested session\(s\) have no bars: "
                                                r"2025-03-08"):
        data.arrays.select_sessions([date(2025, 3, 8)])
    assert isinstance(data.arrays, MarketArrays)


def test_train_sessions_fit_the_normalisers_on_those_sessions_only(bars: pd.DataFrame) -> None:
    days = _days(bars)
    chosen = [days[0], days[1], days[4], days[5]]  # the volatile middle is left out
    listed = prepare_data(bars, train_window=None, train_sessions=chosen)
    only = bars[bars["ts"].dt.tz_convert(NEW_YORK).dt.date.isin(chosen)]
    reference = prepare_data(only, train_window=DateWindow.of(chosen))
    spanned = prepare_data(bars, train_window=DateWindow.of(chosen))
    for symbol in ("NVDA", "MSFT"):
        assert listed.normalizers[symbol].to_dict() == reference.normalizers[symbol].to_dict()
        assert listed.normalizers[symbol].scale != spanned.normalizers[symbol].scale
    assert listed.data_hashes == reference.data_hashes
    assert listed.train_window == DateWindow(days[0], days[5])
    assert listed.train_sessions == tuple(chosen)
    assert listed.sessions == tuple(days)  # evaluation can still reach every session


def test_no_bar_of_an_excluded_session_reaches_the_training_env(
        bars: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    days = _days(bars)
    chosen = [days[0], days[2], days[5]]
    data = prepare_data(bars, train_window=None, train_sessions=chosen)
    seen: list[MarketArrays] = []
    real = training.make_training_env

    def spy(arrays: MarketArrays, *args: object, **kwargs: object) -> object:
        seen.append(arrays)
        return real(arrays, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(training, "make_training_env", spy)
    bundle = training.train_foundation(data, tiny_config())
    assert len(seen) == 1
    assert _ny_days(seen[0].ts) == set(chosen)
    assert seen[0].symbols == ("NVDA",)
    assert bundle.metrics["train_decisions"] == len(
        data.select_sessions(chosen, ("NVDA",)).decision_schedule(50))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"train_window": DateWindow(date(2025, 3, 3), date(2025, 3, 4)),
      "train_sessions": [date(2025, 3, 3)]}, "train_window or train_sessions, not both"),
    ({"train_window": None, "train_sessions": []}, "train_sessions is empty"),
    ({"train_window": None, "train_sessions": [date(2025, 3, 3), date(2025, 4, 1)]},
     r"1 requested session\(s\) have no bars: 2025-04-01"),
])
def test_train_sessions_are_refused_clearly(bars: pd.DataFrame, kwargs: dict[str, object],
                                            message: str) -> None:
    with pytest.raises(TrainingDataError, match=message):
        prepare_data(bars, **kwargs)  # type: ignore[arg-type]
