"""LivePolicy: the same decisions as evaluation, and the same state after a restart."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from intraday_jules.agent import (
    DateWindow,
    LivePolicy,
    ModelBundle,
    ModelMismatchError,
    PreparedData,
    evaluate,
)
from intraday_jules.agent.data import cut_to_window
from intraday_jules.domain.calendar import NEW_YORK
from intraday_jules.features import DEFAULT_SPEC, FeatureSpec

SESSION = date(2025, 2, 20)  # in the test split: never seen in training


@pytest.fixture(scope="module")
def session_bars(real_bars: pd.DataFrame) -> pd.DataFrame:
    """Regular-hours bars of one session, in time order (as a live loop accumulates them)."""
    day = cut_to_window(real_bars, DateWindow(SESSION, SESSION))
    minutes = day["ts"].dt.tz_convert(NEW_YORK)
    regular = (minutes.dt.hour * 60 + minutes.dt.minute).between(9 * 60 + 30, 16 * 60 - 1)
    return day[regular].sort_values(["ts", "symbol"]).reset_index(drop=True)


def _first_minutes(bars: pd.DataFrame, n: int) -> pd.DataFrame:
    stamps = sorted(bars["ts"].unique())[:n]
    return bars[bars["ts"].isin(stamps)]


def test_a_restart_mid_session_rebuilds_the_same_lstm_state_and_actions(
        dual: ModelBundle, session_bars: pd.DataFrame) -> None:
    running = LivePolicy(dual, seed=4)
    for n in range(45, 121):
        decision = running.decide(_first_minutes(session_bars, n))
        assert (decision is None) == (n <= 50)
    restarted = LivePolicy(dual, seed=4)
    latest = restarted.decide(_first_minutes(session_bars, 120))
    assert latest == running.history[-1]
    assert restarted.history == running.history and len(restarted.history) == 70
    np.testing.assert_array_equal(restarted.lstm_state, running.lstm_state)
    assert running.decide(_first_minutes(session_bars, 121)) == restarted.decide(
        _first_minutes(session_bars, 121))
    np.testing.assert_array_equal(restarted.lstm_state, running.lstm_state)


def test_live_decisions_over_a_session_are_the_evaluated_seeds_actions(
        dual: ModelBundle, real_data: PreparedData, session_bars: pd.DataFrame) -> None:
    report = evaluate(dual, real_data, window=DateWindow(SESSION, SESSION), seeds=1,
                      cost_multipliers=(1.0,))
    live = LivePolicy(dual, seed=0)
    live.decide(session_bars)
    assert len(live.history) == 390 - 50 - 5
    assert live.history[-1].forced_flatten and not live.history[-2].forced_flatten
    assert live.history[-1].ts == pd.Timestamp("2025-02-20T20:54:00Z")
    np.testing.assert_array_equal([d.action for d in live.history], report.actions["model"][0])


def test_probabilities_are_exposed_jointly_and_per_asset(dual: ModelBundle,
                                                         session_bars: pd.DataFrame) -> None:
    decision = LivePolicy(dual, mode="argmax").decide(_first_minutes(session_bars, 60))
    assert decision is not None and len(decision.probabilities) == 9
    assert decision.action == int(np.argmax(decision.probabilities))
    assert set(decision.per_asset) == {"NVDA", "MSFT"}
    for symbol, probs in decision.per_asset_probabilities.items():
        assert sum(probs) == pytest.approx(1.0)
        assert decision.per_asset[symbol] in ("sell", "hold", "buy")
    assert decision.ts == pd.Timestamp("2025-02-20T15:29:00Z")


def test_no_decision_in_the_warm_up_or_after_the_forced_flatten(
        foundation: ModelBundle, session_bars: pd.DataFrame) -> None:
    policy = LivePolicy(foundation)
    assert policy.decide(_first_minutes(session_bars, 50)) is None
    assert policy.decide(_first_minutes(session_bars, 51)) is not None
    assert policy.decide(session_bars) is None  # the last bar (15:59) is after the flatten
    assert policy.history[-1].forced_flatten


def test_actual_positions_from_the_book_enter_the_observation(
        foundation: ModelBundle, session_bars: pd.DataFrame) -> None:
    bars = _first_minutes(session_bars, 60)
    ts = pd.Timestamp(sorted(bars["ts"].unique())[-1])
    free = LivePolicy(foundation, mode="argmax").decide(bars)
    held = LivePolicy(foundation, mode="argmax").decide(bars, book={ts: (7,)})
    assert free is not None and held is not None
    assert held.shares_before == (7,) and held.probabilities != free.probabilities


def test_a_model_of_another_feature_spec_is_refused_naming_both_hashes(
        dual: ModelBundle) -> None:
    live = FeatureSpec(features=DEFAULT_SPEC.features, lookback=60)
    with pytest.raises(ModelMismatchError) as caught:
        LivePolicy(dual, live_spec=live)
    assert DEFAULT_SPEC.version in str(caught.value) and live.version in str(caught.value)
