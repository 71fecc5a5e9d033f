"""Slow: our RecurrentPPO setup (batched LSTM policy, vectorised envs) learns a task that
cannot be solved without memory (sb3-contrib's CartPoleNoVel idea, made smaller)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.vec_env import DummyVecEnv

from intraday_jules.agent.policy import PolicyStepper, SequenceLstmPolicy
from intraday_jules.agent.training import torch_threads


class CueRecallEnv(gym.Env[np.ndarray, np.int64]):
    """A cue (+1/-1) is shown on the first step only; after ``delay`` blank steps the agent
    must name it: reward +1 if right, -1 if wrong, 0 on every other step. The decision step's
    observation is the same whatever the cue, so a memoryless policy scores 0 on average."""

    def __init__(self, delay: int = 6) -> None:
        self.delay = delay
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self._cue, self._t = 1, 0

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._cue, self._t = int(self.np_random.choice([-1, 1])), 0
        return np.array([self._cue, 1.0], dtype=np.float32), {}

    def step(self, action: np.int64) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._t += 1
        done = self._t > self.delay
        reward = 0.0 if not done else (1.0 if (int(action) == 1) == (self._cue > 0) else -1.0)
        return np.zeros(2, dtype=np.float32), reward, done, False, {}


@pytest.mark.slow
def test_recurrent_policy_learns_to_recall_a_cue_across_a_delay() -> None:
    env = DummyVecEnv([CueRecallEnv for _ in range(8)])
    with torch_threads(1):
        model = RecurrentPPO(SequenceLstmPolicy, env, n_steps=32, batch_size=128, n_epochs=4,
                             learning_rate=3e-3, ent_coef=0.0, seed=0, device="cpu",
                             policy_kwargs={"lstm_hidden_size": 16, "net_arch": [16]})
        model.learn(40_000)
    probe = CueRecallEnv()
    stepper = PolicyStepper(model.policy)
    rewards = []
    for episode in range(100):
        obs, _ = probe.reset(seed=1000 + episode)
        stepper.reset()
        done, start, reward = False, True, 0.0
        while not done:
            action = int(stepper.step(obs[None], np.array([start]))[0].argmax())
            obs, reward, done, _, _ = probe.step(np.int64(action))
            start = False
        rewards.append(reward)
    assert np.mean(rewards) >= 0.9
