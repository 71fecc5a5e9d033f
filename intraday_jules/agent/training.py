"""Training: the NVDA foundation model, its transfer to NVDA + MSFT, and the scratch control.

All three are sb3-contrib ``RecurrentPPO`` with an ``MlpLstmPolicy`` (``SequenceLstmPolicy``:
the same network, batched LSTM passes in training) on vectorised envs over the TRAIN window
only. Seeds go to Python, NumPy, torch, every env and the action spaces (sb3's
``set_random_seed`` + ``VecEnv.seed``); torch runs on ``config.torch_threads`` threads for the
duration of the run (1 by default: see docs/training.md). Same data + same config = same model.

``train_dual`` starts from the foundation's weights (``transfer``); ``train_dual_from_scratch``
uses the same config, seed, data and budget from a random initialisation, so the transfer's
value is measured (``metrics["learning_curve"]``: mean session P&L per rollout at equal steps).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList

from intraday_jules.agent import checkpoints
from intraday_jules.agent.bundle import ModelBundle, ModelKind
from intraday_jules.agent.config import TrainingConfig
from intraday_jules.agent.curriculum import curriculum_callbacks
from intraday_jules.agent.data import PreparedData, TrainingDataError
from intraday_jules.agent.envs import make_training_env
from intraday_jules.agent.execution_spec import ExecutionSpec
from intraday_jules.agent.policy import SequenceLstmPolicy
from intraday_jules.agent.transfer import transfer_weights
from intraday_jules.env import ExecutionModel

#: ``progress(steps_done, total_steps)``, called as training advances (for a progress bar).
ProgressFn = Callable[[int, int], None]
FOUNDATION_SYMBOL = "NVDA"


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch on ``n`` intra-op threads inside the block, then restore the old setting."""
    before = th.get_num_threads()
    th.set_num_threads(n)
    try:
        yield
    finally:
        th.set_num_threads(before)


@contextmanager
def fast_torch(n_threads: int) -> Iterator[None]:
    """``torch_threads(n_threads)`` and no argument validation of torch distributions inside
    the block (restored after). The validation re-checks, on every policy call, that the
    Categorical's logits are finite reals: ~5% of a training run, and never false for a
    policy whose logits come out of its own linear layer. The arithmetic is unchanged."""
    before = th.distributions.Distribution._validate_args
    th.distributions.Distribution.set_default_validate_args(False)
    try:
        with torch_threads(n_threads):
            yield
    finally:
        th.distributions.Distribution.set_default_validate_args(before)


class _LearningCurve(BaseCallback):
    """Mean episode (= session, in session mode) reward of the episodes finished in each
    rollout, with the step count: the curve that compares transfer and scratch."""

    def __init__(self, progress: ProgressFn | None, total: int) -> None:
        super().__init__()
        self.points: list[tuple[int, float, int]] = []
        self._rewards: list[float] = []
        self._progress, self._total = progress, total
        self._every = max(total // 200, 1)
        self._last = 0

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            if "episode" in info:
                self._rewards.append(float(info["episode"]["r"]))
        if self._progress is not None and self.num_timesteps - self._last >= self._every:
            self._last = self.num_timesteps
            self._progress(min(self.num_timesteps, self._total), self._total)
        return True

    def state(self) -> dict[str, Any]:
        """What a checkpoint needs to continue the curve (taken at a rollout boundary)."""
        return {"points": list(self.points), "last": self._last}

    def restore(self, state: dict[str, Any]) -> None:
        self.points, self._last, self._rewards = list(state["points"]), state["last"], []

    def _on_rollout_end(self) -> None:
        if self._rewards:
            self.points.append((self.num_timesteps, float(np.mean(self._rewards)),
                                len(self._rewards)))
        self._rewards = []


def train_foundation(data: PreparedData, config: TrainingConfig | None = None, *,
                     checkpoint_dir: Path | None = None,
                     progress: ProgressFn | None = None, resume: bool = False) -> ModelBundle:
    """Train the single-ticker NVDA model (50,000 steps by default) on ``data``'s train
    window; returns it with its normaliser, spec, window and data hash. ``resume``: continue
    from this run's latest checkpoint in ``checkpoint_dir`` (a fresh start when none)."""
    config = config or TrainingConfig.foundation()
    return _train(data, (FOUNDATION_SYMBOL,), config, "foundation", None, checkpoint_dir,
                  progress, resume=resume)


def train_dual(data: PreparedData, foundation: ModelBundle,
               config: TrainingConfig | None = None, *, checkpoint_dir: Path | None = None,
               progress: ProgressFn | None = None, resume: bool = False) -> ModelBundle:
    """Train the NVDA + MSFT model (200,000 steps by default) starting from ``foundation``.

    ``data`` must carry the foundation's NVDA normaliser (prepare it with
    ``normalizers=foundation.normalizers``, or use the same ``PreparedData``), the same
    FeatureSpec, and ``config`` the foundation's per-asset network sizes."""
    config = config or TrainingConfig.dual(seed=foundation.config.seed)
    _check_transferable(data, foundation, config)

    def init(model: RecurrentPPO) -> dict[str, Any]:
        report = transfer_weights(foundation.model, model, len(data.spec.names))
        return {"transfer": report.to_dict()}

    return _train(data, _dual_symbols(data), config, "dual", init, checkpoint_dir, progress,
                  parent_id=foundation.model_id, resume=resume)


def train_dual_from_scratch(data: PreparedData, config: TrainingConfig | None = None, *,
                            checkpoint_dir: Path | None = None,
                            progress: ProgressFn | None = None,
                            resume: bool = False) -> ModelBundle:
    """The control for ``train_dual``: same network, data, seed and budget, random init."""
    config = config or TrainingConfig.dual()
    bundle = _train(data, _dual_symbols(data), config, "dual", None, checkpoint_dir, progress,
                    resume=resume)
    bundle.metrics["initialisation"] = "scratch"
    return bundle


def _dual_symbols(data: PreparedData) -> tuple[str, str]:
    symbols = data.arrays.symbols
    if len(symbols) < 2 or symbols[0] != FOUNDATION_SYMBOL:
        raise TrainingDataError(f"{data.origin}: the dual model needs NVDA then a second "
                                f"symbol, the data has {symbols}")
    return symbols[0], symbols[1]


def _check_transferable(data: PreparedData, foundation: ModelBundle,
                        config: TrainingConfig) -> None:
    if foundation.kind != "foundation":
        raise ValueError(f"train_dual needs a foundation model, got a {foundation.kind} model")
    foundation.check_compatible(data.spec)
    carried = foundation.normalizers[FOUNDATION_SYMBOL].to_dict()
    if data.normalizers[FOUNDATION_SYMBOL].to_dict() != carried:
        raise TrainingDataError(
            f"{data.origin}: the data's NVDA normalisation differs from the foundation's; "
            "prepare it with normalizers=foundation.normalizers so the transferred weights "
            "see the inputs they were trained on")
    same = (config.lstm_hidden_size == foundation.config.lstm_hidden_size
            and config.net_arch == foundation.config.net_arch)
    if not same:
        raise ValueError(
            f"per-asset network sizes differ: dual config LSTM {config.lstm_hidden_size} "
            f"{config.net_arch}, foundation LSTM {foundation.config.lstm_hidden_size} "
            f"{foundation.config.net_arch}")


def _train(data: PreparedData, symbols: tuple[str, ...], config: TrainingConfig,
           kind: ModelKind, init: Callable[[RecurrentPPO], dict[str, Any]] | None,
           checkpoint_dir: Path | None, progress: ProgressFn | None,
           parent_id: str | None = None, resume: bool = False) -> ModelBundle:
    if data.train_window is None:
        raise TrainingDataError(f"{data.origin}: no train window: nothing to train on")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir the interrupted run wrote to")
    arrays = data.train_arrays(symbols)  # the window's sessions, or exactly the listed ones
    with fast_torch(config.torch_threads):
        env = make_training_env(arrays, len(symbols), config)
        try:
            model = RecurrentPPO(
                SequenceLstmPolicy, env, policy_kwargs=config.policy_kwargs(len(symbols)),
                tensorboard_log=None if config.tensorboard_dir is None
                else str(config.tensorboard_dir), verbose=0, **config.ppo_kwargs())
            extra = init(model) if init is not None else {}
            run = _Run(model, config, kind, checkpoint_dir, progress,
                       _run_data(data, symbols), symbols)
            if resume:
                extra["resumed_from_step"] = run.resume()
            started = time.perf_counter()
            model.learn(config.total_timesteps - model.num_timesteps, callback=run.callbacks(),
                        tb_log_name=f"{kind}_seed{config.seed}",
                        reset_num_timesteps=model.num_timesteps == 0)
            wall = time.perf_counter() - started
        finally:
            env.close()
    if progress is not None:
        progress(config.total_timesteps, config.total_timesteps)
    trained = model.num_timesteps - int(extra.get("resumed_from_step") or 0)
    metrics = {"wall_s": round(wall, 3), "steps": int(model.num_timesteps),
               "steps_per_s": round(trained / wall, 1) if wall > 0 else None,
               "learning_curve": [list(p) for p in run.curve.points],
               "train_decisions": len(arrays.decision_schedule(
                   data.lookback, config.env.flatten_bars_before_close,
                   config.env.decision_interval_minutes)),
               "initialisation": "transfer" if init is not None else "random", **extra}
    return ModelBundle(
        model=model, kind=kind, symbols=symbols, spec=data.spec,
        normalizers={s: data.normalizers[s] for s in symbols},
        config=replace(config), train_window=data.train_window,
        data_hashes={s: data.data_hashes[s] for s in symbols}, metrics=metrics,
        parent_id=parent_id,
        # the training envs price fills with the default ExecutionModel (agent/envs.py)
        execution=ExecutionSpec.from_training(config, symbols, ExecutionModel().config))


def _run_data(data: PreparedData, symbols: tuple[str, ...]) -> dict[str, Any]:
    """What identifies the training data in a checkpoint's run key."""
    assert data.train_window is not None
    out: dict[str, Any] = {"window": data.train_window.to_dict(),
                           "hashes": {s: data.data_hashes[s] for s in symbols}}
    if data.train_sessions is not None:  # a listed (non-contiguous) training set
        out["sessions"] = [d.isoformat() for d in data.train_sessions]
    return out


class _Run:
    """One training run's callbacks: the learning curve and, with a checkpoint folder and
    ``checkpoint_freq`` > 0, resumable checkpoints (agent/checkpoints.py)."""

    def __init__(self, model: RecurrentPPO, config: TrainingConfig, kind: str,
                 checkpoint_dir: Path | None, progress: ProgressFn | None,
                 data: dict[str, Any], symbols: tuple[str, ...]) -> None:
        self.model, self.folder, self.config = model, checkpoint_dir, config
        self.curve = _LearningCurve(progress, config.total_timesteps)
        key = checkpoints.run_key(kind, symbols, config.to_dict(), data, model)
        self.prefix = f"{kind}_seed{config.seed}_{key}"
        self.saver = None
        if checkpoint_dir is not None and config.checkpoint_freq > 0:
            self.saver = checkpoints.ResumableCheckpoints(
                checkpoint_dir, self.prefix, config.checkpoint_freq, self.curve.state)

    def resume(self) -> int | None:
        """Restore the run's latest checkpoint; its step count (None: none, start afresh)."""
        assert self.folder is not None
        path = checkpoints.latest_checkpoint(self.folder, self.prefix)
        if path is None:
            return None
        self.curve.restore(checkpoints.restore(self.model, checkpoints.load(path)))
        if self.saver is not None:
            self.saver.last_saved = self.model.num_timesteps
        return int(self.model.num_timesteps)

    def callbacks(self) -> CallbackList:
        callbacks: list[BaseCallback] = [self.curve, *curriculum_callbacks(self.config)]
        return CallbackList(callbacks + ([self.saver] if self.saver is not None else []))


def compare_curves(transfer: list[list[float]], scratch: list[list[float]],
                   points: int = 10) -> dict[str, Any]:
    """Transfer minus scratch, at equal steps, from two learning curves
    ([steps, mean session reward, episodes] per rollout of equal size): the mean over the
    whole run (area under the curve) and over its last 20% of steps, plus ~``points``
    aligned samples. Rewards are $ per session, net of costs."""
    t = {int(p[0]): float(p[1]) for p in transfer}
    s = {int(p[0]): float(p[1]) for p in scratch}
    common = sorted(set(t) & set(s))
    if not common:
        return {"aligned_points": 0}
    tail = [k for k in common if k >= 0.8 * common[-1]] or common[-1:]
    mean_t, mean_s = np.mean([t[k] for k in common]), np.mean([s[k] for k in common])
    end_t, end_s = np.mean([t[k] for k in tail]), np.mean([s[k] for k in tail])
    picks = common[:: max(len(common) // points, 1)]
    return {"aligned_points": len(common),
            "mean_session_reward": {"transfer": round(float(mean_t), 3),
                                    "scratch": round(float(mean_s), 3),
                                    "difference": round(float(mean_t - mean_s), 3)},
            "final_20pct_session_reward": {"transfer": round(float(end_t), 3),
                                           "scratch": round(float(end_s), 3),
                                           "difference": round(float(end_t - end_s), 3)},
            "at_steps": [[k, round(t[k], 3), round(s[k], 3)] for k in picks]}
