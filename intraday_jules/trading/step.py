"""One complete minute of the loop: store -> fills -> book -> risk -> features -> policy ->
intents -> risk verdicts -> decision -> orders -> broker -> metrics.

The decision row and every order of the minute are written in one transaction, before any
order is sent, so a crash at any point leaves the ledger describing a prefix of what happened
with no decision missing its orders; recovery (``recovery.py``) settles the rest (orders never
sent, answers never recorded). Decision latency is bar close -> last order handed to the
broker (or the decision recorded, when nothing is sent).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from intraday_jules.broker.base import MarketDrivenBroker
from intraday_jules.domain.orders import OrderIntent
from intraday_jules.env.actions import ACTION_NAMES, HOLD
from intraday_jules.ledger import DecisionRecord
from intraday_jules.risk import Approved, RiskEventKind, TradingState, Verdict
from intraday_jules.trading.bar_writer import write_bars
from intraday_jules.trading.book import advance_book, describe_actions, policy_intents, price
from intraday_jules.trading.config import Phase, consults, minute_phase, needs_features
from intraday_jules.trading.context import SessionContext
from intraday_jules.trading.execution import (
    cancel_working,
    drain_events,
    record_decision,
    record_submissions,
    submit_all,
)
from intraday_jules.trading.intake import Minute
from intraday_jules.trading.observe import FeatureRows, observation
from intraday_jules.trading.policies import Actions
from intraday_jules.trading.publish import publish_minute


@dataclass(frozen=True, slots=True)
class Decision:
    """What the loop decided on a minute (for the ledger's decision row)."""

    phase: Phase
    actions: Actions | None
    intents: tuple[OrderIntent, ...]
    verdicts: tuple[Verdict, ...]


def process_minute(ctx: SessionContext, minute: Minute) -> None:
    """Run the whole pipeline for one complete minute."""
    store_minute(ctx, minute)
    settle_market(ctx, minute)
    phase, rows = classify(ctx, minute)
    actions = consult_policy(ctx, minute, phase, rows)
    intents = choose_intents(ctx, minute, phase, actions)
    verdicts = tuple(ctx.risk.evaluate(intent, ctx.book, ctx.broker_positions)
                     for intent in intents)
    decision = Decision(phase, actions, tuple(intents), verdicts)
    record = DecisionRecord(minute.ts, _label(ctx, decision), ctx.book.equity,
                            _detail(ctx, decision))
    results = submit_all(ctx, record_decision(ctx, record, verdicts))
    latency = (ctx.clock() - minute.close_time).total_seconds()
    record_submissions(ctx, results)
    ctx.book = replace(ctx.book, pending=ctx.pending())
    ctx.minutes_done += 1
    ctx.last_minute = minute.ts
    if actions is not None or results:
        ctx.latencies_ms.append(latency * 1000.0)
        ctx.metrics.record_decision_latency(latency)
    publish_minute(ctx, minute, actions)


def store_minute(ctx: SessionContext, minute: Minute) -> None:
    """Persist the bars first: a restart rebuilds features and policy state from them."""
    write_bars(ctx.store, minute.bars, ctx.source)
    ctx.bars.extend(minute.bars)
    for bar in minute.bars:
        ctx.metrics.observe_bar(bar.symbol, ctx.source, bar.ts)


def settle_market(ctx: SessionContext, minute: Minute) -> None:
    """Fills at this minute's open, marks at its close, then the loss limits."""
    if isinstance(ctx.broker, MarketDrivenBroker):
        for bar in minute.bars:
            ctx.broker.on_bar(bar)
    fills = [*ctx.deferred_fills, *drain_events(ctx, minute.ts)]
    ctx.deferred_fills = []
    marks = {bar.symbol: price(bar.close) for bar in minute.bars}
    ctx.book = advance_book(ctx.book, fills, marks, ctx.pending())
    if not ctx.start_equity_known:
        ctx.book = replace(ctx.book, session_start_equity=ctx.book.equity)
        ctx.start_equity_known = True
    ctx.risk.refresh()
    ctx.risk.check(ctx.book, minute.ts)
    failure = ctx.gate.blocking_failure(minute)
    if failure is not None:
        ctx.log.error("blocking data-quality check failed at %s: %s", minute.ts, failure)
        ctx.risk.reduce(RiskEventKind.DATA_QUALITY_FAILED, failure, minute.ts)


Rows = tuple[np.ndarray, bool]


def classify(ctx: SessionContext, minute: Minute) -> tuple[Phase, Rows | None]:
    """The minute's phase and feature rows (built only when a decision may need them)."""
    config = ctx.config
    if not needs_features(config, minute.ts, ctx.minutes_done):
        return Phase.WARMUP, None
    features = FeatureRows.build(ctx.bars, config.feature_spec,
                                 f"trading session {config.session}")
    matrix, warm = features.at(minute.ts, config.symbols)
    phase = minute_phase(config, minute.ts, ctx.minutes_done, ctx.last_minute, lambda: warm)
    return phase, (matrix, warm)


def consult_policy(ctx: SessionContext, minute: Minute, phase: Phase,
                   rows: Rows | None) -> Actions | None:
    """The policy's actions (DECIDE, and FLATTEN once warm, so its state sees every bar)."""
    if rows is None or not consults(phase, rows[1]):
        return None
    matrix = rows[0]
    obs = observation(ctx.config, minute, matrix, ctx.book, ctx.decisions,
                      ctx.rules.max_position_notional, ctx.bars)
    ctx.decisions += 1
    try:
        actions = tuple(int(a) for a in ctx.policy.act(obs))
        if len(actions) != len(ctx.config.symbols) or any(a not in (0, 1, 2) for a in actions):
            raise ValueError(f"expected one action in 0..2 per symbol, got {actions}")
    except Exception as exc:  # a broken model is bad input, never an order
        reason = f"policy {ctx.policy.name} failed at {minute.ts.isoformat()}: {exc}"
        ctx.log.error("%s; holding, trading goes to REDUCING", reason)
        ctx.bad_inputs += 1
        ctx.risk.reduce(RiskEventKind.MODEL_LOAD_FAILED, reason, minute.ts)
        return (HOLD,) * len(ctx.config.symbols)
    return actions


def choose_intents(ctx: SessionContext, minute: Minute, phase: Phase,
                   actions: Actions | None) -> list[OrderIntent]:
    """Policy intents, or the engine's flattening ones (close, HALTED), leftovers included.

    Flattening closes what the broker holds when the loop knows it, never the ledger's view:
    after a reconciliation mismatch the two differ, and selling the ledger's shares would
    open shorts at the broker."""
    halted = ctx.risk.state is TradingState.HALTED
    flatten = halted or phase in (Phase.FLATTEN, Phase.CLOSED)
    if flatten and ctx.working:
        why = "trading HALTED" if halted else "session flatten before the close"
        cancel_working(ctx, why, policy_only=True)
        ctx.book = replace(ctx.book, pending=ctx.pending())
    intents: list[OrderIntent] = []
    if flatten:
        intents = [i for i in ctx.risk.flatten_orders(ctx.book, minute.ts, ctx.broker_positions)
                   if ctx.exposure(i.symbol) != 0]
    if actions is not None and phase is Phase.DECIDE:
        intents += policy_intents(actions, minute, ctx.book, ctx.rules)
    return intents


def _label(ctx: SessionContext, decision: Decision) -> str:
    if decision.phase is Phase.DECIDE and decision.actions is not None:
        return describe_actions(ctx.config.symbols, decision.actions)
    return decision.phase.value


def _detail(ctx: SessionContext, decision: Decision) -> dict[str, Any]:
    """Deterministic JSON (no wall-clock values), so replays give identical ledgers."""
    actions = None if decision.actions is None else {
        s: ACTION_NAMES[a] for s, a in zip(ctx.config.symbols, decision.actions, strict=True)}
    return {"phase": decision.phase.value, "state": ctx.risk.state.value, "actions": actions,
            "intents": [{"symbol": i.symbol, "side": i.side.value, "quantity": i.quantity,
                         "origin": i.origin.value} for i in decision.intents],
            "verdicts": [_verdict(v) for v in decision.verdicts],
            # the marks the minute's equity and intents used (never a refused bar's), and the
            # limits in force (``intraday-jules risk status`` shows the last session's)
            "marks": {s: str(m) for s, m in sorted(ctx.book.marks.items())},
            "limits": ctx.risk.limits.describe()}


def _verdict(verdict: Verdict) -> dict[str, Any]:
    if isinstance(verdict, Approved):
        return {"symbol": verdict.intent.symbol, "approved": verdict.intent.quantity}
    return {"symbol": verdict.intent.symbol, "denied": verdict.reason}

