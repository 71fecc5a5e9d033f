"""``LivePolicy.decide_new`` (the inference service's sessions: only the new bars, no frame)
answers exactly what ``decide`` answers on the bars so far; the single-bar check refuses what
the array checks refuse; ``PolicyStepper`` steps a shared policy from several threads."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch as th

from intraday_jules.agent import LivePolicy, ModelBundle
from intraday_jules.agent.live_features import NotStreamable
from intraday_jules.agent.live_input import SymbolBars, check_new_bars
from intraday_jules.agent.policy import PolicyStepper
from intraday_jules.domain.bars import BarValidationError
from intraday_jules_tests.agent.test_live_incremental import (
    NEXT_SESSION,
    SESSION,
    assert_same_runs,
    day_bars,
    held,
    recording,
)

MINUTE_US = 60_000_000


def new_bars(bars: pd.DataFrame, symbols: tuple[str, ...]) -> list[SymbolBars]:
    """``bars`` per symbol as ``decide_new`` takes them (epoch us, OHLCV float64)."""
    out = []
    for symbol in symbols:
        mine = bars[bars["symbol"] == symbol].sort_values("ts")
        values = mine[["open", "high", "low", "close", "volume"]].to_numpy(np.float64).T
        ts_us = (mine["ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)
        out.append(SymbolBars(symbol, ts_us.to_numpy(np.int64), np.ascontiguousarray(values)))
    return out


def outcome(call: Callable[[], object]) -> object:
    """The call's answer, or its error's type and text."""
    try:
        return call()
    except Exception as exc:  # compared as text: both paths must refuse alike
        return f"{type(exc).__name__}: {exc}"


def test_bars_handed_over_one_at_a_time_decide_as_decide_on_the_frame_bit_for_bit(
        dual: ModelBundle, real_bars: pd.DataFrame) -> None:
    bars = day_bars(real_bars, SESSION)
    book = held(bars)
    first_msft = int(np.flatnonzero(bars["symbol"].to_numpy() == "MSFT")[0])
    nvda_first = pd.concat([bars.iloc[:first_msft][bars["symbol"].iloc[:first_msft] == "NVDA"],
                            bars.iloc[:first_msft][bars["symbol"].iloc[:first_msft] != "NVDA"]])
    # NVDA's early bars alone (no MSFT bar yet), then every bar on its own, in arrival order
    chunks = [nvda_first, *(bars.iloc[[k]] for k in range(first_msft, len(bars)))]
    reference, reference_spy = recording(dual, seed=4)
    live, live_spy = recording(dual, seed=4)
    sent, refused = 0, 0
    for chunk in chunks:
        sent += len(chunk)
        answer = outcome(partial(live.decide_new, new_bars(chunk, dual.symbols), book=book))
        assert answer == outcome(partial(reference.decide, bars.iloc[:sent], book=book))
        refused += isinstance(answer, str)
    assert refused > 0  # the pre-market bars alone: "no bars inside regular session hours"
    assert sent == len(bars) and len(live.history) == 390 - 50 - 5
    assert live.history == reference.history
    assert_same_runs(live_spy, reference_spy)
    assert live.stream is not None and live.stream.rows_computed == 2 * 390  # each bar once


def test_a_refused_new_bar_is_not_consumed_and_the_session_goes_on_as_without_it(
        dual: ModelBundle, real_bars: pd.DataFrame) -> None:
    bars = day_bars(real_bars, SESSION)
    cut = int(np.flatnonzero(bars["ts"] >= bars["ts"].iloc[0] + pd.Timedelta(hours=7))[0])
    live, reference = LivePolicy(dual), LivePolicy(dual)
    live.decide_new(new_bars(bars.iloc[:cut], dual.symbols))
    bad = bars.iloc[[cut]].copy()
    bad["close"] = float("nan")
    with pytest.raises(BarValidationError) as caught:
        live.decide_new(new_bars(bad, dual.symbols))
    assert caught.value.field == "close" and caught.value.symbol == bad["symbol"].iloc[0]
    rest = bars.iloc[cut:cut + 200]
    assert (live.decide_new(new_bars(rest, dual.symbols))
            == reference.decide(bars.iloc[:cut + 200]) is not None)
    assert live.history == reference.history


GOOD = (100.0, 101.0, 99.0, 100.5, 1_000.0)  # open, high, low, close, volume


@pytest.mark.parametrize(("ts_shift", "values", "field"), [
    (1, GOOD, "ts"),  # not on a minute
    (-MINUTE_US, GOOD, "ts"),  # a duplicate of the last bar seen
    (0, (100.0, 101.0, 99.0, float("nan"), 1_000.0), "close"),
    (0, (float("inf"), 101.0, 99.0, 100.5, 1_000.0), "open"),
    (0, (100.0, 101.0, 0.0, 100.5, 1_000.0), "low"),
    (0, (100.0, 98.0, 99.0, 100.5, 1_000.0), "high"),  # high below low
    (0, (100.0, 100.2, 99.0, 100.5, 1_000.0), "high"),  # high below close
    (0, (100.0, 101.0, 100.2, 100.5, 1_000.0), "low"),  # low above open
    (0, (100.0, 101.0, 99.0, 100.5, -1.0), "volume"),
    (0, (100.0, 101.0, 99.0, 100.5, 10.5), "volume"),
    (0, (100.0, 101.0, 99.0, 100.5, float("nan")), "volume"),
])
def test_one_new_bar_is_refused_as_the_array_checks_refuse_it(
        ts_shift: int, values: tuple[float, ...], field: str) -> None:
    last = 1_740_061_800_000_000  # 2025-02-20 14:30 UTC
    seen = SymbolBars("NVDA", np.array([last]), np.array(GOOD)[:, None])
    new = SymbolBars("NVDA", np.array([last + MINUTE_US + ts_shift]), np.array(values)[:, None])
    with pytest.raises(BarValidationError) as caught:
        check_new_bars(new, seen, "NVDA", "test")
    assert caught.value.field == field
    check_new_bars(SymbolBars("NVDA", np.array([last + MINUTE_US]), np.array(GOOD)[:, None]),
                   seen, "NVDA", "test")  # the good bar passes


def sb3_probabilities(policy: object, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sb3's own ``get_distribution`` over a sequence, one step at a time (the reference)."""
    layers, _, hidden = policy.lstm_hidden_state_shape  # type: ignore[attr-defined]
    state = (th.zeros((layers, 1, hidden)), th.zeros((layers, 1, hidden)))
    out = []
    with th.no_grad():
        for k, row in enumerate(obs):
            dist, state = policy.get_distribution(  # type: ignore[attr-defined]
                th.as_tensor(row[None]), state, th.tensor([float(k == 0)]))
            out.append(dist.distribution.probs.numpy().astype(np.float64)[0])
    return np.array(out), np.stack([state[0].numpy(), state[1].numpy()])


def test_steppers_share_one_policy_across_threads_and_equal_sb3_bit_for_bit(
        dual: ModelBundle) -> None:
    policy = dual.model.policy
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(120, 26)).astype(np.float32) * 2 for _ in range(6)]

    def run(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        stepper = PolicyStepper(policy, batch=1)
        probs = [stepper.step(row[None], np.array([k == 0]))[0] for k, row in enumerate(obs)]
        return np.array(probs), stepper.hidden

    with ThreadPoolExecutor(len(sequences)) as pool:
        threaded = list(pool.map(run, sequences))
    for obs, (probs, hidden) in zip(sequences, threaded, strict=True):
        expected_probs, expected_hidden = sb3_probabilities(policy, obs)
        assert probs.tobytes() == expected_probs.tobytes()
        assert hidden.tobytes() == expected_hidden.tobytes()
    assert len({p.tobytes() for p, _ in threaded}) == len(sequences)  # really different runs


def test_a_stepper_needs_no_training_mode_switch_per_step(
        dual: ModelBundle, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = dual.model.policy
    policy.set_training_mode(True)
    stepper = PolicyStepper(policy)
    assert policy.training is False
    calls: list[bool] = []
    original = policy.set_training_mode

    def spy(mode: bool) -> None:
        calls.append(mode)
        original(mode)

    monkeypatch.setattr(policy, "set_training_mode", spy)
    for k in range(5):
        stepper.step(np.zeros((1, 26), dtype=np.float32), np.array([k == 0]))
    assert calls == []


def test_bars_of_another_session_are_not_streamable_and_nothing_is_consumed(
        dual: ModelBundle, real_bars: pd.DataFrame) -> None:
    bars = day_bars(real_bars, SESSION)
    half = len(bars) // 2
    live, reference = LivePolicy(dual), LivePolicy(dual)
    live.decide_new(new_bars(bars.iloc[:half], dual.symbols))
    nxt = day_bars(real_bars, NEXT_SESSION)
    with pytest.raises(NotStreamable, match=str(NEXT_SESSION)):
        live.decide_new(new_bars(nxt.iloc[:1400], dual.symbols))  # into its hours
    assert (live.decide_new(new_bars(bars.iloc[half:], dual.symbols))
            == reference.decide(bars))
    assert live.history == reference.history and live.history[0].session == SESSION
