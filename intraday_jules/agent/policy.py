"""The recurrent policy, batched for speed, and a stepper that runs it one bar at a time.

``SequenceLstmPolicy`` is sb3-contrib's ``MlpLstmPolicy`` with one change: when a training
minibatch's sequences only start episodes at their FIRST step (always true for sequences
built by ``RecurrentRolloutBuffer``, which splits at episode starts), the LSTM runs over the
whole padded batch in one call instead of sb3-contrib's Python loop over time steps. The
arithmetic is the same (the reset multiplies the initial state by 0 exactly as the loop
does); only the batching differs, which is where training spends less time (the training
benchmark's table in docs/training.md gives the figures).

``PolicyStepper`` feeds observations one bar at a time with explicit LSTM state, and returns
action probabilities; evaluation (a batch of seeds) and ``LivePolicy`` (a batch of one) both
use it, so they compute the same thing. Actions are chosen from the probabilities either by
argmax or by sampling with a uniform keyed on (seed, bar timestamp): reproducible, and the
same for a restarted process as for one that ran all session.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.distributions import CategoricalDistribution
from stable_baselines3.common.policies import BaseModel
from stable_baselines3.common.torch_layers import FlattenExtractor
from torch import _VF, nn
from torch.nn import functional as F  # torch's own spelling

ActionMode = Literal["sample", "argmax"]


class SequenceLstmPolicy(RecurrentActorCriticPolicy):
    """``MlpLstmPolicy`` whose training pass runs each minibatch's LSTM in one call."""

    @staticmethod
    def _process_sequence(  # type: ignore[override]  # sb3-contrib's annotation is wrong
            features: th.Tensor, lstm_states: tuple[th.Tensor, th.Tensor],
            episode_starts: th.Tensor, lstm: nn.LSTM
    ) -> tuple[th.Tensor, tuple[th.Tensor, th.Tensor]]:
        n_seq = lstm_states[0].shape[1]
        sequence = features.reshape((n_seq, -1, lstm.input_size)).swapaxes(0, 1)
        starts = episode_starts.reshape((n_seq, -1)).swapaxes(0, 1)
        if sequence.shape[0] == 1 or not bool(th.any(starts[1:])):
            keep = (1.0 - starts[0]).view(1, n_seq, 1)
            output, states = lstm(sequence, (keep * lstm_states[0], keep * lstm_states[1]))
            return th.flatten(output.transpose(0, 1), start_dim=0, end_dim=1), states
        output, states = RecurrentActorCriticPolicy._process_sequence(
            features, lstm_states, episode_starts, lstm)
        return output, states  # type: ignore[return-value]  # (h, c), despite the stub


class PolicyStepper:
    """Runs a recurrent policy's actor one observation per env per call, keeping its state.

    ``step(obs, starts)`` takes a (batch, obs) float32 array and a (batch,) bool array that is
    True where a session (episode) begins (the LSTM state is zeroed there first, as in
    training) and returns (batch, n_actions) action probabilities.

    A step is sb3's ``get_distribution`` written out: features, the actor LSTM, the actor
    MLP, the action logits, then ``Categorical(logits=...).probs`` (normalised logits, then
    softmax: the same operations, so the same bits). It keeps nothing on the shared policy
    (sb3 stores each call's distribution on ``policy.action_dist``, which two threads
    stepping at once would overwrite), runs under ``torch.inference_mode`` and writes the
    inputs into tensors allocated once. So several steppers over one policy may step from
    several threads at once; one stepper is one caller's (its state and buffers are its own).
    """

    def __init__(self, policy: Any, batch: int = 1) -> None:
        if not isinstance(policy, RecurrentActorCriticPolicy):
            raise TypeError(f"PolicyStepper needs a recurrent policy, got {type(policy).__name__}")
        self.policy = policy
        self.batch = batch
        if policy.training:  # evaluation mode once (not per step: it walks every module)
            policy.set_training_mode(False)
        self._categorical = isinstance(policy.action_dist, CategoricalDistribution)
        lstm = policy.lstm_actor
        self._direct_lstm = (type(lstm) is nn.LSTM and lstm.proj_size == 0
                             and not lstm.batch_first and not lstm.bidirectional)
        if self._direct_lstm:
            lstm._update_flat_weights()
        shape = policy.observation_space.shape
        if shape is None:
            raise TypeError("PolicyStepper needs a policy with a fixed observation shape")
        width = int(np.prod(shape))
        self._obs = np.zeros((batch, width), dtype=np.float32)
        self._starts = np.zeros(batch, dtype=np.float32)
        self._obs_t, self._starts_t = th.from_numpy(self._obs), th.from_numpy(self._starts)
        self._direct_actor = _plain_actor(policy)
        self.reset()

    def reset(self) -> None:
        layers, _, hidden = self.policy.lstm_hidden_state_shape
        zeros = th.zeros((layers, self.batch, hidden), dtype=th.float32)
        self.state: tuple[th.Tensor, th.Tensor] = (zeros, zeros.clone())

    @property
    def hidden(self) -> np.ndarray:
        """(h, c) stacked: (2, layers, batch, hidden); for tests and diagnostics."""
        return np.stack([self.state[0].numpy(), self.state[1].numpy()])

    def step(self, obs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        policy = self.policy
        if policy.training:  # someone trained it meanwhile (same model object)
            policy.set_training_mode(False)
        self._obs[...] = np.asarray(obs, dtype=np.float32).reshape(self.batch, -1)
        self._starts[...] = np.asarray(starts, dtype=np.float32).reshape(self.batch)
        with th.inference_mode():
            if not self._categorical:
                return self._step_shared()
            if self._direct_actor:
                logits = self._direct_logits()
            else:
                features = BaseModel.extract_features(policy, self._obs_t,
                                                      policy.pi_features_extractor)
                latent = self._actor_lstm(features)
                logits = policy.action_net(policy.mlp_extractor.forward_actor(latent))
            probs = th.softmax(logits - logits.logsumexp(dim=-1, keepdim=True), dim=-1)
        return np.asarray(probs.numpy(), dtype=np.float64)

    def _direct_logits(self) -> th.Tensor:
        """``_plain_actor``'s network without its modules' Python dispatch (~0.1 ms a step):
        the float32 (batch, width) observation is its own flattened features, then the
        actor LSTM, then each layer's own kernel (``F.linear``, ``tanh``, ``relu``) on the
        modules' own parameters: the same calls the modules make, so the same bits."""
        policy = self.policy
        x = self._actor_lstm(self._obs_t)
        for layer in policy.mlp_extractor.policy_net:
            if type(layer) is nn.Linear:
                x = F.linear(x, layer.weight, layer.bias)
            else:
                x = th.tanh(x) if type(layer) is nn.Tanh else th.relu(x)
        head = policy.action_net
        return F.linear(x, head.weight, head.bias)

    def _actor_lstm(self, features: th.Tensor) -> th.Tensor:
        """One step of the actor LSTM from ``self.state`` (zeroed where a session starts),
        as ``_process_sequence`` computes a one-step sequence: the same ``keep`` product and
        the same ``_VF.lstm`` call as ``nn.LSTM.forward`` makes, without its per-call
        argument checks and weight-list refresh (~0.1 ms a step; the weights are refreshed
        once, in ``__init__``)."""
        lstm = self.policy.lstm_actor
        if not self._direct_lstm:
            latent, state = self.policy._process_sequence(features, self.state,
                                                          self._starts_t, lstm)
            self.state = state  # type: ignore[assignment]  # (h, c), despite the stub
            return latent
        state = self.state
        if self._starts.any():
            keep = (1.0 - self._starts_t).view(1, self.batch, 1)
            state = (keep * state[0], keep * state[1])
        # else keep would be all 1.0, and x * 1.0 is x bit for bit: three tensor ops saved
        sequence = features.reshape((self.batch, -1, lstm.input_size)).swapaxes(0, 1)
        output, h, c = _VF.lstm(sequence, state,
                                lstm._flat_weights,  # type: ignore[arg-type]  # all set
                                lstm.bias, lstm.num_layers, lstm.dropout,
                                lstm.training, lstm.bidirectional, lstm.batch_first)
        self.state = (h, c)
        return th.flatten(output.transpose(0, 1), start_dim=0, end_dim=1)

    def _step_shared(self) -> np.ndarray:
        """Other action distributions: sb3's own path, which writes the shared
        ``action_dist`` (so one step at a time, process-wide)."""
        with _SHARED_DISTRIBUTION:
            distribution, state = self.policy.get_distribution(self._obs_t, self.state,
                                                               self._starts_t)
            self.state = (state[0].clone(), state[1].clone())
            probs: th.Tensor = distribution.distribution.probs  # type: ignore[union-attr]
            return np.asarray(probs.numpy(), dtype=np.float64)


_SHARED_DISTRIBUTION = threading.Lock()
_PLAIN_LAYERS = (nn.Linear, nn.Tanh, nn.ReLU)


def _plain_actor(policy: RecurrentActorCriticPolicy) -> bool:
    """Whether the actor is exactly sb3's default MLP shape, so ``_direct_logits`` may run
    it: a flat float32 Box observation through ``FlattenExtractor`` (``preprocess_obs`` and
    the flatten are then identities), the plain one-step LSTM, a ``policy_net`` of only
    Linear/Tanh/ReLU modules and a Linear ``action_net``."""
    space = policy.observation_space
    net = getattr(policy.mlp_extractor, "policy_net", None)
    return (isinstance(space, spaces.Box) and len(space.shape) == 1
            and space.dtype == np.float32
            and type(policy.pi_features_extractor) is FlattenExtractor
            and type(policy.lstm_actor) is nn.LSTM and policy.lstm_actor.proj_size == 0
            and not policy.lstm_actor.batch_first and not policy.lstm_actor.bidirectional
            and type(net) is nn.Sequential and all(type(m) in _PLAIN_LAYERS for m in net)
            and type(policy.action_net) is nn.Linear)


def keyed_uniforms(seeds: Sequence[int], ts_us: int) -> np.ndarray:
    """One uniform in [0, 1) per seed, a pure function of (seed, bar timestamp)."""
    return np.array([np.random.default_rng([int(s) & 0xFFFFFFFF, int(ts_us) & (2**63 - 1)])
                     .random() for s in seeds])


def choose_actions(probs: np.ndarray, mode: ActionMode, seeds: Sequence[int],
                   ts_us: int) -> np.ndarray:
    """Actions from (batch, n) probabilities: argmax, or inverse-CDF sampling with the
    keyed uniforms (so the same bar and seed always give the same action)."""
    if mode == "argmax":
        return np.asarray(probs.argmax(axis=1))
    cdf = np.cumsum(probs, axis=1)
    u = keyed_uniforms(seeds, ts_us) * cdf[:, -1]
    return np.asarray(np.minimum((cdf <= u[:, None]).sum(axis=1), probs.shape[1] - 1))
