"""No fill uses a price from the bar the decision saw, nor anything after the next bar's open.

Built through ``MarketArrays.from_frames`` so bar t+1's high and low, which the arrays never
hold, are perturbed too. The decision is a buy of both symbols on decision bar t = bars[K].
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from intraday_jules.env import BUY, DualTickerTradingEnv, TradingEnvConfig, encode_action
from intraday_jules.env.data import MarketArrays
from intraday_jules_tests.env.builders import frames_from_arrays

K = 7
SLIPPAGE = 1.5e-4  # default half spread 1.0 + impact 0.5 bps
FILL_KEYS = ("fill_prices", "commission", "slippage", "shares", "cash", "traded_notional")


def _step_k(bars: pd.DataFrame, feats: pd.DataFrame, like: MarketArrays) -> tuple[dict, int]:
    """Info of decision step K (hold before it, buy both at it) and its decision bar t."""
    arrays = MarketArrays.from_frames(bars, feats, like.symbols, like.feature_names)
    env = DualTickerTradingEnv(arrays, TradingEnvConfig(episode_length=None))
    env.reset(options={"start_index": 0})
    for _ in range(K):
        env.step(encode_action((1, 1)))
    info = env.step(encode_action((BUY, BUY)))[4]
    return info, int(env.schedule.bars[K])


def _edit(bars: pd.DataFrame, rows: pd.Series, change: Callable[[pd.DataFrame], None]
          ) -> pd.DataFrame:
    """Apply ``change`` to the selected rows, then keep high/low bracketing open/close."""
    out = bars.copy()
    part = out.loc[rows].copy()
    change(part)
    part["high"] = part[["open", "high", "low", "close"]].max(axis=1)
    part["low"] = part[["open", "high", "low", "close"]].min(axis=1)
    out.loc[rows] = part
    return out


@pytest.fixture
def frames(arrays: MarketArrays) -> tuple[pd.DataFrame, pd.DataFrame]:
    return frames_from_arrays(arrays)


def test_fill_price_is_the_next_bars_open_moved_by_slippage(
        arrays: MarketArrays, frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    bars, feats = frames
    info, t = _step_k(bars, feats, arrays)
    assert info["shares"][0] > 0
    assert info["shares"][1] > 0
    expected = arrays.open[t + 1] * (1 + SLIPPAGE)
    np.testing.assert_allclose(info["fill_prices"], expected, rtol=1e-12)


def test_moving_the_next_bars_open_moves_the_fill_with_it(
        arrays: MarketArrays, frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    bars, feats = frames
    _, t = _step_k(bars, feats, arrays)
    next_ts = pd.Timestamp(arrays.ts[t + 1]).tz_localize("UTC")

    def jump(part: pd.DataFrame) -> None:
        part["open"] *= 1.25

    info, _ = _step_k(_edit(bars, bars["ts"] == next_ts, jump), feats, arrays)
    np.testing.assert_allclose(info["fill_prices"], arrays.open[t + 1] * 1.25 * (1 + SLIPPAGE),
                               rtol=1e-12)


def test_nothing_after_the_next_bars_open_changes_the_fill(
        arrays: MarketArrays, frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    bars, feats = frames
    base, t = _step_k(bars, feats, arrays)
    next_ts = pd.Timestamp(arrays.ts[t + 1]).tz_localize("UTC")

    def rest_of_next_bar(part: pd.DataFrame) -> None:  # close, high, low; not the open
        part["close"] *= 0.8
        part["high"] *= 1.3
        part["low"] *= 0.7

    def everything(part: pd.DataFrame) -> None:
        part[["open", "high", "low", "close"]] *= 1.5

    edited = _edit(bars, bars["ts"] == next_ts, rest_of_next_bar)
    edited = _edit(edited, edited["ts"] > next_ts, everything)
    later = feats.index.get_level_values("ts") > pd.Timestamp(arrays.ts[t]).tz_localize("UTC")
    scrambled = feats.copy()
    scrambled.loc[later, list(arrays.feature_names)] = 9.0
    info, _ = _step_k(edited, scrambled, arrays)
    assert {k: info[k] for k in FILL_KEYS} == {k: base[k] for k in FILL_KEYS}
    assert info["portfolio_value"] != base["portfolio_value"]  # the edit did reach the env


def test_the_decision_bars_own_prices_do_not_price_the_fill(
        arrays: MarketArrays, frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    bars, feats = frames
    base, t = _step_k(bars, feats, arrays)
    seen_ts = pd.Timestamp(arrays.ts[t]).tz_localize("UTC")

    def seen_bar(part: pd.DataFrame) -> None:  # small enough that share counts stay the same
        part["open"] *= 0.97
        part["close"] *= 1.00001
        part["high"] *= 1.2
        part["low"] *= 0.8

    info, _ = _step_k(_edit(bars, bars["ts"] == seen_ts, seen_bar), feats, arrays)
    assert info["shares"] == base["shares"]
    assert info["fill_prices"] == base["fill_prices"]
