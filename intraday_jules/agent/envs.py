"""Training envs: the trading envs, optionally cut into one-session episodes, vectorised."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, SupportsInt

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnv, VecMonitor

from intraday_jules.agent.config import TrainingConfig
from intraday_jules.agent.lean_vec_env import LeanDummyVecEnv
from intraday_jules.env import (
    DualTickerTradingEnv,
    ExecutionModel,
    MarketArrays,
    SingleTickerTradingEnv,
)
from intraday_jules.env.portfolio_env import PortfolioTradingEnv


class SessionEpisodes(gym.Wrapper[np.ndarray, np.int64, np.ndarray, np.int64]):
    """Each episode is one whole session: reset starts at a session's first decision bar
    (drawn by the env's ``np_random``), and the session's forced flatten ends the episode
    with ``terminated=True``: the book is flat and nothing after the close depends on what
    the agent did, so there is nothing to bootstrap. This is how evaluation and
    ``LivePolicy`` run the policy (zero LSTM state at each session's first decision)."""

    def __init__(self, env: PortfolioTradingEnv) -> None:
        super().__init__(env)
        flatten = env.schedule.flatten
        self._session_starts = np.flatnonzero(np.concatenate([[True], flatten[:-1]]))

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            self.env.reset(seed=seed)
        chosen = dict(options or {})
        if "start_index" not in chosen:
            pick = self.env.np_random.integers(len(self._session_starts))
            chosen["start_index"] = int(self._session_starts[pick])
        return self.env.reset(options=chosen)

    def step(self, action: SupportsInt) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(np.int64(int(action)))
        if info["forced_flatten"]:
            terminated, truncated = True, False
        return obs, float(reward), terminated, truncated, info


def trading_env(arrays: MarketArrays, n_assets: int, config: TrainingConfig,
                execution_model: ExecutionModel | None = None) -> PortfolioTradingEnv:
    """The single-ticker (NVDA) env for 1 asset, the dual (NVDA, MSFT) env for 2."""
    if n_assets == 1:
        return SingleTickerTradingEnv(arrays, config.env, execution_model,
                                      symbol=arrays.symbols[0])
    return DualTickerTradingEnv(arrays, config.env, execution_model,
                                symbols=arrays.symbols[:2])


def make_training_env(arrays: MarketArrays, n_assets: int, config: TrainingConfig) -> VecEnv:
    """``config.n_envs`` envs (Dummy or Subproc), monitored for episode rewards. In
    "session" mode the env's ``episode_length`` is not used: an episode is one session."""

    def factory(_: int) -> Callable[[], gym.Env[np.ndarray, np.int64]]:
        def build() -> gym.Env[np.ndarray, np.int64]:
            if config.episode_mode == "env":
                return trading_env(arrays, n_assets, config)
            # the session is the episode: the env's own step limit must not cut it short
            whole = replace(config, env=replace(config.env, episode_length=None))
            return SessionEpisodes(trading_env(arrays, n_assets, whole))
        return build

    builders = [factory(i) for i in range(config.n_envs)]
    vec: VecEnv = (SubprocVecEnv(builders, start_method="fork") if config.vec_env == "subproc"
                   else LeanDummyVecEnv(builders))
    return VecMonitor(vec)
