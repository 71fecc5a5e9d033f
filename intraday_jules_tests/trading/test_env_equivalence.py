"""Simulated fills equal backtest fills: the same actions on the same bars give the same
trades in the dual-ticker env and through the live loop with the SimulatedBroker."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from intraday_jules.domain.calendar import session_window
from intraday_jules.env import DualTickerTradingEnv, MarketArrays, TradingEnvConfig
from intraday_jules.env.actions import decode_action
from intraday_jules.features import DEFAULT_SPEC, build_features
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.risk import RiskLimits
from intraday_jules_tests.trading.conftest import SESSION, ScriptedPolicy, ledger_json, replay

SYMBOLS = ("NVDA", "MSFT")
EnvTrade = tuple[pd.Timestamp, str, int, float]


def session_arrays(source: ReplaySource) -> MarketArrays:
    window = session_window(SESSION)
    bars = source.bars
    bars = bars[(bars["ts"] >= window.open) & (bars["ts"] < window.close)].drop(
        columns=["source"])
    return MarketArrays.from_frames(bars, build_features(bars), SYMBOLS, DEFAULT_SPEC.names)


def env_rollout(arrays: MarketArrays, actions: np.ndarray
                ) -> tuple[list[pd.Timestamp], list[EnvTrade], dict[pd.Timestamp, float]]:
    """Decision bars, trades (fill bar ts, symbol, signed shares, price), commission per bar."""
    env = DualTickerTradingEnv(arrays, TradingEnvConfig(episode_length=None, random_start=False,
                                                        allow_short=False))
    env.reset(seed=0)
    stamps = arrays.timestamps()
    decisions, trades, commission = [], [], {}
    shares = (0, 0)
    for action in actions[:env.n_decisions]:
        _, _, _, _, info = env.step(int(action))
        t = info["bar_index"]
        decisions.append(stamps[t])
        for i, symbol in enumerate(SYMBOLS):
            change = info["shares"][i] - shares[i]
            if change:
                trades.append((stamps[t + 1], symbol, change, info["fill_prices"][i]))
        if info["trades"]:
            commission[stamps[t + 1]] = info["commission"]
        shares = info["shares"]
    return decisions, trades, commission


def loop_trades(ledger: dict[str, list[dict[str, Any]]]
                ) -> tuple[list[EnvTrade], dict[pd.Timestamp, Decimal]]:
    trades: list[EnvTrade] = []
    commission: dict[pd.Timestamp, Decimal] = {}
    for fill in ledger["fills"]:
        ts = pd.Timestamp(fill["ts"])
        sign = 1 if fill["side"] == "BUY" else -1
        trades.append((ts, fill["symbol"], sign * fill["quantity"], float(fill["price"])))
        commission[ts] = commission.get(ts, Decimal(0)) + Decimal(fill["commission"])
    return trades, commission


def test_simulated_broker_fills_equal_env_fills_for_the_same_actions(
        tmp_path: Any, replay_source: ReplaySource) -> None:
    arrays = session_arrays(replay_source)
    actions = np.random.default_rng(11).integers(0, 9, size=400)
    decisions, env_trades, env_commission = env_rollout(arrays, actions)
    script = {ts.to_pydatetime().astimezone(UTC): decode_action(int(a), 2)
              for ts, a in zip(decisions, actions, strict=False)}
    policy = ScriptedPolicy(script)
    url = f"sqlite:///{tmp_path / 'loop.db'}"
    # nothing but the env's own rules may shape the trades: no halt, and no order-size guard
    # (selling 7 NVDA above $142.86 is over the default $1000 max_order_usd, which the env
    # does not model, so the loop would shrink that sell)
    no_halt = RiskLimits(daily_loss_limit_usd=Decimal(10**6), drawdown_limit_usd=Decimal(10**6),
                         max_order_usd=Decimal(10**6))
    replay(url, replay_source, policy, limits=no_halt).run()
    trades, commission = loop_trades(ledger_json(url))
    assert [pd.Timestamp(ts) for ts in policy.seen] == decisions
    assert len(env_trades) > 50
    assert [t[:3] for t in trades] == [t[:3] for t in sorted(env_trades, key=_order(trades))]
    for ours, theirs in zip(trades, sorted(env_trades, key=_order(trades)), strict=True):
        assert ours[3] == pytest.approx(theirs[3], rel=1e-10)
    assert set(commission) == set(env_commission)
    for ts, value in commission.items():
        assert float(value) == pytest.approx(env_commission[ts], abs=1e-4)


def _order(trades: list[EnvTrade]) -> Any:
    """Sort env trades like the ledger lists fills: by time, then by the ledger's symbol order."""
    rank = {(t[0], t[1]): i for i, t in enumerate(trades)}
    return lambda trade: rank.get((trade[0], trade[1]), -1)
