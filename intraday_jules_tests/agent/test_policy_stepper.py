"""``PolicyStepper``'s direct path (the actor's kernels called without module dispatch, the
LSTM reset product skipped where no session starts) gives sb3's own probabilities bit for
bit, for sb3's default MLP shapes, with session starts anywhere in the batch."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from torch import nn

from intraday_jules.agent.policy import PolicyStepper, SequenceLstmPolicy

WIDTH, ACTIONS, BATCH, STEPS = 26, 9, 3, 12


class FlatEnv(gym.Env[np.ndarray, int]):
    """Only its spaces matter: the policy is built from them, never trained here."""

    observation_space = spaces.Box(-5.0, 5.0, shape=(WIDTH,), dtype=np.float32)
    action_space = spaces.Discrete(ACTIONS)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        return np.zeros(WIDTH, dtype=np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        return np.zeros(WIDTH, dtype=np.float32), 0.0, True, False, {}


def sb3_probs(policy: Any, obs: np.ndarray, state: tuple[th.Tensor, th.Tensor],
              starts: np.ndarray) -> tuple[np.ndarray, tuple[th.Tensor, th.Tensor]]:
    with th.no_grad():
        dist, new_state = policy.get_distribution(th.from_numpy(obs), state,
                                                  th.from_numpy(starts.astype(np.float32)))
    return dist.distribution.probs.numpy().astype(np.float64), new_state


@pytest.mark.parametrize("kwargs", [
    {"lstm_hidden_size": 16, "net_arch": [32]},
    {"lstm_hidden_size": 8, "net_arch": [16, 16], "activation_fn": nn.ReLU},
], ids=["tanh", "relu-2-layers"])
def test_the_direct_step_equals_sb3_and_the_module_path_bit_for_bit(
        kwargs: dict[str, Any]) -> None:
    model = RecurrentPPO(SequenceLstmPolicy, FlatEnv(), policy_kwargs=kwargs, seed=3,
                         n_steps=8, batch_size=8, device="cpu")
    policy = model.policy
    direct, modules = PolicyStepper(policy, batch=BATCH), PolicyStepper(policy, batch=BATCH)
    modules._direct_actor = False  # the module-by-module path, as before the direct one
    assert direct._direct_actor
    rng = np.random.default_rng(0)
    layers, _, hidden = policy.lstm_hidden_state_shape
    state = (th.zeros(layers, BATCH, hidden), th.zeros(layers, BATCH, hidden))
    starts_seen = set()
    for k in range(STEPS):
        obs = rng.normal(size=(BATCH, WIDTH)).astype(np.float32)
        starts = np.array([k == 0, k % 5 == 3, k == 7])  # none at all on most steps
        starts_seen.add(bool(starts.any()))
        expected, state = sb3_probs(policy, obs, state, starts)
        got = direct.step(obs, starts)
        assert got.tobytes() == modules.step(obs, starts).tobytes(), k
        assert got.tobytes() == expected.tobytes(), k
        assert direct.hidden.tobytes() == np.stack([state[0].numpy(),
                                                    state[1].numpy()]).tobytes(), k
    assert starts_seen == {True, False}


def test_an_actor_that_is_not_plain_takes_the_module_path() -> None:
    model = RecurrentPPO(SequenceLstmPolicy, FlatEnv(), n_steps=8, batch_size=8,
                         policy_kwargs={"lstm_hidden_size": 8, "net_arch": [8],
                                        "activation_fn": nn.ELU}, device="cpu")
    assert not PolicyStepper(model.policy)._direct_actor
