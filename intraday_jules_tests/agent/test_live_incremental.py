"""LivePolicy's incremental path: bit for bit the full rebuild, at a constant cost per bar.

The reference is ``LivePolicy(..., incremental=False)``, which rebuilds features,
normalisation and ``MarketArrays`` from all of the session's bars on every call (the
behaviour before the incremental path). Over a whole real session, fed one minute at a time
as the trading loop does (pre- and post-market bars included), the incremental policy must
give the same observations, LSTM states and actions, for a freshly initialised model and a
smoke-trained one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from intraday_jules.agent import DateWindow, LivePolicy, ModelBundle, PreparedData, Splits
from intraday_jules.agent.data import cut_to_window
from intraday_jules.agent.policy import PolicyStepper
from intraday_jules.domain.bars import BarValidationError
from intraday_jules.domain.calendar import session_window
from intraday_jules.features import FeatureInputError, SessionStreams

SESSION = date(2025, 2, 20)  # in the test split: never seen in training
NEXT_SESSION = date(2025, 2, 21)


class RecordingStepper:
    """Our own ``PolicyStepper``, recording each observation and the LSTM state after it."""

    def __init__(self, inner: PolicyStepper) -> None:
        self.inner = inner
        self.observations: list[np.ndarray] = []
        self.states: list[np.ndarray] = []

    def reset(self) -> None:
        self.inner.reset()

    @property
    def hidden(self) -> np.ndarray:
        return self.inner.hidden

    def step(self, obs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        probs = self.inner.step(obs, starts)
        self.observations.append(np.array(obs, copy=True))
        self.states.append(self.inner.hidden)
        return probs


def recording(bundle: ModelBundle, **kwargs: Any) -> tuple[LivePolicy, RecordingStepper]:
    policy = LivePolicy(bundle, **kwargs)
    spy = RecordingStepper(policy._stepper)
    policy._stepper = spy  # type: ignore[assignment]
    return policy, spy


@pytest.fixture(scope="module")
def fresh(real_data: PreparedData, splits: Splits) -> ModelBundle:
    """A freshly initialised (untrained) dual RecurrentPPO of the real configuration."""
    from sb3_contrib import RecurrentPPO

    from intraday_jules.agent import TrainingConfig
    from intraday_jules.agent.envs import make_training_env
    from intraday_jules.agent.policy import SequenceLstmPolicy

    config = TrainingConfig.dual(n_envs=1, seed=0)
    env = make_training_env(real_data.window(splits.train), 2, config)
    model = RecurrentPPO(SequenceLstmPolicy, env, policy_kwargs=config.policy_kwargs(2),
                         verbose=0, **config.ppo_kwargs())
    return ModelBundle(model, "dual", ("NVDA", "MSFT"), real_data.spec, real_data.normalizers,
                       config, splits.train, real_data.data_hashes)


def day_bars(real_bars: pd.DataFrame, day: date) -> pd.DataFrame:
    """All of one day's bars (extended hours too), in arrival order."""
    bars = cut_to_window(real_bars, DateWindow(day, day))
    return bars.sort_values(["ts", "symbol"]).reset_index(drop=True)


def minute_by_minute(bars: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """The day so far after each minute from the regular open on (the first frame holds the
    pre-market bars too), as the trading loop hands it over: frame k ends at minute k."""
    stamps = bars["ts"].to_numpy()
    ends = np.flatnonzero(np.append(stamps[1:] != stamps[:-1], True)) + 1
    opening = pd.Timestamp(session_window(SESSION).open)
    for end in ends[(bars["ts"].iloc[ends - 1] >= opening).to_numpy()]:
        yield bars.iloc[:end]


def held(bars: pd.DataFrame) -> dict[pd.Timestamp, tuple[int, int]]:
    """A book of actual positions that differs from the policy's intended one."""
    stamps = sorted(bars["ts"].unique())
    return {pd.Timestamp(ts): (k % 7 - 3, 2 - k % 5) for k, ts in enumerate(stamps) if k % 4}


def assert_same_runs(a: RecordingStepper, b: RecordingStepper) -> None:
    assert len(a.observations) == len(b.observations) > 0
    for x, y in zip(a.observations, b.observations, strict=True):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
    for x, y in zip(a.states, b.states, strict=True):
        assert x.tobytes() == y.tobytes()


@pytest.mark.parametrize("model", ["fresh", "dual"])
def test_the_loops_entry_point_decides_as_decide_on_the_same_bars_bit_for_bit(
        model: str, request: pytest.FixtureRequest, real_bars: pd.DataFrame) -> None:
    """``decide_features`` fed the trading loop's feature rows (``SessionStreams``, each bar
    stepped once in arrival order, pre-market included) = ``decide`` on the bars so far."""
    bundle: ModelBundle = request.getfixturevalue(model)
    bars = day_bars(real_bars, SESSION)
    book = held(bars)
    reference, reference_spy = recording(bundle, seed=5)
    reference.decide(bars, book=book)
    loop, loop_spy = recording(bundle, seed=5)
    stream = SessionStreams(bundle.spec, bundle.symbols)
    for bar in bars.itertuples():  # in arrival order; out-of-hours bars are skipped
        stream.add(bar.symbol, bar.ts.value // 1000, bar.open, bar.high, bar.low, bar.close,
                   float(bar.volume))
    rows = 0
    for ts in sorted(bars["ts"].unique()):
        window = session_window(SESSION)
        if not pd.Timestamp(window.open) <= ts < pd.Timestamp(window.close):
            continue
        raw, warm = stream.at(pd.Timestamp(ts).value // 1000)
        closes = [float(bars.loc[(bars["ts"] == ts) & (bars["symbol"] == s), "close"].iloc[0])
                  for s in bundle.symbols]
        loop.decide_features(pd.Timestamp(ts), raw, closes, warm=warm, row=rows,
                             shares=book.get(pd.Timestamp(ts)))
        rows += 1
    assert rows == 390 and len(loop.history) == 390 - 50 - 5
    assert loop.history == reference.history
    assert_same_runs(loop_spy, reference_spy)


@pytest.mark.parametrize("model", ["fresh", "dual"])
def test_incremental_observations_states_and_actions_equal_the_full_rebuild_bit_for_bit(
        model: str, request: pytest.FixtureRequest, real_bars: pd.DataFrame) -> None:
    bundle: ModelBundle = request.getfixturevalue(model)
    bars = day_bars(real_bars, SESSION)
    book = held(bars)
    full, full_spy = recording(bundle, seed=3, incremental=False)
    full.decide(bars, book=book)  # replays every decision bar in one call
    live, live_spy = recording(bundle, seed=3)
    returned = [live.decide(so_far, book=book) for so_far in minute_by_minute(bars)]

    assert live.stream is not None and full.stream is None
    assert len(live.history) == 390 - 50 - 5 and live.history == full.history
    assert [d for d in returned if d is not None] == live.history
    assert_same_runs(live_spy, full_spy)
    assert live.lstm_state.tobytes() == full.lstm_state.tobytes()
    assert {d.shares_before for d in live.history} != {(0, 0)}  # the book reached the obs


def test_a_decision_computes_the_new_bars_features_only_whatever_the_session_length(
        dual: ModelBundle, real_bars: pd.DataFrame) -> None:
    live = LivePolicy(dual)
    assert live.stream is not None
    work, aligned = [], []
    for so_far in minute_by_minute(day_bars(real_bars, SESSION)):
        before = live.stream.rows_computed
        live.decide(so_far)
        work.append(live.stream.rows_computed - before)
        aligned.append(live.stream.aligned_rows)
    assert aligned[:2] == [1, 2] and aligned[-1] == 390
    assert work[aligned.index(60)] == work[aligned.index(380)] == 2  # NVDA's and MSFT's bar
    assert work[0] == 2 and set(work[1:]) == {0, 2}  # after the close: nothing to compute
    assert sum(work) == 2 * 390  # no bar is ever computed twice

    restarted = LivePolicy(dual)
    assert restarted.stream is not None
    restarted.decide(day_bars(real_bars, SESSION))  # a restart replays the session once
    assert restarted.stream.rows_computed == 2 * 390
    assert restarted.history == live.history


def test_a_corrected_past_bar_is_replayed_as_the_full_rebuild_would(
        dual: ModelBundle, real_bars: pd.DataFrame) -> None:
    frames = list(minute_by_minute(day_bars(real_bars, SESSION)))
    corrected = frames[80].copy()
    row = corrected.index[corrected["ts"] == frames[60]["ts"].max()][0]
    corrected.loc[row, ["close", "high"]] = corrected.loc[row, "high"] * 1.01
    sequence = [frames[70], corrected, pd.concat([corrected, frames[81].iloc[-2:]])]
    full, full_spy = recording(dual, seed=1, incremental=False)
    live, live_spy = recording(dual, seed=1)
    for frame in sequence:
        assert live.decide(frame) == full.decide(frame)
    assert len(live.history) == 82 - 50 and live.history == full.history
    assert_same_runs(live_spy, full_spy)


def test_a_new_session_restarts_the_state_and_several_sessions_at_once_are_refused(
        dual: ModelBundle, real_bars: pd.DataFrame) -> None:
    live = LivePolicy(dual, seed=2)
    live.decide(day_bars(real_bars, SESSION))
    nxt = day_bars(real_bars, NEXT_SESSION)
    fresh_day = LivePolicy(dual, seed=2)
    assert live.decide(nxt) == fresh_day.decide(nxt)
    assert live.history == fresh_day.history and live.history[0].session == NEXT_SESSION
    np.testing.assert_array_equal(live.lstm_state, fresh_day.lstm_state)
    both = pd.concat([day_bars(real_bars, SESSION), nxt])
    with pytest.raises(ValueError, match="one session's bars"):
        LivePolicy(dual).decide(both)


def test_a_bad_new_bar_is_refused_naming_it_and_nothing_of_it_is_kept(
        dual: ModelBundle, real_bars: pd.DataFrame) -> None:
    bars = day_bars(real_bars, SESSION)
    with pytest.raises(FeatureInputError, match="no bars inside regular session hours"):
        LivePolicy(dual).decide(bars[bars["ts"] < bars["ts"].min() + pd.Timedelta(hours=1)])
    frames = list(minute_by_minute(bars))
    live = LivePolicy(dual)
    live.decide(frames[100])
    bad = frames[101].copy()
    bad.loc[bad.index[-1], "close"] = float("nan")
    with pytest.raises(BarValidationError) as caught:
        live.decide(bad)
    assert caught.value.field == "close" and caught.value.symbol == bad["symbol"].iloc[-1]
    reference = LivePolicy(dual)
    assert live.decide(frames[102]) == reference.decide(frames[102]) is not None
    assert live.history == reference.history
