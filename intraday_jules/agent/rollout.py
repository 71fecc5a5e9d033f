"""Run decisions through the trading env (the one execution model) and record what happened.

Every evaluated policy, the agent and each baseline alike, goes through the same env class
with the same settings; only the cost multiplier of its ``ExecutionModel`` changes between
the 0x, 1x and 2x runs. Positions never depend on costs (orders are sized on the decision
bar's close from the current shares; cash never limits an order), so an action sequence
recorded at 1x replays exactly at 0x and 2x.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from intraday_jules.env import ExecutionModel, MarketArrays, TradingEnvConfig
from intraday_jules.env.portfolio_env import PortfolioTradingEnv

#: ``decide(k, obs, shares) -> actions``: step k's action for every env of the batch, from
#: their observations (batch, obs) and their shares before acting (batch, assets).
Decide = Callable[[int, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One run over a window. K decisions, n assets; ``values[0]`` is the initial cash and
    ``values[k + 1]`` the book's value after decision k (marked at bar t+1's close)."""

    values: np.ndarray
    session: np.ndarray
    bar: np.ndarray
    actions: np.ndarray
    shares: np.ndarray
    trades: np.ndarray
    traded: np.ndarray
    costs: np.ndarray
    cash_flows: np.ndarray
    session_dates: tuple[object, ...]

    @property
    def initial(self) -> float:
        return float(self.values[0])


def evaluation_env_config(config: TradingEnvConfig) -> TradingEnvConfig:
    """The env settings of a model, run as one walk through the whole window."""
    return replace(config, episode_length=None, random_start=False)


def session_starts(env: PortfolioTradingEnv) -> np.ndarray:
    """Per decision step, True where a session's first decision bar is (LSTM reset)."""
    flatten = env.schedule.flatten
    return np.concatenate([[True], flatten[:-1]])


def build_envs(arrays: MarketArrays, env_cls: Callable[..., PortfolioTradingEnv],
               config: TradingEnvConfig, model: ExecutionModel, batch: int
               ) -> list[PortfolioTradingEnv]:
    return [env_cls(arrays, evaluation_env_config(config), model) for _ in range(batch)]


def rollout(envs: list[PortfolioTradingEnv], decide: Decide) -> list[Trajectory]:
    """Step every env from its first decision to the end of its data, in lockstep."""
    first = envs[0]
    k_total = first.n_decisions
    n = len(first.symbols)
    obs = np.stack([env.reset(options={"start_index": 0})[0] for env in envs])
    shares = np.zeros((len(envs), n), dtype=np.int64)
    rec = _Recorder(len(envs), k_total, n, float(first.config.initial_cash))
    model, opens = first.execution_model, first.arrays.open
    for k in range(k_total):
        actions = np.asarray(decide(k, obs, shares), dtype=np.int64)
        for b, env in enumerate(envs):
            obs[b], _, _, _, info = env.step(int(actions[b]))
            after = np.asarray(info["shares"], dtype=np.int64)
            flows = _cash_flows(model, after - shares[b], info["fill_prices"],
                                opens[info["bar_index"] + 1])
            rec.add(b, k, int(actions[b]), info, after, flows)
            shares[b] = after
    return rec.trajectories(first.arrays.session_dates)


def replay(envs: list[PortfolioTradingEnv], actions: np.ndarray) -> list[Trajectory]:
    """Run recorded (batch, K) action sequences through ``envs`` (e.g. at other costs)."""
    return rollout(envs, lambda k, _obs, _shares: actions[:, k])


def _cash_flows(model: ExecutionModel, quantity: np.ndarray, prices: tuple[float, ...],
                next_open: np.ndarray) -> np.ndarray:
    """Per asset: -(shares x fill price) - commission of this step's fill (0 if none); the
    commission is priced by the same ``fill_float`` the env used."""
    flows = np.zeros(len(quantity))
    for i, q in enumerate(quantity.tolist()):
        if q:
            commission = model.fill_float(q, float(next_open[i]))[1]
            flows[i] = -q * prices[i] - commission
    return flows


class _Recorder:
    def __init__(self, batch: int, k_total: int, n: int, initial: float) -> None:
        self.values = np.full((batch, k_total + 1), initial)
        self.session = np.zeros(k_total, dtype=np.int64)
        self.bar = np.zeros(k_total, dtype=np.int64)
        self.actions = np.zeros((batch, k_total), dtype=np.int64)
        self.shares = np.zeros((batch, k_total, n), dtype=np.int64)
        self.trades = np.zeros((batch, k_total), dtype=np.int64)
        self.traded = np.zeros((batch, k_total))
        self.costs = np.zeros((batch, k_total))
        self.flows = np.zeros((batch, k_total, n))

    def add(self, b: int, k: int, action: int, info: dict[str, Any], shares: np.ndarray,
            flows: np.ndarray) -> None:
        self.values[b, k + 1] = info["portfolio_value"]
        self.session[k], self.bar[k] = info["session"], info["bar_index"]
        self.actions[b, k] = action
        self.shares[b, k] = shares
        self.trades[b, k] = info["trades"]
        self.traded[b, k] = info["traded_notional"]
        self.costs[b, k] = float(info["commission"]) + float(info["slippage"])
        self.flows[b, k] = flows

    def trajectories(self, dates: tuple[object, ...]) -> list[Trajectory]:
        return [Trajectory(self.values[b], self.session, self.bar, self.actions[b],
                           self.shares[b], self.trades[b], self.traded[b], self.costs[b],
                           self.flows[b], dates) for b in range(self.values.shape[0])]
