"""Resumable training checkpoints: everything a RecurrentPPO run needs to continue bit for bit.

A checkpoint is taken at a rollout boundary (sb3's ``on_rollout_start``, i.e. after the
previous PPO update, before the next rollout touches any RNG), and once more when training
ends. At that point the rollout buffer is empty (position 0: it is reset at every rollout), so
the state of the run is exactly: the policy's weights, Adam's state, the step and update
counters, the last observations / episode starts / LSTM states (policy and value), every env
(its whole ``__dict__``: position, episode bounds, book, its ``np_random``), the VecMonitor's
episode counters, the Python / NumPy / torch global RNGs, and our callbacks' state (the
learning curve). Restoring all of them into a freshly built model of the same run and calling
``learn`` for the remaining steps gives the same weights as an uninterrupted run (tested, on
CPU with one torch thread).

A run is identified by ``run_key``: the model kind, symbols, train window, data hashes, the
config (minus settings that cannot change the result: checkpoint cadence, TensorBoard folder)
and a digest of the initial weights (so a dual run is tied to its foundation). Files are
``<kind>_seed<seed>_<key>_<steps>_steps.ckpt``, written atomically (a kill while saving leaves
the previous checkpoint intact).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

FORMAT = 1
SUFFIX = ".ckpt"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot resume this run (other format, unreadable)."""


def run_key(kind: str, symbols: tuple[str, ...], config: dict[str, Any],
            data: dict[str, Any], model: RecurrentPPO) -> str:
    """12 hex digits that change whenever anything that shapes the run's result changes."""
    shaping = {k: v for k, v in config.items() if k not in ("checkpoint_freq", "tensorboard_dir")}
    digest = hashlib.sha256()
    for name, tensor in model.policy.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    text = json.dumps({"kind": kind, "symbols": list(symbols), "config": shaping, "data": data,
                       "init": digest.hexdigest()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def checkpoint_path(folder: Path, prefix: str, steps: int) -> Path:
    return folder / f"{prefix}_{steps}_steps{SUFFIX}"


def latest_checkpoint(folder: Path, prefix: str) -> Path | None:
    """The checkpoint of run ``prefix`` with the most steps, or None."""
    pattern = re.compile(re.escape(prefix) + r"_(\d+)_steps" + re.escape(SUFFIX) + "$")
    found = [(int(m.group(1)), p) for p in folder.glob(f"{prefix}_*{SUFFIX}")
             if (m := pattern.match(p.name))] if folder.is_dir() else []
    return max(found)[1] if found else None


def _env_states(vec: VecEnv) -> list[bytes]:
    # one pickle per env: SubprocVecEnv sends each env's __dict__ through its pipe
    return [pickle.dumps(state) for state in vec.get_attr("__dict__")]


def _monitor(model: RecurrentPPO) -> VecMonitor:
    env = model.get_env()
    if not isinstance(env, VecMonitor):
        raise CheckpointError(f"resumable checkpoints need a VecMonitor env, got {env!r}")
    return env


def capture(model: RecurrentPPO, extra: dict[str, Any]) -> dict[str, Any]:
    """The run's whole state at a rollout boundary (see the module docstring)."""
    monitor = _monitor(model)
    return {
        "format": FORMAT, "num_timesteps": model.num_timesteps, "n_updates": model._n_updates,
        "episode_num": model._episode_num,
        "policy": model.policy.state_dict(), "optimizer": model.policy.optimizer.state_dict(),
        "last_obs": model._last_obs, "last_episode_starts": model._last_episode_starts,
        "last_lstm_states": model._last_lstm_states,
        "ep_info_buffer": model.ep_info_buffer, "ep_success_buffer": model.ep_success_buffer,
        "monitor": {"episode_returns": monitor.episode_returns,
                    "episode_lengths": monitor.episode_lengths,
                    "episode_count": monitor.episode_count},
        "envs": _env_states(monitor.venv),
        "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                "torch": th.get_rng_state()},
        "extra": extra,
    }


def save(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def load(path: Path) -> dict[str, Any]:
    """A checkpoint written by ``save`` (our own file: pickle is trusted here)."""
    with path.open("rb") as handle:
        state: dict[str, Any] = pickle.load(handle)  # noqa: S301 - our own checkpoint
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {state.get('format')!r}, "
                              f"this version reads {FORMAT}")
    return state


def restore(model: RecurrentPPO, state: dict[str, Any]) -> dict[str, Any]:
    """Put ``state`` back into ``model`` (built for the same run); returns its ``extra``."""
    model.policy.load_state_dict(state["policy"])
    model.policy.optimizer.load_state_dict(state["optimizer"])
    model.num_timesteps, model._n_updates = state["num_timesteps"], state["n_updates"]
    model._episode_num = state["episode_num"]
    model._last_obs = state["last_obs"]
    model._last_episode_starts = state["last_episode_starts"]
    model._last_lstm_states = state["last_lstm_states"]
    model.ep_info_buffer, model.ep_success_buffer = (state["ep_info_buffer"],
                                                     state["ep_success_buffer"])
    monitor = _monitor(model)
    for name, value in state["monitor"].items():
        setattr(monitor, name, value)
    for i, blob in enumerate(state["envs"]):
        monitor.venv.set_attr("__dict__", pickle.loads(blob), indices=[i])  # noqa: S301
    random.setstate(state["rng"]["python"])
    np.random.set_state(state["rng"]["numpy"])
    th.set_rng_state(state["rng"]["torch"])
    extra: dict[str, Any] = state["extra"]
    return extra


class ResumableCheckpoints(BaseCallback):
    """Saves the run's state every ``every`` steps at a rollout boundary, and at the end.

    ``extra()`` adds the caller's own state (our learning curve) to each checkpoint."""

    def __init__(self, folder: Path, prefix: str, every: int,
                 extra: Callable[[], dict[str, Any]]) -> None:
        super().__init__()
        self.folder, self.prefix, self.every, self._extra = folder, prefix, every, extra
        self.last_saved = 0
        self.saved: list[Path] = []
        # False between a rollout's start and its end: a run stopped there is mid-rollout,
        # not at a boundary, and must not be saved
        self._at_boundary = True

    def _on_rollout_start(self) -> None:
        if self.num_timesteps - self.last_saved >= self.every:
            self._save()
        self._at_boundary = False

    def _on_rollout_end(self) -> None:
        self._at_boundary = True

    def _on_training_end(self) -> None:
        if self._at_boundary and self.num_timesteps > self.last_saved:
            self._save()

    def _on_step(self) -> bool:
        return True

    def _save(self) -> None:
        path = checkpoint_path(self.folder, self.prefix, self.num_timesteps)
        model = self.model
        assert isinstance(model, RecurrentPPO)  # set by sb3 when training starts
        save(capture(model, self._extra()), path)
        self.last_saved = self.num_timesteps
        self.saved.append(path)
