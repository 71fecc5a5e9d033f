"""Session closes flatten the book, no position crosses a session, and the cap always binds."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from intraday_jules.domain.calendar import session_window
from intraday_jules.env import (
    DualTickerTradingEnv,
    PositionRules,
    SingleTickerTradingEnv,
    TradingEnvConfig,
)
from intraday_jules.env.data import MarketArrays
from intraday_jules.env.portfolio_env import PortfolioTradingEnv
from intraday_jules.env.synthetic import synthetic_market_arrays
from intraday_jules_tests.env.builders import frames_from_arrays

SHORT = TradingEnvConfig(lookback=10, episode_length=None, flatten_bars_before_close=5)
ALWAYS_BUY = 8


def _whole_window(env: PortfolioTradingEnv, actions: list[int]) -> list[dict[str, Any]]:
    env.reset(options={"start_index": 0})
    return [env.step(a)[4] for a in actions[:env.n_decisions]]


def test_each_session_ends_with_one_forced_flatten_filled_before_the_close(
        short_sessions: MarketArrays) -> None:
    env = DualTickerTradingEnv(short_sessions, SHORT)
    infos = _whole_window(env, [ALWAYS_BUY] * env.n_decisions)
    forced = [i for i in infos if i["forced_flatten"]]
    assert [i["session"] for i in forced] == list(range(6))
    for info in forced:
        fill_bar = info["bar_index"] + 1
        assert short_sessions.session[fill_bar] == info["session"]
        assert fill_bar - info["session"] * 80 == 80 - 5  # the 5th-last bar's open
        assert info["shares"] == (0, 0)
        assert info["portfolio_value"] == info["cash"]


def test_no_position_is_held_across_a_gap_between_decision_bars(
        short_sessions: MarketArrays) -> None:
    env = DualTickerTradingEnv(short_sessions, SHORT)
    actions = np.random.default_rng(1).integers(0, 9, size=env.n_decisions).tolist()
    infos = _whole_window(env, actions)
    for this, following in itertools.pairwise(infos):
        if this["shares"] != (0, 0):
            assert following["bar_index"] == this["bar_index"] + 1
            assert following["session"] == this["session"]


def test_forced_flatten_on_a_half_day_fills_at_1255_et() -> None:
    # 2025-11-28 closes at 13:00 ET; the frames also carry bars to 15:59 ET.
    raw = synthetic_market_arrays(n_sessions=1, bars_per_session=390,
                                  first_session=date(2025, 11, 28))
    bars, feats = frames_from_arrays(raw)
    arrays = MarketArrays.from_frames(bars, feats, raw.symbols, raw.feature_names)
    env = DualTickerTradingEnv(arrays, TradingEnvConfig(episode_length=None))
    infos = _whole_window(env, [ALWAYS_BUY] * env.n_decisions)
    assert infos[-1]["forced_flatten"]
    fill_ts = arrays.timestamps()[infos[-1]["bar_index"] + 1]
    assert fill_ts == session_window(date(2025, 11, 28)).close - pd.Timedelta(minutes=5)
    assert fill_ts.tz_convert("America/New_York").strftime("%H:%M") == "12:55"


@pytest.mark.parametrize("config", [
    TradingEnvConfig(episode_length=None),
    TradingEnvConfig(episode_length=None, allow_short=True),
    TradingEnvConfig(episode_length=None, allow_short=True, step_notional=250.0),
    TradingEnvConfig(episode_length=None, allow_short=False, step_notional=400.0),
    TradingEnvConfig(episode_length=None, allow_short=True, max_position_notional=300.0,
                     step_notional=130.0),
])
def test_no_order_takes_a_position_past_the_cap(arrays: MarketArrays,
                                                config: TradingEnvConfig) -> None:
    env = DualTickerTradingEnv(arrays, config)
    actions = np.random.default_rng(2).integers(0, 9, size=env.n_decisions).tolist()
    filled, shorted = 0, False
    for info in _whole_window(env, actions):
        decision_close = env.arrays.close[info["bar_index"]]
        for i, price in enumerate(info["fill_prices"]):
            if price and not info["forced_flatten"]:
                filled += 1
                assert abs(info["shares"][i]) * decision_close[i] <= config.max_position_notional
            shorted = shorted or info["shares"][i] < 0
            if not config.allow_short:
                assert info["shares"][i] >= 0
    assert filled > 100
    assert shorted == config.allow_short  # shorting stays supported, when asked for


def test_long_only_is_the_default_and_a_single_env_never_shorts(arrays: MarketArrays) -> None:
    assert TradingEnvConfig().allow_short is False and PositionRules().allow_short is False
    env = SingleTickerTradingEnv(arrays, TradingEnvConfig(episode_length=None))
    infos = _whole_window(env, [0] * env.n_decisions)  # sell, sell, sell...
    assert all(i["shares"] == (0,) for i in infos)
    assert all(i["trades"] == 0 for i in infos)
