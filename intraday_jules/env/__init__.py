"""Trading environments and the one execution model shared with evaluation and the broker.

- ``execution_model``: decision on bar t's close -> fill at bar t+1's open + slippage,
  IBKR-like commission; float and exact (Decimal/Money) paths.
- ``actions``: the sell/hold/buy index map and the position-sizing rule.
- ``data``: ``MarketArrays``, the precomputed arrays an env reads, built from bars + features.
- ``schedule``: the one decision-bar schedule (lookback, forced flatten, decision interval).
- ``rewards``: the differential Sharpe ratio (``TradingEnvConfig.reward="dsr"``).
- ``trading_env``: ``SingleTickerTradingEnv`` (NVDA) and ``DualTickerTradingEnv`` (NVDA+MSFT).
"""

from intraday_jules.domain.orders import Side
from intraday_jules.env.actions import (
    BUY,
    HOLD,
    SELL,
    PositionRules,
    decode_action,
    describe_action,
    encode_action,
)
from intraday_jules.env.data import (
    DecisionSchedule,
    MarketArrays,
    MarketArraysError,
    WindowTooShortError,
)
from intraday_jules.env.execution_model import ExecutionConfig, ExecutionModel, FillQuote
from intraday_jules.env.portfolio_env import REWARDS, PortfolioTradingEnv, TradingEnvConfig
from intraday_jules.env.rewards import DifferentialSharpe
from intraday_jules.env.schedule import DECISION_INTERVALS
from intraday_jules.env.trading_env import DualTickerTradingEnv, SingleTickerTradingEnv

__all__ = [
    "BUY",
    "DECISION_INTERVALS",
    "HOLD",
    "REWARDS",
    "SELL",
    "DecisionSchedule",
    "DifferentialSharpe",
    "DualTickerTradingEnv",
    "ExecutionConfig",
    "ExecutionModel",
    "FillQuote",
    "MarketArrays",
    "MarketArraysError",
    "PortfolioTradingEnv",
    "PositionRules",
    "Side",
    "SingleTickerTradingEnv",
    "TradingEnvConfig",
    "WindowTooShortError",
    "decode_action",
    "describe_action",
    "encode_action",
]
