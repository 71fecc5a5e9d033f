"""Honest evaluation: walk-forward windows, embargo, baselines, cost levels, seeds.

- Windows: evaluation sessions never overlap the model's training window, and sessions
  within ``embargo_sessions`` exchange sessions of it are dropped (features look back up to
  50 bars and rewards forward one bar; the embargo keeps any such window inside one side).
  The evaluated sessions are cut into consecutive, non-overlapping folds (walk-forward
  order); ``walk_forward_folds`` builds retrain-per-fold schedules with the same rules.
- Every policy (agent and baselines) runs through the same env and ``ExecutionModel``; the
  agent's action sequences recorded at the reference cost (1x) are replayed at 0x and 2x.
  Both come from the model's ``ExecutionSpec`` (shorts, step, cap, timing, evaluation book,
  cost model), the rules it will trade under, so the gate judges the policy that trades.
- The agent's LSTM state is zeroed at every session's first decision, as in training
  (session episodes) and in ``LivePolicy``.
- Seeds: the policy is stochastic; seed s samples its actions with uniforms keyed on
  (s, bar timestamp), as ``LivePolicy(seed=s)`` does. ``model`` is the mean over seeds,
  ``ci95`` the Student-t 95% interval of that mean; ``argmax_*`` keys report the greedy
  policy. The random baseline uses the same seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from intraday_jules.agent.baselines import baselines_for
from intraday_jules.agent.bundle import ModelBundle
from intraday_jules.agent.data import DateWindow, PreparedData, TrainingDataError
from intraday_jules.agent.metrics import (
    Metrics,
    ci95,
    compute_metrics,
    daily_pnl_usd,
    mean_metrics,
)
from intraday_jules.agent.policy import ActionMode, PolicyStepper, choose_actions
from intraday_jules.agent.rollout import (
    Decide,
    Trajectory,
    build_envs,
    replay,
    rollout,
    session_starts,
)
from intraday_jules.agent.training import torch_threads
from intraday_jules.domain.calendar import sessions_in_range
from intraday_jules.env import DualTickerTradingEnv, ExecutionModel, SingleTickerTradingEnv
from intraday_jules.env.portfolio_env import PortfolioTradingEnv

MODEL, ARGMAX = "model", "model_argmax"
ARGMAX_KEYS = ("total_return", "pnl_usd", "sharpe", "sharpe_per_session", "max_drawdown_pct",
               "trades_per_day")


class EvaluationWindowError(TrainingDataError):
    """The evaluation window overlaps the model's training window (or leaves nothing)."""


@dataclass(frozen=True)
class Fold:
    """One walk-forward step: train on ``train``, test on ``test`` (after the embargo)."""

    train: DateWindow
    test: DateWindow


def walk_forward_folds(sessions: Sequence[date], *, train_sessions: int, test_sessions: int,
                       embargo_sessions: int = 1, anchored: bool = False) -> list[Fold]:
    """Retrain-per-fold schedule: fold f tests on the ``test_sessions`` sessions that follow
    its train window plus ``embargo_sessions``; test windows are consecutive and disjoint.
    Rolling train windows keep ``train_sessions``; anchored ones grow from the start."""
    days = sorted(set(sessions))
    folds: list[Fold] = []
    f = 0
    while True:
        end = train_sessions + f * test_sessions  # train is days[start:end]
        test_start = end + embargo_sessions
        if test_start + test_sessions > len(days):
            return folds
        start = 0 if anchored else f * test_sessions
        folds.append(Fold(DateWindow.of(days[start:end]),
                          DateWindow.of(days[test_start:test_start + test_sessions])))
        f += 1


def evaluation_folds(sessions: Sequence[date], train_window: DateWindow, *, n_folds: int = 3,
                     embargo_sessions: int = 1) -> tuple[list[DateWindow], list[date]]:
    """(folds, dropped): the sessions clear of the training window and its embargo, cut into
    up to ``n_folds`` consecutive windows. Overlap with the training window is refused."""
    inside = [d for d in sessions if train_window.contains(d)]
    if inside:
        raise EvaluationWindowError(
            f"evaluation sessions {inside[0]}..{inside[-1]} overlap the model's training "
            f"window {train_window}: evaluate on sessions it never saw")
    kept: list[date] = []
    dropped: list[date] = []
    for day in sorted(sessions):
        gap = (sessions_in_range(train_window.end + timedelta(days=1), day - timedelta(days=1))
               if day > train_window.end else
               sessions_in_range(day + timedelta(days=1), train_window.start - timedelta(days=1)))
        (kept if len(gap) >= embargo_sessions else dropped).append(day)
    if not kept:
        raise EvaluationWindowError(f"no session left after the {embargo_sessions}-session "
                                    f"embargo around the training window {train_window}")
    groups = np.array_split(np.arange(len(kept)), min(n_folds, len(kept)))
    return [DateWindow(kept[g[0]], kept[g[-1]]) for g in groups], dropped


@dataclass(eq=False)
class EvaluationReport:
    """Results per cost level ("0x", "1x", "2x") and policy ("model", "model_argmax",
    baselines): one ``Metrics`` per seed (one for deterministic baselines). ``curves``: the
    first run's portfolio values at the reference cost; ``actions``: every run's actions
    (runs, decisions)."""

    model_id: str | None
    kind: str
    window: DateWindow
    folds: list[DateWindow]
    dropped: list[date]
    seeds: int
    action_mode: ActionMode
    reference: str
    execution: dict[str, str]
    runs: dict[str, dict[str, list[Metrics]]]
    fold_metrics: list[dict[str, Metrics]]
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    actions: dict[str, np.ndarray] = field(default_factory=dict)
    execution_spec: dict[str, Any] | None = None
    #: per policy at the reference cost: each evaluated session's net P&L in $ (mean over
    #: the seeds), in ``session_dates`` order: the unit of the session bootstrap, the
    #: deflated Sharpe ratio and the overfitting statistics
    session_dates: tuple[date, ...] = ()
    session_pnl: dict[str, np.ndarray] = field(default_factory=dict)
    #: CPCV, deflated Sharpe, PBO and session bootstrap (``pipelines.robustness``), when
    #: computed: their keys join the JSON
    robustness: dict[str, Any] | None = None

    def session_returns(self, name: str = MODEL) -> np.ndarray:
        """Per-session return of ``name`` on the evaluation book (P&L / initial cash: the
        book is flat at every close and starts each session near its initial value)."""
        if self.execution_spec is None:
            raise ValueError("this evaluation records no ExecutionSpec: no book size")
        return self.session_pnl[name] / float(self.execution_spec["evaluation_book_usd"])

    def metrics(self, name: str = MODEL, cost: str | None = None) -> Metrics:
        return mean_metrics(self.runs[cost or self.reference][name])

    def baseline_names(self) -> list[str]:
        return [n for n in self.runs[self.reference] if n not in (MODEL, ARGMAX)]

    def _level(self, cost: str) -> dict[str, Any]:
        argmax = self.metrics(ARGMAX, cost)
        return {"model": {**self.metrics(MODEL, cost),
                          **{f"argmax_{k}": argmax[k] for k in ARGMAX_KEYS}},
                "ci95": ci95(self.runs[cost][MODEL]),
                "baselines": {n: self.metrics(n, cost) for n in self.baseline_names()}}

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON: model, baselines, seeds, ci95 at the reference cost; costs."""
        ref = self._level(self.reference)
        costs: dict[str, Any] = {"reference": self.reference, "levels": list(self.runs),
                                 "execution": self.execution}
        costs.update({level: self._level(level) for level in self.runs})
        out = {"model": ref["model"], "baselines": ref["baselines"], "seeds": self.seeds,
               "ci95": ref["ci95"], "costs": costs}
        if self.execution_spec is not None:
            out["execution_spec"] = self.execution_spec
        if self.robustness is not None:
            out.update(self.robustness)
        return out

    def summary(self) -> dict[str, Any]:
        """Compact form for the registry: window, folds and the JSON above."""
        return {"window": self.window.to_dict(), "folds": [f.to_dict() for f in self.folds],
                "embargo_dropped": [d.isoformat() for d in self.dropped],
                "action_mode": self.action_mode, **self.to_dict()}


def evaluate(bundle: ModelBundle, data: PreparedData, *, window: DateWindow | None = None,
             seeds: int = 3, cost_multipliers: Sequence[float] = (0.0, 1.0, 2.0),
             n_folds: int = 3, embargo_sessions: int = 1, action_mode: ActionMode = "sample",
             execution_model: ExecutionModel | None = None) -> EvaluationReport:
    """Evaluate ``bundle`` and the baselines on ``data``'s sessions in ``window`` (default:
    all), which must be normalised with the model's own statistics (``evaluation_data``).
    The env's rules and the cost model are the bundle's ``ExecutionSpec``'s;
    ``execution_model`` overrides the cost model only (e.g. a stress run)."""
    _check_data(bundle, data)
    sessions = [d for d in data.sessions if window is None or window.contains(d)]
    folds, dropped = evaluation_folds(sessions, bundle.train_window, n_folds=n_folds,
                                      embargo_sessions=embargo_sessions)
    span = DateWindow(folds[0].start, folds[-1].end)
    arrays = data.window(span, bundle.symbols)
    spec = bundle.execution
    env_config = spec.env_config(bundle.config.env)
    base = execution_model or spec.execution_model()
    levels = {f"{m:g}x": m for m in cost_multipliers}
    reference = "1x" if "1x" in levels else next(iter(levels))
    env_cls = SingleTickerTradingEnv if len(bundle.symbols) == 1 else DualTickerTradingEnv
    seed_list = list(range(seeds))

    def envs(multiplier: float, batch: int) -> list[PortfolioTradingEnv]:
        model = base.with_cost_multiplier(multiplier)
        return build_envs(arrays, env_cls, env_config, model, batch)

    probe = envs(levels[reference], 1)[0]
    with torch_threads(bundle.config.torch_threads):
        recorded = {**_split_agent(rollout(envs(levels[reference], seeds + 1),
                                           agent_decide(bundle, probe, seed_list, action_mode)))}
    for baseline in baselines_for(probe, seed_list):
        recorded[baseline.name] = rollout(envs(levels[reference], baseline.batch),
                                          baseline.decide)
    actions = {n: np.stack([t.actions for t in ts]) for n, ts in recorded.items()}
    runs: dict[str, dict[str, list[Metrics]]] = {}
    for label, multiplier in levels.items():
        trajs = recorded if label == reference else {
            n: replay(envs(multiplier, len(a)), a) for n, a in actions.items()}
        runs[label] = {n: [compute_metrics(t) for t in ts] for n, ts in trajs.items()}
    return EvaluationReport(
        model_id=bundle.model_id, kind=bundle.kind, window=span, folds=folds, dropped=dropped,
        seeds=seeds, action_mode=action_mode, reference=reference,
        execution=base.config.to_dict(), runs=runs,
        fold_metrics=_per_fold(recorded, folds, arrays.session_dates),
        curves={n: ts[0].values for n, ts in recorded.items()}, actions=actions,
        execution_spec={"version": spec.version, **spec.to_dict()},
        session_dates=_traded_sessions(recorded[MODEL][0], arrays.session_dates),
        session_pnl={n: np.mean([daily_pnl_usd(t) for t in ts], axis=0)
                     for n, ts in recorded.items()})


def _traded_sessions(traj: Trajectory, dates: tuple[date, ...]) -> tuple[date, ...]:
    """The sessions of ``traj`` in order (``daily_pnl_usd``'s order)."""
    return tuple(dates[int(s)] for s in np.unique(traj.session))


def _split_agent(agent: list[Trajectory]) -> dict[str, list[Trajectory]]:
    return {MODEL: agent[:-1], ARGMAX: agent[-1:]}


def agent_decide(bundle: ModelBundle, env: PortfolioTradingEnv, seeds: list[int],
                 mode: ActionMode) -> Decide:
    """The evaluation's decide function for ``bundle`` on ``env`` (a batch of
    ``len(seeds) + 1`` envs): rows 0..n-1 the policy under each seed (``mode``, uniforms
    keyed on (seed, decision bar ts)), last row argmax; the LSTM state is zeroed at each
    session's first decision. The shadow replay steps the same function."""
    stepper = PolicyStepper(bundle.model.policy, batch=len(seeds) + 1)
    starts = session_starts(env)
    ts_us = env.arrays.ts.astype("datetime64[us]").astype(np.int64)
    bars = env.schedule.bars

    def decide(k: int, obs: np.ndarray, _shares: np.ndarray) -> np.ndarray:
        probs = stepper.step(obs, np.full(len(obs), starts[k]))
        sampled = choose_actions(probs[:-1], mode, seeds, int(ts_us[bars[k]]))
        return np.concatenate([sampled, probs[-1:].argmax(axis=1)])
    return decide


def _per_fold(recorded: dict[str, list[Trajectory]], folds: list[DateWindow],
              dates: tuple[date, ...]) -> list[dict[str, Metrics]]:
    out = []
    for fold in folds:
        ids = np.array([i for i, d in enumerate(dates) if fold.contains(d)])
        out.append({n: mean_metrics([compute_metrics(t, ids) for t in ts])
                    for n, ts in recorded.items()})
    return out


def _check_data(bundle: ModelBundle, data: PreparedData) -> None:
    bundle.check_compatible(data.spec)
    for symbol in bundle.symbols:
        theirs = data.normalizers.get(symbol)
        if theirs is None or theirs.to_dict() != bundle.normalizers[symbol].to_dict():
            raise TrainingDataError(
                f"{data.origin}: {symbol} is not normalised with the model's statistics; "
                "build the data with evaluation_data(bundle, bars)")


def evaluation_data(bundle: ModelBundle, bars: Any, *, origin: str = "bars",
                    features: Any = None) -> PreparedData:
    """Features built on the fly from ``bars`` (or the stored rows ``features``, see
    ``prepare_data``), normalised with the MODEL's statistics."""
    from intraday_jules.agent.data import prepare_data

    return prepare_data(bars, train_window=None, symbols=bundle.symbols, spec=bundle.spec,
                        normalizers=bundle.normalizers, lookback=bundle.execution.lookback,
                        origin=origin, features=features)
