"""The speed changes keep the arithmetic: LeanDummyVecEnv steps like sb3's DummyVecEnv, and
``fast_torch`` restores torch's global settings."""

from __future__ import annotations

import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from intraday_jules.agent import PreparedData, train_foundation
from intraday_jules.agent import envs as training_envs
from intraday_jules.agent.envs import make_training_env
from intraday_jules.agent.lean_vec_env import LeanDummyVecEnv
from intraday_jules.agent.training import fast_torch
from intraday_jules.env import TradingEnvConfig
from intraday_jules_tests.agent.conftest import tiny_config


def test_lean_vec_env_steps_exactly_like_dummy_vec_env(real_data: PreparedData) -> None:
    arrays = real_data.window(real_data.train_window, ("NVDA",))  # type: ignore[arg-type]
    config = tiny_config(n_envs=3, episode_mode="env", env=TradingEnvConfig(episode_length=7))
    lean = make_training_env(arrays, 1, config)
    assert isinstance(lean.venv, LeanDummyVecEnv)  # type: ignore[attr-defined]
    stock = DummyVecEnv([lambda: training_envs.trading_env(arrays, 1, config)] * 3)
    lean.seed(5)
    stock.seed(5)
    assert np.array_equal(lean.reset(), stock.reset())
    rng = np.random.default_rng(0)
    for _ in range(30):  # several episode ends: auto-reset and terminal observations
        actions = rng.integers(0, 3, 3)
        got, want = lean.step(actions), stock.step(actions)
        for a, b in zip(got[:3], want[:3], strict=True):
            assert np.array_equal(a, b)
        for a, b in zip(got[3], want[3], strict=True):
            assert a.keys() - {"episode"} == b.keys()
            assert np.array_equal(a.get("terminal_observation", 0),
                                  b.get("terminal_observation", 0))
    obs = lean.step(np.zeros(3, dtype=np.int64))[0]
    before = obs.copy()
    lean.step(np.ones(3, dtype=np.int64))
    assert np.array_equal(obs, before)  # returned observations are copies, not the buffer


def test_fast_torch_restores_torch_settings_and_training_stays_deterministic(
        real_data: PreparedData) -> None:
    threads = torch.get_num_threads()
    validate = torch.distributions.Distribution._validate_args
    with fast_torch(1):
        assert torch.distributions.Distribution._validate_args is False
    assert torch.get_num_threads() == threads
    assert torch.distributions.Distribution._validate_args == validate
    a, b = (train_foundation(real_data, tiny_config()) for _ in range(2))
    for name, tensor in a.model.policy.state_dict().items():
        assert torch.equal(tensor, b.model.policy.state_dict()[name])
