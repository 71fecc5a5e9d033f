"""Baseline policies, run through the same env and execution model as the agent.

=====================  ====================================================================
name                   rule (per session: the env flattens every book before the close)
=====================  ====================================================================
flat                   never trades (zero P&L and zero trades at any cost)
buy_and_hold_<sym>     buys <sym> at the session's first decision bar, holds to the flatten
fifty_fifty            (two assets) buys both: equal dollars, $cap each
random                 uniform random joint action every bar (one stream per seed)
momentum               per asset, the sign of the last 15 bars' return in this session:
                       long if up, short if down (flat when shorts are off), flat if unchanged
=====================  ====================================================================

Buy-and-hold baselines are intraday, like the agent: the env allows no overnight position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from intraday_jules.agent.rollout import Decide
from intraday_jules.env.actions import BUY, HOLD, SELL, encode_action, n_actions
from intraday_jules.env.portfolio_env import PortfolioTradingEnv

MOMENTUM_BARS = 15


@dataclass(frozen=True)
class Baseline:
    """A named decision rule; ``batch`` envs run it (one per seed when it is random)."""

    name: str
    decide: Decide
    batch: int


def baselines_for(env: PortfolioTradingEnv, seeds: Sequence[int]) -> list[Baseline]:
    """The baselines that apply to ``env``'s symbols (``fifty_fifty`` only with two)."""
    symbols = env.symbols
    n = len(symbols)
    out = [Baseline("flat", _constant(encode_action((HOLD,) * n)), 1)]
    for i, symbol in enumerate(symbols):
        target = np.zeros(n, dtype=np.int64)
        target[i] = 1
        out.append(Baseline(f"buy_and_hold_{symbol.lower()}", _toward(target), 1))
    if n == 2:
        out.append(Baseline("fifty_fifty", _toward(np.ones(n, dtype=np.int64)), 1))
    out.append(Baseline("random", _random(n, seeds), len(seeds)))
    out.append(Baseline("momentum", _momentum(env), 1))
    return out


def _constant(action: int) -> Decide:
    def decide(_k: int, obs: np.ndarray, _shares: np.ndarray) -> np.ndarray:
        return np.full(len(obs), action)
    return decide


def _per_asset_step(target: np.ndarray, shares: np.ndarray) -> int:
    """The joint action moving each asset's position sign toward ``target`` (-1, 0, 1)."""
    current = np.sign(shares)
    digits = [BUY if t > c else SELL if t < c else HOLD
              for t, c in zip(target.tolist(), current.tolist(), strict=True)]
    return encode_action(digits)


def _toward(target: np.ndarray) -> Decide:
    def decide(_k: int, _obs: np.ndarray, shares: np.ndarray) -> np.ndarray:
        return np.array([_per_asset_step(target, row) for row in shares])
    return decide


def _random(n: int, seeds: Sequence[int]) -> Decide:
    rngs = [np.random.default_rng(int(s)) for s in seeds]
    size = n_actions(n)

    def decide(_k: int, _obs: np.ndarray, _shares: np.ndarray) -> np.ndarray:
        return np.array([int(rng.integers(size)) for rng in rngs])
    return decide


def _momentum(env: PortfolioTradingEnv) -> Decide:
    """Sign of close[t] / close[t - 15] - 1 within the session (0 if not 15 bars in yet)."""
    close, session = env.arrays.close, env.arrays.session
    bars = env.schedule.bars
    back = np.maximum(bars - MOMENTUM_BARS, 0)
    same = session[back] == session[bars]
    signal = np.where(same[:, None], np.sign(close[bars] - close[back]), 0).astype(np.int64)

    def decide(k: int, _obs: np.ndarray, shares: np.ndarray) -> np.ndarray:
        return np.array([_per_asset_step(signal[k], row) for row in shares])
    return decide
