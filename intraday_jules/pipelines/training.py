"""The training pipeline's steps as plain functions (what the ``models/*`` assets call).

Data: the ingested NVDA + MSFT bars of the bar store and the feature rows that
``features/feature_table`` stored for them (read, not recomputed: the asset graph's edge from
the features to the models is the data flow; a (session, symbol) partition without rows is
refused by name). Sessions are split chronologically into train / validation / test with
one-session embargoes; the foundation and the dual model train on the train window only
(refusing any (symbol, session) whose bars failed a blocking data-quality check), the
evaluation runs walk-forward on the validation window, and the gate decides on that
evaluation at 1x costs. Only the windows used are read: the test window needs no features.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from intraday_jules.agent.config import TrainingConfig
from intraday_jules.agent.data import (
    BlockedPredicate,
    DateWindow,
    PreparedData,
    Splits,
    cut_to_window,
    prepare_data,
    refuse_blocked,
    split_sessions,
)
from intraday_jules.agent.evaluation import EvaluationReport, evaluate, evaluation_data
from intraday_jules.agent.model_store import ModelStore
from intraday_jules.agent.promotion import GateReport, promote
from intraday_jules.agent.training import train_dual, train_foundation
from intraday_jules.domain.calendar import NEW_YORK
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.features import DEFAULT_SPEC
from intraday_jules.features.store import read_feature_frame
from intraday_jules.observability.pipeline_push import push_training
from intraday_jules.pipelines.robustness import CpcvBudget, StudyLookup, robustness_figures
from intraday_jules.pipelines.study_stats import model_study
from intraday_jules.risk.limits import RiskLimits

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TrainedModel:
    """A saved model and the split it was trained under (carried to the next step)."""

    model_id: str
    kind: str
    splits: dict[str, Any]
    steps: int
    wall_s: float | None
    steps_per_s: float | None
    #: mean reward of the episodes finished in the last rollout (None: none finished)
    mean_episode_reward: float | None = None

    def train_window(self) -> DateWindow:
        return DateWindow.from_dict(self.splits["train"])

    def validation_window(self) -> DateWindow:
        return DateWindow.from_dict(self.splits["validation"])


def sessions_of(bars: pd.DataFrame) -> list[date]:
    return sorted(set(bars["ts"].dt.tz_convert(NEW_YORK).dt.date))


def training_splits(bars: pd.DataFrame) -> Splits:
    return split_sessions(sessions_of(bars))


def _prepared(store: ModelStore, bars: pd.DataFrame, train: DateWindow,
              blocked: BlockedPredicate | None, origin: str) -> PreparedData:
    """The train window's bars with their stored feature rows (blocked partitions are refused
    first: they have no rows, and the quality verdict is the clearer message)."""
    bars = cut_to_window(bars, train)
    if blocked is not None:
        refuse_blocked(bars, DEFAULT_SYMBOLS, train, blocked, origin)
    rows = read_feature_frame(store.engine, DEFAULT_SPEC, bars, symbols=DEFAULT_SYMBOLS,
                              origin=origin)
    return prepare_data(bars, train_window=train, symbols=DEFAULT_SYMBOLS, features=rows,
                        origin=origin)


@dataclass(frozen=True)
class MetricsTarget:
    """Where a training run pushes its metrics: ``settings.pushgateway_url`` (None: nowhere)
    and ``settings.deployment``."""

    gateway_url: str | None = None
    deployment: str = "local"


def train_foundation_step(store: ModelStore, bars: pd.DataFrame, *, steps: int, seed: int,
                          tensorboard_dir: Path | None, blocked: BlockedPredicate | None,
                          progress: Progress | None = None,
                          metrics: MetricsTarget = MetricsTarget(),
                          device: str = "cpu") -> TrainedModel:
    splits = training_splits(bars)
    data = _prepared(store, bars, splits.train, blocked, "the bar store")
    config = TrainingConfig.foundation(total_timesteps=steps, seed=seed,
                                       tensorboard_dir=tensorboard_dir, device=device)
    bundle = train_foundation(data, config, checkpoint_dir=store.root / "checkpoints",
                              progress=progress)
    return _trained(store.save(bundle), "foundation", splits.to_dict(), steps, metrics)


def train_dual_step(store: ModelStore, bars: pd.DataFrame, foundation: TrainedModel, *,
                    steps: int, seed: int, tensorboard_dir: Path | None,
                    blocked: BlockedPredicate | None,
                    progress: Progress | None = None,
                    metrics: MetricsTarget = MetricsTarget(),
                    device: str = "cpu") -> TrainedModel:
    """Transfer the foundation to NVDA + MSFT on the foundation's own train window."""
    data = _prepared(store, bars, foundation.train_window(), blocked, "the bar store")
    config = TrainingConfig.dual(total_timesteps=steps, seed=seed,
                                 tensorboard_dir=tensorboard_dir, device=device)
    bundle = train_dual(data, store.load(foundation.model_id, live_spec=None), config,
                        checkpoint_dir=store.root / "checkpoints", progress=progress)
    return _trained(store.save(bundle), "dual", foundation.splits, steps, metrics)


def _trained(record: Any, kind: str, splits: dict[str, Any], steps: int,
             metrics: MetricsTarget) -> TrainedModel:
    push_training_metrics(metrics.gateway_url, metrics.deployment, kind, record.metrics)
    return TrainedModel(record.id, kind, splits, steps, record.metrics.get("wall_s"),
                        record.metrics.get("steps_per_s"),
                        last_mean_episode_reward(record.metrics))


def last_mean_episode_reward(metrics: Mapping[str, Any]) -> float | None:
    """The learning curve's last point ([steps, mean episode reward, episodes] per rollout
    with a finished episode); None when no episode finished."""
    curve = metrics.get("learning_curve") or []
    return float(curve[-1][1]) if curve else None


def push_training_metrics(gateway_url: str | None, deployment: str, model: str,
                          metrics: Mapping[str, Any]) -> None:
    """Push a finished training run of ``model`` (foundation | dual | scratch) from its
    bundle's ``metrics`` (steps, steps_per_s, learning_curve) to the Pushgateway. Nothing
    without a gateway; a failed push is logged, never raised."""
    push_training(gateway_url, deployment=deployment, model=model,
                  steps=int(metrics.get("steps", 0)), steps_per_s=metrics.get("steps_per_s"),
                  mean_episode_reward=last_mean_episode_reward(metrics))


def evaluate_step(store: ModelStore, bars: pd.DataFrame, model: TrainedModel, *,
                  seeds: int = 3, cpcv: CpcvBudget | None = None,
                  study_lookup: StudyLookup | None = None) -> EvaluationReport:
    """Walk-forward evaluation of ``model`` on its validation window (never seen in training),
    on the feature rows stored for the model's spec, baselines and costs included; then the
    robustness figures (``pipelines.robustness``: CPCV of its recipe over the training and
    validation sessions at the ``cpcv`` budgets, deflated Sharpe and PBO against the study it
    came from, read with ``study_lookup``, session bootstrap); recorded in the registry."""
    bundle = store.load(model.model_id)
    window = model.validation_window()
    held_out = cut_to_window(bars, window)
    rows = read_feature_frame(store.engine, bundle.spec, held_out, symbols=bundle.symbols,
                              origin="validation window")
    data = evaluation_data(bundle, held_out, origin="validation window", features=rows)
    report = evaluate(bundle, data, window=window, seeds=seeds)
    origin = model_study(store, model.model_id)
    span = cut_to_window(bars, DateWindow(model.train_window().start, window.end))
    report.robustness = robustness_figures(
        report, bundle, span, budget=cpcv, study=None if origin is None else origin.study,
        study_lookup=study_lookup)
    store.record_evaluation(model.model_id, report.summary())
    return report


def promotion_step(store: ModelStore, model: TrainedModel, evaluation: EvaluationReport,
                   limits: RiskLimits | None = None) -> GateReport:
    """The gate, in percent and against the live ``limits`` in $ (the settings' limits)."""
    return promote(store, model.model_id, evaluation, limits=limits)
