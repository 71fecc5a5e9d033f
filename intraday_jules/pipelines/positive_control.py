"""The positive control: the full pipeline must learn a planted edge, and refuse without it.

A rejected model alone cannot tell "the market has no edge" from "the pipeline cannot learn".
So, for each of two simulated markets (``market_data.planted``): "planted" (a documented,
tradable pattern that beats the costs) and "destroyed" (the same market with the pattern
shuffled in time), this runs what the default run does, through the pipeline's own steps:

ingest (quality checks included) + features per (session, symbol) -> train the foundation ->
train the dual model -> walk-forward evaluation on the validation window -> the promotion gate
at 1x costs against the live risk limits of ``settings``
(``pipelines.training``'s ``train_foundation_step``, ``train_dual_step``, ``evaluate_step``,
``promotion_step``: whatever criteria the gate has, the control applies them).

Each market runs in its own scope (``<workdir>/<market>/``: its own SQLite database, model
store and registry, wiped at the start), so the two never share bars, features or a champion,
and a previous run's champion never competes. The control passes when the planted model is
promoted and the destroyed one refused.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from intraday_jules.agent.data import BlockedPredicate
from intraday_jules.agent.model_store import ModelStore
from intraday_jules.domain.calendar import NEW_YORK, partition_key_for, sessions_in_range
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.market_data.simulated import SimulatedSource
from intraday_jules.market_data.store import BarStore
from intraday_jules.pipelines.features import PartitionBlocked, store_partition_features
from intraday_jules.pipelines.ingest import QualityGate, ingest_partition
from intraday_jules.pipelines.robustness import CpcvBudget
from intraday_jules.pipelines.training import (
    evaluate_step,
    promotion_step,
    train_dual_step,
    train_foundation_step,
)
from intraday_jules.quality import blocking_reason
from intraday_jules.risk.limits import RiskLimits
from intraday_jules.settings import Settings

MARKETS = ("planted", "destroyed")
EXPECTED_PROMOTED = {"planted": True, "destroyed": False}
#: the sessions of both markets: the simulated stand-in of the recorded Jan-Feb 2025 minutes
#: (39 sessions; with market seed 7, 2025-01-31 is blocked by the quality checks and the 38
#: left split into 20 train, 1 embargo, 8 validation, 1 embargo, 8 test)
WINDOW = (date(2025, 1, 2), date(2025, 2, 28))
#: gate criteria the control reports by name when the gate has them (else null)
DSR_CRITERION = "deflated_sharpe"
PBO_CRITERION = "pbo"
Step = Callable[[str], None]


@dataclass(frozen=True)
class ControlBudgets:
    """Training steps of the foundation and the dual model, the evaluation's seeds, and the
    per-split budgets of the gate's CPCV (its recipe retrained on 15 splits)."""

    foundation_steps: int = 16_384
    dual_steps: int = 16_384
    evaluation_seeds: int = 3
    cpcv_foundation_steps: int = 16_384
    cpcv_dual_steps: int = 16_384

    def __post_init__(self) -> None:
        for name in ("foundation_steps", "dual_steps", "evaluation_seeds",
                     "cpcv_foundation_steps", "cpcv_dual_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ControlBudgets.{name} must be >= 1, got "
                                 f"{getattr(self, name)}")

    def to_dict(self) -> dict[str, int]:
        return {"foundation_steps": self.foundation_steps, "dual_steps": self.dual_steps,
                "evaluation_seeds": self.evaluation_seeds,
                "cpcv_foundation_steps": self.cpcv_foundation_steps,
                "cpcv_dual_steps": self.cpcv_dual_steps}

    def cpcv(self) -> CpcvBudget:
        return CpcvBudget(self.cpcv_foundation_steps, self.cpcv_dual_steps,
                          seeds=self.evaluation_seeds)


@dataclass(frozen=True)
class MarketVerdict:
    """What the pipeline made of one market: the dual model, its validation P&L at 1x costs
    (mean over the evaluation's seeds, $), and the gate's verdict with every criterion."""

    market: str
    model_id: str
    foundation_id: str
    pnl_usd: float | None
    promoted: bool
    criteria: tuple[dict[str, Any], ...]
    sessions: int
    blocked_partitions: tuple[str, ...]
    wall_s: float

    @property
    def expected(self) -> bool:
        return self.promoted == EXPECTED_PROMOTED[self.market]

    def criterion_value(self, name: str) -> Any:
        """The named gate criterion's value; None when the gate has no such criterion."""
        return next((c["value"] for c in self.criteria if c["name"] == name), None)

    def failed(self) -> list[str]:
        return [c["name"] for c in self.criteria if not c["passed"]]

    def to_dict(self) -> dict[str, Any]:
        return {"pnl_usd": self.pnl_usd, "dsr": self.criterion_value(DSR_CRITERION),
                "pbo": self.criterion_value(PBO_CRITERION), "promoted": self.promoted,
                "expected_promoted": EXPECTED_PROMOTED[self.market], "model_id": self.model_id,
                "foundation_id": self.foundation_id, "criteria": list(self.criteria),
                "failed_criteria": self.failed(), "sessions": self.sessions,
                "blocked_partitions": list(self.blocked_partitions),
                "wall_s": self.wall_s}


@dataclass(frozen=True)
class PositiveControlResult:
    """Both markets' verdicts; ``passed``: planted promoted and destroyed refused."""

    planted: MarketVerdict
    destroyed: MarketVerdict
    budgets: ControlBudgets
    seed: int
    market_seed: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.planted.expected and self.destroyed.expected

    def wrong_verdicts(self) -> list[str]:
        """One line per market whose verdict is not the expected one (empty when passed)."""
        out = []
        if not self.planted.expected:
            out.append(f"planted market: model {self.planted.model_id} was refused (expected "
                       f"promoted); failed criteria: {', '.join(self.planted.failed())}")
        if not self.destroyed.expected:
            out.append(f"destroyed market: model {self.destroyed.model_id} was promoted "
                       "(expected refused): the gate promoted a model with nothing to learn")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"planted": self.planted.to_dict(), "destroyed": self.destroyed.to_dict(),
                "passed": self.passed, "wrong_verdicts": self.wrong_verdicts(),
                "budgets": self.budgets.to_dict(), "seed": self.seed,
                "market_seed": self.market_seed, **self.extra}


def run_positive_control(settings: Settings, *, budgets: ControlBudgets = ControlBudgets(),
                         seed: int = 0, workdir: Path | None = None,
                         window: tuple[date, date] = WINDOW, great_expectations: bool = False,
                         on_step: Step | None = None, parallel: bool = True
                         ) -> PositiveControlResult:
    """Both markets through the full pipeline (see the module docstring). ``seed``: the
    training seed; the markets are the simulator's ``settings.sim_seed``. ``workdir``: where
    the two scopes go (default ``settings.home/positive_control``). ``great_expectations``:
    see ``ingest_with_features``. ``parallel``: the two markets in two processes at once when
    the machine has two cores or more (they share nothing, each is seeded: the verdicts are
    those of a sequential run; the steps are then printed by the processes, on stderr)."""
    root = Path(workdir) if workdir is not None else Path(settings.home) / "positive_control"
    limits = RiskLimits.from_settings(settings)
    jobs = {market: {"scope": root / market, "settings": settings, "budgets": budgets,
                     "seed": seed, "window": window, "limits": limits,
                     "great_expectations": great_expectations}
            for market in MARKETS}
    if parallel and (os.cpu_count() or 1) >= len(MARKETS):
        verdicts = _run_in_processes(jobs, say=on_step is not None)
    else:
        verdicts = {market: run_market(market, on_step=on_step, **job)
                    for market, job in jobs.items()}
    return PositiveControlResult(verdicts["planted"], verdicts["destroyed"], budgets, seed,
                                 settings.sim_seed)


def _run_in_processes(jobs: dict[str, dict[str, Any]], *, say: bool
                      ) -> dict[str, MarketVerdict]:
    # spawn, not fork: torch and the database engines must not be shared with the parent
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(jobs), mp_context=context) as pool:
        futures = {market: pool.submit(run_market, market,
                                       on_step=say_on_stderr if say else None, **job)
                   for market, job in jobs.items()}
        # a market's failure is raised here, with the worker's traceback attached
        return {market: future.result() for market, future in futures.items()}


def say_on_stderr(text: str) -> None:
    """A market process's progress line (module-level: it crosses the process boundary)."""
    sys.stderr.write(f"{text}\n")
    sys.stderr.flush()


def run_market(market: str, scope: Path, settings: Settings, *, budgets: ControlBudgets,
               seed: int, window: tuple[date, date], limits: RiskLimits,
               great_expectations: bool = False, on_step: Step | None = None) -> MarketVerdict:
    """One market in its own (wiped) scope: ingest + features, train, evaluate, gate."""
    say = on_step or (lambda _text: None)
    started = time.perf_counter()
    if scope.exists():
        shutil.rmtree(scope)
    scope.mkdir(parents=True)
    source = SimulatedSource(seed=settings.sim_seed, pattern=market)
    bar_store = BarStore.open(f"sqlite:///{scope / 'control.db'}")
    try:
        say(f"{market}: ingest + features, {window[0]}..{window[1]}")
        ingested = ingest_with_features(source, bar_store, window,
                                        great_expectations=great_expectations)
        bars = usable_bars(bar_store, ingested.sessions)
        store = ModelStore(scope / "models", bar_store.engine)
        blocked = blocked_predicate(store)
        say(f"{market}: train foundation ({budgets.foundation_steps} steps)")
        foundation = train_foundation_step(store, bars, steps=budgets.foundation_steps,
                                           seed=seed, tensorboard_dir=None, blocked=blocked,
                                           device=settings.device)
        say(f"{market}: train dual ({budgets.dual_steps} steps)")
        dual = train_dual_step(store, bars, foundation, steps=budgets.dual_steps, seed=seed,
                               tensorboard_dir=None, blocked=blocked, device=settings.device)
        say(f"{market}: evaluate on the validation window and gate")
        say(f"{market}: CPCV of the recipe ({budgets.cpcv_foundation_steps} + "
            f"{budgets.cpcv_dual_steps} steps a split)")
        report = evaluate_step(store, bars, dual, seeds=budgets.evaluation_seeds,
                               cpcv=budgets.cpcv())
        gate = promotion_step(store, dual, report, limits)
    finally:
        bar_store.close()
    pnl = report.metrics("model", "1x").get("pnl_usd")
    return MarketVerdict(market, dual.model_id, foundation.model_id,
                         None if pnl is None else round(float(pnl), 2), gate.promoted,
                         tuple(c.to_dict() for c in gate.criteria), len(ingested.sessions),
                         ingested.blocked,
                         round(time.perf_counter() - started, 1))


@dataclass(frozen=True)
class IngestedMarket:
    """The sessions whose every symbol passed the quality checks (features stored), and the
    partitions the checks blocked, with why (their sessions are left out of the control)."""

    sessions: tuple[date, ...]
    blocked: tuple[str, ...]


def ingest_with_features(source: SimulatedSource, store: BarStore,
                         window: tuple[date, date], *,
                         great_expectations: bool = False) -> IngestedMarket:
    """Every (session, symbol) of ``window``: ingested with the quality checks of the
    ``market_data`` contract, then its features built and stored (as the ingest and
    ``features/feature_table`` assets do). A partition the checks block gets no features
    (``PartitionBlocked``, as in the asset graph) and its session is left out whole, so that
    the dual model's two symbols stay aligned; the blocked partitions are reported.
    ``great_expectations``: also run the contracts' Great Expectations engine (the same
    checks again, ~3 s a partition, ~4 minutes a market: off by default)."""
    sessions = sessions_in_range(*window)
    if not sessions:
        raise ValueError(f"positive control: no session between {window[0]} and {window[1]}")
    gate = QualityGate(known_symbols=tuple(DEFAULT_SYMBOLS), use_gx=great_expectations)
    kept, blocked = [], []
    for session in sessions:
        reasons = []
        for symbol in DEFAULT_SYMBOLS:
            ingest_partition(source, store, symbol, session, gate=gate)
            try:
                store_partition_features(store, session, symbol,
                                         partition_key_for(session, symbol),
                                         use_gx=great_expectations)
            except PartitionBlocked as exc:
                reasons.append(str(exc))
        blocked.extend(reasons)
        if not reasons:
            kept.append(session)
    return IngestedMarket(tuple(kept), tuple(blocked))


def usable_bars(store: BarStore, sessions: tuple[date, ...]) -> pd.DataFrame:
    """The stored NVDA + MSFT bars of ``sessions`` (the blocked sessions left out)."""
    bars = store.read(list(DEFAULT_SYMBOLS))
    days = bars["ts"].dt.tz_convert(NEW_YORK).dt.date
    return bars[days.isin(set(sessions))].reset_index(drop=True)


def blocked_predicate(store: ModelStore) -> BlockedPredicate:
    """(symbol, session) -> True when its bars failed a blocking quality check (as the
    Dagster model assets refuse them)."""

    def is_blocked(symbol: str, session: date) -> bool:
        return blocking_reason(store.engine, partition_key_for(session, symbol)) is not None

    return is_blocked

