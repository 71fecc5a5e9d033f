"""Decision intervals of 1, 5 and 15 minutes: the env and ``SessionSchedule`` decide on the same
bars (aligned to the session's open, plus the forced flatten); the book is held between
decisions and a step's reward covers every bar up to the next decision."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from intraday_jules.env import DualTickerTradingEnv, TradingEnvConfig
from intraday_jules.env.data import MarketArrays
from intraday_jules.env.schedule import Role, SessionSchedule
from intraday_jules_tests.env.builders import frames_from_arrays

WALK = TradingEnvConfig(episode_length=None, random_start=False)
FLATTEN_ROW = 384  # 15:54 ET: 5 flatten bars + 1 before the 16:00 close, 390-bar sessions


def _session_rows(env: DualTickerTradingEnv, session: int) -> list[int]:
    starts, _ = env.arrays.session_bounds()
    bars = env.schedule.bars[env.arrays.session[env.schedule.bars] == session]
    return [int(r) for r in bars - starts[session]]


@pytest.mark.parametrize(("k", "first"), [(1, 50), (5, 50), (15, 60)])
def test_the_env_decides_every_kth_minute_of_the_session_and_at_the_flatten(
        arrays: MarketArrays, k: int, first: int) -> None:
    env = DualTickerTradingEnv(arrays, replace(WALK, decision_interval_minutes=k))
    for session in range(len(arrays.session_dates)):
        rows = _session_rows(env, session)
        assert rows == [*range(first, FLATTEN_ROW, k), FLATTEN_ROW]
    assert env.schedule.flatten.sum() == len(arrays.session_dates)
    assert (env.arrays.ts[env.schedule.bars[env.schedule.flatten]].astype("datetime64[m]")
            .astype(object)[0].strftime("%H:%M") == "20:54")  # 15:54 ET in January (UTC-5)


def test_five_minute_env_holds_between_decisions_and_marks_at_the_next_decision(
        arrays: MarketArrays) -> None:
    env = DualTickerTradingEnv(arrays, replace(WALK, decision_interval_minutes=5))
    obs, info = env.reset(options={"start_index": 0})
    assert obs.shape == (26,)
    bars, close = env.schedule.bars.tolist(), arrays.close
    previous = info["portfolio_value"]
    rng = np.random.default_rng(4)
    for k in range(len(bars)):
        obs, reward, _, truncated, info = env.step(int(rng.integers(9)))
        assert info["bar_index"] == bars[k]
        mark = bars[k] + 1 if env.schedule.flatten[k] else bars[k + 1]
        shares = np.asarray(info["shares"])
        assert info["portfolio_value"] == pytest.approx(info["cash"] + shares @ close[mark])
        assert reward == pytest.approx(info["portfolio_value"] - previous)
        if env.schedule.flatten[k]:
            assert info["forced_flatten"] and not shares.any()
        elif not truncated:  # the next observation is the next decision bar's features
            np.testing.assert_array_equal(obs[:24], np.clip(
                arrays.features[bars[k + 1]].reshape(-1), -10, 10))
        previous = info["portfolio_value"]
    assert truncated


def test_session_schedule_gives_the_envs_decision_bars_and_roles(arrays: MarketArrays) -> None:
    for k in (1, 5, 15):
        env = DualTickerTradingEnv(arrays, replace(WALK, decision_interval_minutes=k))
        starts, stops = arrays.session_bounds()
        for session, day in enumerate(arrays.session_dates):
            schedule = SessionSchedule(day, WALK.lookback, WALK.flatten_bars_before_close, k)
            span = slice(int(starts[session]), int(stops[session]))
            ts_us = arrays.ts[span].astype("datetime64[us]").view(np.int64)
            rows = np.arange(len(ts_us))
            mask = schedule.decision_rows(rows, arrays.warmup[span], ts_us)
            assert np.flatnonzero(mask).tolist() == _session_rows(env, session)
            roles = [schedule.role(int(r), True, int(t), None if r == 0 else int(ts_us[r - 1]))
                     for r, t in zip(rows, ts_us, strict=True)]
            assert roles[FLATTEN_ROW] is Role.FLATTEN and roles[FLATTEN_ROW + 1] is Role.CLOSED
            assert roles[WALK.lookback - 1] is Role.WARMUP
            decide = [r for r, role in enumerate(roles) if role is Role.DECIDE]
            assert decide == _session_rows(env, session)[:-1]
            hold = {r for r, role in enumerate(roles) if role is Role.HOLD}
            assert hold == set(range(WALK.lookback, FLATTEN_ROW)) - set(decide)


def test_a_missing_minute_does_not_shift_the_schedule(arrays: MarketArrays) -> None:
    bars, features = frames_from_arrays(arrays)
    day_open = pd.Timestamp(arrays.ts[0]).tz_localize("UTC")
    gone = [day_open + pd.Timedelta(minutes=m) for m in (57, 65)]  # an off and an on bar
    bars = bars[~bars["ts"].isin(gone)]
    cut = MarketArrays.from_frames(bars, features, arrays.symbols, arrays.feature_names)
    env = DualTickerTradingEnv(cut, replace(WALK, decision_interval_minutes=5))
    first = env.schedule.bars[cut.session[env.schedule.bars] == 0]
    minutes = ((cut.ts[first] - cut.ts[0]) // np.timedelta64(1, "m")).tolist()
    assert minutes[:5] == [50, 55, 60, 70, 75] and minutes[-1] == FLATTEN_ROW


def test_held_symbols_never_trade_until_released(arrays: MarketArrays) -> None:
    env = DualTickerTradingEnv(arrays, replace(WALK, episode_length=200))
    env.hold_symbols(("MSFT",))
    env.reset(options={"start_index": 0})
    for _ in range(100):
        _, _, _, _, info = env.step(8)  # buy both
        assert info["shares"][1] == 0
    assert info["shares"][0] > 0
    env.hold_symbols(())
    _, _, _, _, info = env.step(8)
    assert info["shares"][1] > 0
    with pytest.raises(ValueError, match="cannot hold"):
        env.hold_symbols(("AAPL",))


def test_cost_multiplier_scales_later_fills(arrays: MarketArrays) -> None:
    env = DualTickerTradingEnv(arrays, WALK)
    env.set_cost_multiplier(0.0)
    env.reset(options={"start_index": 0})
    _, _, _, _, info = env.step(8)
    assert info["commission"] == 0.0 and info["slippage"] == 0.0 and info["trades"] == 2
    env.set_cost_multiplier(1.0)
    _, _, _, _, info = env.step(0)
    assert info["commission"] > 0.0 and info["slippage"] > 0.0
