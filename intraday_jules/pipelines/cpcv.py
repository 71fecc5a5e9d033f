"""CPCV of a training recipe: retrain per split, evaluate out of sample, recombine paths.

A fixed model's out-of-sample P&L on a session does not depend on the split, so CPCV judges
the RECIPE (a ``TrainingConfig``: the NVDA foundation, then its transfer to the dual model).
For every split of ``agent.cpcv.session_splits`` it trains both stages on the split's
training sessions only (``prepare_data(train_sessions=...)``: normalisers fit on them, no
other session's bar reaches the training env), then runs the dual model and the
buy-and-hold baselines on the split's test sessions through the evaluation's own path
(``agent.evaluation.agent_decide``, ``rollout``, the model's ``ExecutionSpec`` and cost
model at ``cost_multiplier``). Each test group's sessions go to their path; a path is one
out-of-sample history over every session, on which P&L, Sharpe and drawdown are measured per
evaluation seed and averaged over the seeds. The report gives their distribution over paths.

Per path: ``pnl_usd`` the sum of session P&L; ``sharpe_per_session`` mean / standard
deviation of the session returns (P&L over the equity at the session's start), NOT
annualised (a path of a few dozen sessions does not support it); ``max_drawdown_usd`` the
largest peak-to-trough fall of the path's equity, bar by bar (``compute_metrics``' unit).
Buy-and-hold: ``buy_and_hold_<symbol>`` and ``fifty_fifty`` (both, equal dollars), intraday
like the agent; the report's figure is, per path, the best of them (the bar to clear).
Distributions: median and the 5th / 95th percentiles over paths (linear interpolation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.agent.baselines import baselines_for
from intraday_jules.agent.bundle import ModelBundle
from intraday_jules.agent.config import TrainingConfig
from intraday_jules.agent.cpcv import CpcvPlan, session_splits
from intraday_jules.agent.data import PreparedData, TrainingDataError, prepare_data
from intraday_jules.agent.evaluation import MODEL, agent_decide
from intraday_jules.agent.rollout import Trajectory, build_envs, rollout
from intraday_jules.agent.training import torch_threads, train_dual, train_foundation
from intraday_jules.domain.calendar import NEW_YORK, is_session
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.env import DualTickerTradingEnv, SingleTickerTradingEnv
from intraday_jules.env.portfolio_env import PortfolioTradingEnv
from intraday_jules.features import FeatureSpec

BUY_AND_HOLD_PREFIX = "buy_and_hold_"
BOTH_HELD = "fifty_fifty"
PERCENTILES = (5.0, 50.0, 95.0)
#: ``on_split(done, total)``: called after each split is trained and evaluated.
SplitProgress = Callable[[int, int], None]
#: Per policy, per session: (runs, decisions + 1) value change from the session's start in $.
SessionCurves = dict[str, dict[date, np.ndarray]]


@dataclass(frozen=True)
class PathMetrics:
    """One path's figures, each the mean over evaluation seeds (runs)."""

    pnl_usd: float
    sharpe_per_session: float | None
    max_drawdown_usd: float


@dataclass(frozen=True)
class CpcvReport:
    """The CPCV of one recipe: the plan, per path the model's and each buy-and-hold
    baseline's ``PathMetrics``, and how it was run."""

    plan: CpcvPlan
    model: tuple[PathMetrics, ...]
    baselines: dict[str, tuple[PathMetrics, ...]]
    seeds: int
    cost_multiplier: float

    def best_buy_and_hold(self) -> list[float]:
        """Per path, the highest P&L among the buy-and-hold baselines."""
        return [max(paths[p].pnl_usd for paths in self.baselines.values())
                for p in range(self.plan.n_paths)]

    def to_dict(self) -> dict[str, Any]:
        """The CLI/gate JSON (module docstring: what each figure is)."""
        return {
            "paths": self.plan.n_paths, "groups": self.plan.n_groups,
            "test_groups": self.plan.n_test_groups,
            "embargo_sessions": self.plan.embargo_sessions,
            "purge_sessions": self.plan.purge_sessions, "splits": len(self.plan.splits),
            "sessions": len(self.plan.sessions), "seeds": self.seeds,
            "cost_multiplier": self.cost_multiplier,
            "pnl_usd": distribution([m.pnl_usd for m in self.model]),
            "sharpe_per_session": distribution([m.sharpe_per_session for m in self.model]),
            "max_drawdown_usd": distribution([m.max_drawdown_usd for m in self.model]),
            "buy_and_hold_pnl_usd": distribution(self.best_buy_and_hold()),
            "baselines_pnl_usd": {name: [m.pnl_usd for m in paths]
                                  for name, paths in self.baselines.items()},
        }


def distribution(values: Sequence[float | None]) -> dict[str, Any]:
    """{"median", "p05", "p95", "per_path"}; the percentiles over the defined values (a
    Sharpe is undefined on a path with no spread), all None if none is."""
    defined = np.array([v for v in values if v is not None], dtype=np.float64)
    if len(defined):
        p05, median, p95 = (float(x) for x in np.percentile(defined, PERCENTILES))
    else:
        p05 = median = p95 = None  # type: ignore[assignment]
    return {"median": median, "p05": p05, "p95": p95, "per_path": list(values)}


def run_cpcv(bars: pd.DataFrame, config: TrainingConfig, *, foundation_steps: int,
             dual_steps: int, seed: int = 0, seeds: int = 3, n_groups: int = 6,
             n_test_groups: int = 2, embargo_sessions: int = 1, purge_sessions: int = 0,
             cost_multiplier: float = 1.0, symbols: Sequence[str] = DEFAULT_SYMBOLS,
             spec: FeatureSpec | None = None, origin: str = "bars",
             on_split: SplitProgress | None = None) -> CpcvReport:
    """Train ``config``'s recipe (foundation ``foundation_steps``, then dual ``dual_steps``,
    both seeded with ``seed``) on every split's training sessions of ``bars``, evaluate on
    its test sessions over ``seeds`` evaluation seeds at ``cost_multiplier`` x costs, and
    recombine the paths. Deterministic for a seed. Raises ``CpcvPlanError`` when the
    sessions do not fit the plan, ``TrainingDataError`` for unusable bars."""
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if cost_multiplier < 0:
        raise ValueError(f"cost_multiplier must be >= 0, got {cost_multiplier}")
    plan = session_splits(bar_sessions(bars, origin), n_groups=n_groups,
                          n_test_groups=n_test_groups, embargo_sessions=embargo_sessions,
                          purge_sessions=purge_sessions)
    foundation_config = replace(config, total_timesteps=foundation_steps, seed=seed)
    dual_config = replace(config, total_timesteps=dual_steps, seed=seed)
    results: list[SessionCurves] = []
    initial_cash = 0.0
    for split in plan.splits:
        data = prepare_data(bars, train_window=None, train_sessions=split.train,
                            symbols=symbols, spec=spec,
                            origin=f"{origin} CPCV split {split.index}")
        foundation = train_foundation(data, foundation_config)
        dual = train_dual(data, foundation, dual_config)
        curves, initial_cash = evaluate_sessions(dual, data, split.test_sessions, seeds=seeds,
                                                 cost_multiplier=cost_multiplier)
        results.append(curves)
        if on_split is not None:
            on_split(split.index + 1, len(plan.splits))
    names = list(results[0])
    per_path = {name: tuple(path_metrics(plan, results, name, p, initial_cash)
                            for p in range(plan.n_paths)) for name in names}
    return CpcvReport(plan, per_path.pop(MODEL), per_path, seeds, cost_multiplier)


def bar_sessions(bars: pd.DataFrame, origin: str = "bars") -> list[date]:
    """The exchange sessions (New York dates) the bars have bars in."""
    if bars.empty:
        raise TrainingDataError(f"{origin}: no bars")
    days = set(bars["ts"].dt.tz_convert(NEW_YORK).dt.date)
    return sorted(d for d in days if is_session(d))


def evaluate_sessions(bundle: ModelBundle, data: PreparedData, sessions: Sequence[date], *,
                      seeds: int, cost_multiplier: float = 1.0) -> tuple[SessionCurves, float]:
    """The model (sampled, one run per seed, as ``evaluate``'s "model") and the
    buy-and-hold baselines on exactly ``sessions``, through the evaluation's env and the
    bundle's ``ExecutionSpec`` at ``cost_multiplier`` x its costs: per policy and session
    the value change curve, and the env's initial cash."""
    arrays = data.select_sessions(sessions, bundle.symbols)
    execution = bundle.execution
    env_config = execution.env_config(bundle.config.env)
    costs = execution.execution_model().with_cost_multiplier(cost_multiplier)
    env_cls = SingleTickerTradingEnv if len(bundle.symbols) == 1 else DualTickerTradingEnv
    seed_list = list(range(seeds))

    def envs(batch: int) -> list[PortfolioTradingEnv]:
        return build_envs(arrays, env_cls, env_config, costs, batch)

    probe = envs(1)[0]
    with torch_threads(bundle.config.torch_threads):
        agent = rollout(envs(seeds + 1), agent_decide(bundle, probe, seed_list, "sample"))
    curves: SessionCurves = {MODEL: session_curves(agent[:-1])}  # the last run is argmax
    for baseline in baselines_for(probe, seed_list):
        if baseline.name.startswith(BUY_AND_HOLD_PREFIX) or baseline.name == BOTH_HELD:
            curves[baseline.name] = session_curves(rollout(envs(baseline.batch),
                                                           baseline.decide))
    return curves, float(env_config.initial_cash)


def session_curves(runs: Sequence[Trajectory]) -> dict[date, np.ndarray]:
    """Per session: (runs, its decisions + 1) portfolio value minus the value at its start
    (0 first), the session's own P&L path whatever came before it."""
    first = runs[0]
    out: dict[date, np.ndarray] = {}
    for s in np.unique(first.session):
        steps = np.flatnonzero(first.session == s)
        marks = np.concatenate([[steps[0]], steps + 1])
        out[first.session_dates[int(s)]] = np.stack(  # type: ignore[index]
            [run.values[marks] - run.values[steps[0]] for run in runs])
    return out


def path_metrics(plan: CpcvPlan, results: Sequence[SessionCurves], name: str, path: int,
                 initial_cash: float) -> PathMetrics:
    """Policy ``name`` on ``path``: each group's sessions from the split that tested it for
    this path, chained in time order from ``initial_cash``; figures per run, then mean."""
    chosen = plan.path_splits(path)
    curves = [results[chosen[g]][name][day] for g, group in enumerate(plan.groups)
              for day in group]
    runs = [_run_metrics([c[r] for c in curves], initial_cash)
            for r in range(curves[0].shape[0])]
    sharpes = [s for _, s, _ in runs if s is not None]
    return PathMetrics(pnl_usd=float(np.mean([p for p, _, _ in runs])),
                       sharpe_per_session=float(np.mean(sharpes)) if sharpes else None,
                       max_drawdown_usd=float(np.mean([d for _, _, d in runs])))


def _run_metrics(sessions: Sequence[np.ndarray], initial_cash: float
                 ) -> tuple[float, float | None, float]:
    """(P&L, per-session Sharpe, max drawdown in $) of one run's chained session curves."""
    pnl = np.array([c[-1] for c in sessions], dtype=np.float64)
    start_equity = initial_cash + np.concatenate([[0.0], np.cumsum(pnl)[:-1]])
    returns = pnl / start_equity
    values = np.concatenate([[initial_cash]] + [e + c[1:] for e, c in zip(start_equity,
                                                                           sessions,
                                                                           strict=True)])
    drawdown = float((np.maximum.accumulate(values) - values).max())
    return float(pnl.sum()), _sharpe(returns), drawdown


def _sharpe(returns: np.ndarray) -> float | None:
    """Mean / sample standard deviation; 0 with no spread and no mean, None (undefined)
    with no spread but a mean, as ``agent.metrics`` does."""
    mean = float(returns.mean())
    std = float(returns.std(ddof=1)) if len(returns) > 1 else 0.0
    if std > 0:
        return mean / std
    return 0.0 if mean == 0 else None
