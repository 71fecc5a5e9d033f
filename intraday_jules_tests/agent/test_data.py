"""Data preparation: train-only normalisation, splits with embargo, bad input refused."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from intraday_jules.agent import (
    BlockedPartitionError,
    DateWindow,
    PreparedData,
    Splits,
    prepare_data,
    split_sessions,
)
from intraday_jules.agent.data import bars_hashes, cut_to_window
from intraday_jules.env import WindowTooShortError
from intraday_jules_tests.agent.conftest import synthetic_bars


def test_split_sessions_is_chronological_with_an_embargo_session_between_splits(
        splits: Splits, real_data: PreparedData) -> None:
    days = list(real_data.sessions)
    assert splits.train.start == days[0] and splits.test is not None
    assert splits.train.end < splits.validation.start < splits.test.start
    gap_1 = days.index(splits.validation.start) - days.index(splits.train.end) - 1
    gap_2 = days.index(splits.test.start) - days.index(splits.validation.end) - 1
    assert gap_1 == gap_2 == splits.embargo == 1
    assert splits.test.end == days[-1]


def test_split_sessions_refuses_too_few_sessions() -> None:
    with pytest.raises(ValueError, match="cannot be split"):
        split_sessions([date(2025, 1, 2), date(2025, 1, 3), date(2025, 1, 6)])


def test_normalisation_is_fit_on_the_train_window_only(real_bars: pd.DataFrame,
                                                      splits: Splits,
                                                      real_data: PreparedData) -> None:
    after_train = real_bars["ts"] >= pd.Timestamp(splits.validation.start, tz="UTC")
    shocked = real_bars.copy()
    for column in ("open", "high", "low", "close"):
        shocked.loc[after_train, column] *= np.where(
            np.arange(after_train.sum()) % 2 == 0, 1.01, 0.99)
    shocked["high"] = shocked[["open", "high", "low", "close"]].max(axis=1)
    shocked["low"] = shocked[["open", "high", "low", "close"]].min(axis=1)
    again = prepare_data(shocked, train_window=splits.train)
    for symbol in ("NVDA", "MSFT"):
        assert again.normalizers[symbol].to_dict() == real_data.normalizers[symbol].to_dict()
    assert real_data.normalizers["NVDA"].to_dict() != real_data.normalizers["MSFT"].to_dict()
    start, end = splits.train.utc_bounds()
    assert real_data.normalizers["NVDA"].train_start == start
    assert real_data.normalizers["NVDA"].train_end == end


def test_prepared_arrays_are_normalised_and_hold_every_session(real_data: PreparedData) -> None:
    arrays = real_data.arrays
    assert arrays.symbols == ("NVDA", "MSFT") and len(arrays.session_dates) == 39
    train = real_data.window(real_data.train_window)  # type: ignore[arg-type]
    decided = train.features[train.decision_schedule().bars]
    assert np.abs(np.median(decided, axis=0)).max() < 0.5  # centred by train statistics
    assert np.abs(decided).max() <= 5.0  # normaliser's clip


def test_window_shorter_than_the_lookback_is_refused_with_a_clear_error() -> None:
    bars = synthetic_bars(n_sessions=3, bars_per_session=40)
    with pytest.raises(WindowTooShortError) as caught:
        prepare_data(bars, train_window=DateWindow(date(2025, 3, 3), date(2025, 3, 5)),
                     origin="file short.csv")
    message = str(caught.value)
    assert "short.csv" in message and "lookback 50" in message and "40 bars" in message


def test_train_window_shorter_than_the_lookback_is_refused_even_if_other_sessions_are_long(
        ) -> None:
    long_days = synthetic_bars(first=date(2025, 3, 3), n_sessions=3)
    short_day = synthetic_bars(first=date(2025, 3, 10), n_sessions=1, bars_per_session=30)
    bars = pd.concat([long_days, short_day], ignore_index=True)
    with pytest.raises(WindowTooShortError, match=r"window 2025-03-10\.\.2025-03-10"):
        prepare_data(bars, train_window=DateWindow(date(2025, 3, 10), date(2025, 3, 10)))


def test_training_on_a_partition_that_failed_blocking_checks_is_refused() -> None:
    bars = synthetic_bars(n_sessions=4)
    asked: list[tuple[str, date]] = []

    def blocked(symbol: str, session: date) -> bool:
        asked.append((symbol, session))
        return (symbol, session) == ("MSFT", date(2025, 3, 4))

    with pytest.raises(BlockedPartitionError) as caught:
        prepare_data(bars, train_window=DateWindow(date(2025, 3, 3), date(2025, 3, 5)),
                     is_partition_blocked=blocked, origin="store")
    assert caught.value.blocked == (("MSFT", date(2025, 3, 4)),)
    assert "MSFT 2025-03-04" in str(caught.value) and "store" in str(caught.value)
    assert ("NVDA", date(2025, 3, 6)) not in asked  # outside the train window: not judged


def test_a_blocked_partition_outside_the_train_window_does_not_stop_training() -> None:
    bars = synthetic_bars(n_sessions=4)
    data = prepare_data(bars, train_window=DateWindow(date(2025, 3, 3), date(2025, 3, 5)),
                        is_partition_blocked=lambda _s, d: d == date(2025, 3, 6))
    assert data.train_window == DateWindow(date(2025, 3, 3), date(2025, 3, 5))


def test_data_hashes_identify_the_training_window_bars(real_bars: pd.DataFrame,
                                                      splits: Splits) -> None:
    first = bars_hashes(real_bars, ("NVDA", "MSFT"), splits.train)
    assert first == bars_hashes(real_bars.sample(frac=1.0, random_state=1), ("NVDA", "MSFT"),
                                splits.train)
    inside = cut_to_window(real_bars, splits.train).index[5]
    changed = real_bars.copy()
    changed.loc[inside, "volume"] += 1
    again = bars_hashes(changed, ("NVDA", "MSFT"), splits.train)
    symbol = real_bars.loc[inside, "symbol"]
    assert again[symbol] != first[symbol]
    other = "MSFT" if symbol == "NVDA" else "NVDA"
    assert again[other] == first[other]


def test_missing_symbol_is_refused_by_name() -> None:
    bars = synthetic_bars(n_sessions=2, symbols=("NVDA",))
    with pytest.raises(ValueError, match=r"MSFT"):
        prepare_data(bars, train_window=DateWindow(date(2025, 3, 3), date(2025, 3, 4)))
