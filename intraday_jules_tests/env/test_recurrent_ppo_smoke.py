"""The envs train under sb3-contrib's RecurrentPPO (the mission's algorithm), tiny budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sb3_contrib import RecurrentPPO

from intraday_jules.env import DualTickerTradingEnv, SingleTickerTradingEnv, TradingEnvConfig
from intraday_jules.env.data import MarketArrays
from intraday_jules.env.portfolio_env import PortfolioTradingEnv

torch.set_num_threads(1)  # 2 shared cores: one thread is faster and does not collapse under load


@pytest.mark.parametrize("env_class", [SingleTickerTradingEnv, DualTickerTradingEnv])
@pytest.mark.parametrize("config", [
    TradingEnvConfig(episode_length=20),
    TradingEnvConfig(episode_length=20, allow_short=False, drawdown_penalty=0.5),
])
def test_recurrent_ppo_learns_and_predicts_on_the_env(
        env_class: type[PortfolioTradingEnv], config: TradingEnvConfig,
        arrays: MarketArrays) -> None:
    env = env_class(arrays, config)
    model = RecurrentPPO("MlpLstmPolicy", env, n_steps=16, batch_size=16, n_epochs=1, seed=0,
                         policy_kwargs={"lstm_hidden_size": 8, "net_arch": [8]}, device="cpu")
    model.learn(total_timesteps=64)
    assert model.num_timesteps == 64
    obs, _ = env.reset(seed=1)
    action, state = model.predict(obs, state=None, episode_start=np.ones(1, dtype=bool),
                                  deterministic=True)
    assert env.action_space.contains(int(action))
    assert state[0].shape == (1, 1, 8)  # (layers, envs, hidden): the LSTM state carries on
