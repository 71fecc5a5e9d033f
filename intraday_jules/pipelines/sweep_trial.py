"""One sweep trial: train the foundation and its dual transfer with a trial's config, then
score both on the validation window.

The same chronological split as ``intraday-jules train`` (train / validation / test with
one-session embargoes); both models train on the train window (its last ``train_sessions``
sessions when the trial shortens it) and are scored by the walk-forward evaluation on the
validation window, never seen in training. The score is the one the promotion gate decides
on: the model's net P&L in $ at 1x costs (mean over the evaluation's seeds; the gate's
"beats flat" criterion is this figure > 0). The trial also records that P&L per validation
session (session date -> $, at 1x costs, mean over the seeds): the sessions x trials matrix
of a study is what its probability of backtest overfitting is computed on
(``study_stats``). Every model is saved in the model store and its
registry with ``metrics["sweep"]`` = {study, trial, params, worker} and its TensorBoard run
in ``<tensorboard dir>/<model id>/``.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from intraday_jules.agent.bundle import ModelBundle
from intraday_jules.agent.config import TrainingConfig
from intraday_jules.agent.data import (
    DateWindow,
    Splits,
    cut_to_window,
    prepare_data,
)
from intraday_jules.agent.evaluation import EvaluationReport, evaluate, evaluation_data
from intraday_jules.agent.model_store import ModelStore
from intraday_jules.agent.training import train_dual, train_foundation
from intraday_jules.domain.calendar import sessions_in_range
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.features import DEFAULT_SPEC, FeatureSpec
from intraday_jules.features.coverage import MissingFeaturesError
from intraday_jules.features.store import read_feature_frame
from intraday_jules.pipelines.sweep_space import TrialSettings
from intraday_jules.pipelines.training import sessions_of, training_splits
from intraday_jules.settings import Settings

SOURCES = ("simulated", "store", "replay")
#: the simulated stand-in for the recorded Jan-Feb 2025 minutes (39 sessions)
SIMULATED_WINDOW = (date(2025, 1, 2), date(2025, 2, 28))
SIMULATED_SEED = 7
OBJECTIVE = "validation net P&L in $ at 1x costs (mean over the evaluation's seeds)"
#: ``report(value, step)``: an intermediate score (may raise ``optuna.TrialPruned``)
Report = Callable[[float, int], None]


class SweepDataError(ValueError):
    """The sweep's bars cannot be loaded (unknown source, empty window, no file)."""


@dataclass(frozen=True, eq=False)
class SweepData:
    """The bars every trial of a worker shares, and their split."""

    bars: pd.DataFrame
    origin: str
    splits: Splits
    stored_features: bool  # read the features table's rows (else build from the bars)


def load_sweep_data(settings: Settings, source: str, start: date | None,
                    end: date | None) -> SweepData:
    """NVDA + MSFT bars of ``source`` in [start, end]: "simulated" (the seeded simulator,
    regular hours; default window Jan-Feb 2025), "store" (the ingested bars, with their
    stored feature rows) or "replay" (``settings.replay_path``)."""
    if source not in SOURCES:
        raise SweepDataError(f"source {source!r}: expected one of {', '.join(SOURCES)}")
    if start is not None and end is not None and end < start:
        raise SweepDataError(f"end {end} is before start {start}")
    bars, origin = _read(settings, source, start, end)
    bars = bars[bars["symbol"].isin(DEFAULT_SYMBOLS)]
    if start is not None or end is not None:
        bars = cut_to_window(bars, DateWindow(start or date.min, end or date.max))
    if bars.empty:
        raise SweepDataError(f"{origin}: no {'/'.join(DEFAULT_SYMBOLS)} bars between "
                             f"{start or 'the start'} and {end or 'the end'}")
    bars = bars.reset_index(drop=True)
    return SweepData(bars, origin, training_splits(bars), source == "store")


def _read(settings: Settings, source: str, start: date | None,
          end: date | None) -> tuple[pd.DataFrame, str]:
    if source == "simulated":
        from intraday_jules.market_data.simulated import SimulatedSource

        first, last = start or SIMULATED_WINDOW[0], end or SIMULATED_WINDOW[1]
        sim = SimulatedSource(seed=SIMULATED_SEED)
        days = sessions_in_range(first, last)
        if not days:
            raise SweepDataError(f"simulated: no session between {first} and {last}")
        frames = [sim.session_frame(d) for d in days]
        return pd.concat(frames, ignore_index=True).drop(columns=["source"]), "simulated bars"
    if source == "replay":
        from intraday_jules.market_data.replay import read_bars_file

        if settings.replay_path is None:
            raise SweepDataError("source replay needs INTRADAY_JULES_REPLAY_PATH (a bars file)")
        return read_bars_file(settings.replay_path), f"file {settings.replay_path}"
    from intraday_jules.market_data.store import BarStore

    store = BarStore.open(settings.database_url)
    try:
        return store.read(list(DEFAULT_SYMBOLS)), "the bar store"
    finally:
        store.close()


@dataclass(frozen=True)
class Budgets:
    foundation_steps: int
    dual_steps: int
    evaluation_seeds: int = 3


@dataclass(frozen=True)
class ValidationScore:
    """The objective (net P&L in $ at 1x costs, mean over the seeds) and the same P&L per
    validation session (ISO date -> $; the values sum to ``value``)."""

    value: float
    session_pnl_usd: dict[str, float]


@dataclass(frozen=True)
class TrialOutcome:
    """A finished trial: the dual model's score (the objective) and both models."""

    value: float
    model_id: str
    foundation_id: str
    foundation_value: float
    train_s: float  # both trainings' wall time (building their envs included)
    evaluate_s: float  # both validation evaluations' wall time
    #: the dual model's validation P&L per session (ISO date -> $, 1x costs, seeds' mean)
    session_pnl_usd: dict[str, float]


def train_window(splits: Splits, bars: pd.DataFrame, sessions: int | None) -> DateWindow:
    """The split's train window, or its last ``sessions`` sessions."""
    if sessions is None:
        return splits.train
    days = [d for d in sessions_of(bars) if splits.train.contains(d)]
    return DateWindow.of(days[-sessions:])


def run_trial(store: ModelStore, data: SweepData, trial: TrialSettings, *, budgets: Budgets,
              seed: int, tag: Mapping[str, Any], tensorboard_root: Path | None,
              report: Report | None = None) -> TrialOutcome:
    """Foundation -> score (``report``ed at step foundation_steps, so a pruner may stop the
    trial here) -> dual transfer -> score. Both models saved and tagged."""
    window = train_window(data.splits, data.bars, trial.train_sessions)
    train_bars = cut_to_window(data.bars, window)
    prepared = prepare_data(train_bars, train_window=window, origin=data.origin,
                            features=_rows(store, data, train_bars))
    stem = _id_stem(tag, seed)
    config = replace(trial.config, seed=seed)
    foundation, train_s = _trained(store, "foundation", stem, tag, tensorboard_root, lambda c: (
        train_foundation(prepared, c)), foundation_config(config, budgets.foundation_steps))
    # the pruner only needs the 1x figure: the foundation is scored at that cost alone
    started = time.perf_counter()
    foundation_value = validation_score(store, data, foundation, budgets.evaluation_seeds,
                                        cost_multipliers=(1.0,)).value
    evaluate_s = time.perf_counter() - started
    if report is not None:
        report(foundation_value, budgets.foundation_steps)
    dual, dual_s = _trained(store, "dual", stem, tag, tensorboard_root, lambda c: (
        train_dual(prepared, foundation, c)), replace(config, total_timesteps=budgets.dual_steps))
    started = time.perf_counter()
    score = validation_score(store, data, dual, budgets.evaluation_seeds)
    evaluate_s += time.perf_counter() - started
    assert foundation.model_id is not None  # saved above
    assert dual.model_id is not None
    return TrialOutcome(score.value, dual.model_id, foundation.model_id, foundation_value,
                        round(train_s + dual_s, 3), round(evaluate_s, 3),
                        score.session_pnl_usd)


def foundation_config(config: TrainingConfig, steps: int) -> TrainingConfig:
    """The trial's config for the NVDA-only foundation: "nvda_first" is a curriculum of the
    two-asset model (NVDA first, then both), so the one-asset foundation trains without it."""
    if getattr(config, "curriculum", "none") == "nvda_first":
        without: dict[str, Any] = {"curriculum": "none"}  # TrainingConfig.curriculum (newer)
        config = replace(config, **without)
    return replace(config, total_timesteps=steps)


def _trained(store: ModelStore, kind: str, stem: str, tag: Mapping[str, Any],
             tensorboard_root: Path | None, train: Callable[[Any], ModelBundle],
             config: Any) -> tuple[ModelBundle, float]:
    """Train under a model id chosen first, so the TensorBoard run is named by it; the
    saved bundle and the training's wall time (building the envs included)."""
    model_id = f"{kind}-{stem}"[:64]
    config = replace(config, tensorboard_dir=None if tensorboard_root is None
                     else tensorboard_root / model_id)
    started = time.perf_counter()
    bundle = train(config)
    seconds = time.perf_counter() - started
    bundle.metrics["sweep"] = dict(tag)
    store.save(bundle, model_id=model_id)
    return bundle, seconds


def _id_stem(tag: Mapping[str, Any], seed: int) -> str:
    study = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(tag.get("study", "sweep")))[:24]
    return f"{study}-t{tag.get('trial', 'x')}-s{seed}-{secrets.token_hex(3)}"


def validation_score(store: ModelStore, data: SweepData, bundle: ModelBundle, seeds: int,
                     cost_multipliers: tuple[float, ...] = (0.0, 1.0, 2.0)) -> ValidationScore:
    """The walk-forward evaluation on the validation window at ``cost_multipliers`` (recorded
    in the registry); the objective, the model's net P&L in $ at 1x costs, and its sessions'."""
    window = data.splits.validation
    held_out = cut_to_window(data.bars, window)
    rows = _rows(store, data, held_out, bundle.spec, bundle.symbols)
    prepared = evaluation_data(bundle, held_out, origin="validation window", features=rows)
    report = evaluate(bundle, prepared, window=window, seeds=seeds,
                      cost_multipliers=cost_multipliers)
    assert bundle.model_id is not None  # saved before it is scored
    store.record_evaluation(bundle.model_id, report.summary())
    return ValidationScore(float(report.metrics("model", "1x")["pnl_usd"] or 0.0),
                           session_pnl(report))


def session_pnl(report: EvaluationReport) -> dict[str, float]:
    """The model's net P&L per session of ``report``'s window at its reference cost (1x),
    mean over its seeds (``EvaluationReport.session_pnl``), keyed by ISO date."""
    if report.reference != "1x":
        raise ValueError(f"the session P&L is recorded at 1x costs; this evaluation's "
                         f"reference is {report.reference}")
    return {day.isoformat(): float(pnl)
            for day, pnl in zip(report.session_dates, report.session_pnl["model"], strict=True)}


def _rows(store: ModelStore, data: SweepData, bars: pd.DataFrame,
          spec: FeatureSpec = DEFAULT_SPEC,
          symbols: tuple[str, ...] = DEFAULT_SYMBOLS) -> pd.DataFrame | None:
    """The features table's rows for ``bars`` (source "store", when it covers them; else
    None: the features are built from the bars, the same computation)."""
    if not data.stored_features:
        return None
    try:
        return read_feature_frame(store.engine, spec, bars, symbols=symbols,
                                  origin=data.origin)
    except MissingFeaturesError:
        return None
