"""One complete minute of the loop: store -> fills -> book -> risk -> features -> policy ->
intents -> risk verdicts -> decision -> orders -> broker -> metrics.

The decision row and every order of the minute are written in one transaction, before any
order is sent, so a crash at any point leaves the ledger describing a prefix of what happened
with no decision missing its orders; recovery (``recovery.py``) settles the rest (orders never
sent, answers never recorded). Decision latency is bar close -> last order handed to the
broker (or the decision recorded, when nothing is sent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from intraday_jules.broker.base import MarketDrivenBroker
from intraday_jules.domain.bars import Bar
from intraday_jules.domain.orders import OrderIntent
from intraday_jules.domain.portfolio import Book
from intraday_jules.env.actions import ACTION_NAMES, HOLD
from intraday_jules.ledger import DecisionRecord
from intraday_jules.market_data.feed import bar_source
from intraday_jules.risk import Approved, RiskEventKind, TradingState, Verdict
from intraday_jules.trading.bar_writer import write_bars
from intraday_jules.trading.book import advance_book, describe_actions, policy_intents, price
from intraday_jules.trading.config import (
    Phase,
    SessionConfig,
    consults,
    minute_phase,
    needs_features,
)
from intraday_jules.trading.context import SessionParts
from intraday_jules.trading.execution import (
    cancel_working,
    drain_events,
    record_decision,
    record_deferred_fills,
    record_submissions,
    submit_all,
)
from intraday_jules.trading.intake import Minute
from intraday_jules.trading.observe import SessionBars, observation
from intraday_jules.trading.policies import Actions
from intraday_jules.trading.publish import publish_minute
from intraday_jules.trading.state import SessionState


@dataclass(frozen=True, slots=True)
class Decision:
    """What the loop decided on a minute (for the ledger's decision row)."""

    phase: Phase
    actions: Actions | None
    intents: tuple[OrderIntent, ...]
    verdicts: tuple[Verdict, ...]


def process_minute(parts: SessionParts, state: SessionState, minute: Minute) -> None:
    """Run the whole pipeline for one complete minute."""
    risk = parts.risk
    store_minute(parts, state.bars, minute)
    settle_market(parts, state, minute)
    phase, rows = classify(parts.config, state, minute)
    actions = consult_policy(parts, state, minute, phase, rows)
    flatten = flattening(parts, state, phase)
    intents = choose_intents(parts, state, minute, phase, actions, flatten=flatten)
    verdicts = tuple(risk.evaluate(intent, state.book, state.broker_positions)
                     for intent in intents)
    decision = Decision(phase, actions, tuple(intents), verdicts)
    record = DecisionRecord(minute.ts, _label(parts.config, decision), state.book.equity,
                            _detail(parts, state.book, decision, failover_sources(parts, minute)))
    results = submit_all(parts, state, record_decision(parts, record, verdicts))
    latency = (parts.clock() - minute.close_time).total_seconds()
    record_deferred_fills(parts, state)
    record_submissions(parts, results)
    state.book = replace(state.book, pending=state.pending())
    state.minutes_done += 1
    state.last_minute = minute.ts
    if actions is not None or results:
        state.latencies_ms.append(latency * 1000.0)
        parts.metrics.record_decision_latency(latency)
    publish_minute(parts, state, actions)


def store_minute(parts: SessionParts, bars: SessionBars, minute: Minute) -> None:
    """Persist the bars first: a restart rebuilds features and policy state from them."""
    store_bars(parts, minute.bars)
    bars.extend(minute.bars)
    for bar in minute.bars:
        parts.metrics.observe_bar(bar.symbol, bar_source(bar, parts.source), bar.ts)


def store_bars(parts: SessionParts, bars: Sequence[Bar]) -> None:
    """Upsert ``bars``, each with the source that produced it (the feed's, or a failover's)."""
    by_source: dict[str, list[Bar]] = {}
    for bar in bars:
        by_source.setdefault(bar_source(bar, parts.source), []).append(bar)
    for source, produced in by_source.items():
        write_bars(parts.store, produced, source)


def failover_sources(parts: SessionParts, minute: Minute) -> dict[str, str] | None:
    """Each symbol's source when any bar of ``minute`` came from a source other than the
    feed's (a failover), else None: the decision detail's ``bar_sources``."""
    sources = {bar.symbol: bar_source(bar, parts.source) for bar in minute.bars}
    return sources if any(s != parts.source for s in sources.values()) else None


def settle_market(parts: SessionParts, state: SessionState, minute: Minute) -> None:
    """Fills at this minute's open, marks at its close, then the loss limits."""
    broker, risk = parts.broker, parts.risk
    if isinstance(broker, MarketDrivenBroker):
        for bar in minute.bars:
            broker.on_bar(bar)
    fills = [*state.deferred_fills, *drain_events(parts, state, minute.ts, defer_fills=True)]
    state.deferred_fills = []
    marks = {bar.symbol: price(bar.close) for bar in minute.bars}
    state.book = advance_book(state.book, fills, marks, state.pending())
    if not state.start_equity_known:
        state.book = replace(state.book, session_start_equity=state.book.equity)
        state.start_equity_known = True
    risk.refresh()
    risk.check(state.book, minute.ts)
    failure = parts.gate.blocking_failure(minute)
    if failure is not None:
        parts.log.error("blocking data-quality check failed at %s: %s", minute.ts, failure)
        risk.reduce(RiskEventKind.DATA_QUALITY_FAILED, failure, minute.ts)


Rows = tuple[np.ndarray, bool]


def classify(config: SessionConfig, state: SessionState,
             minute: Minute) -> tuple[Phase, Rows | None]:
    """The minute's phase and raw feature rows (looked up only when a decision may need them;
    the session's streaming feature state steps each bar once)."""
    if not needs_features(config, minute.ts, state.minutes_done):
        return Phase.WARMUP, None
    matrix, warm = state.bars.features_at(minute.ts, config.feature_spec, config.symbols,
                                          f"trading session {config.session}")
    phase = minute_phase(config, minute.ts, state.minutes_done, state.last_minute,
                         lambda: warm)
    return phase, (matrix, warm)


def consult_policy(parts: SessionParts, state: SessionState, minute: Minute, phase: Phase,
                   rows: Rows | None) -> Actions | None:
    """The policy's actions (DECIDE, and FLATTEN once warm, so its state sees every bar)."""
    if rows is None or not consults(phase, rows[1]):
        return None
    config, policy = parts.config, parts.policy
    matrix, warm = rows
    obs = observation(config, minute, matrix, state.book, state.decisions,
                      parts.rules.max_position_notional, row=state.minutes_done, warm=warm)
    state.decisions += 1
    try:
        actions = tuple(int(a) for a in policy.act(obs))
        if len(actions) != len(config.symbols) or any(a not in (0, 1, 2) for a in actions):
            raise ValueError(f"expected one action in 0..2 per symbol, got {actions}")
    except Exception as exc:  # a broken model is bad input, never an order
        reason = f"policy {policy.name} failed at {minute.ts.isoformat()}: {exc}"
        parts.log.error("%s; holding, trading goes to REDUCING", reason)
        state.bad_inputs += 1
        parts.risk.reduce(RiskEventKind.MODEL_LOAD_FAILED, reason, minute.ts)
        return (HOLD,) * len(config.symbols)
    return actions


def flattening(parts: SessionParts, state: SessionState, phase: Phase) -> bool:
    """Whether this minute flattens (the close, HALTED); if so the policy's working orders
    are cancelled first, so the flatten sizes on what is held and still owed."""
    halted = parts.risk.state is TradingState.HALTED
    flatten = halted or phase in (Phase.FLATTEN, Phase.CLOSED)
    if flatten and state.working:
        why = "trading HALTED" if halted else "session flatten before the close"
        cancel_working(parts, state, why, policy_only=True)
        state.book = replace(state.book, pending=state.pending())
    return flatten


def choose_intents(parts: SessionParts, state: SessionState, minute: Minute, phase: Phase,
                   actions: Actions | None, *, flatten: bool) -> list[OrderIntent]:
    """Policy intents, or the engine's flattening ones (close, HALTED), leftovers included.

    Reads the state, changes nothing. Flattening closes what the broker holds when the loop
    knows it, never the ledger's view: after a reconciliation mismatch the two differ, and
    selling the ledger's shares would open shorts at the broker."""
    intents: list[OrderIntent] = []
    if flatten:
        intents = [i for i in parts.risk.flatten_orders(state.book, minute.ts,
                                                        state.broker_positions)
                   if state.exposure(i.symbol) != 0]
    if actions is not None and phase is Phase.DECIDE:
        intents += policy_intents(actions, minute, state.book, parts.rules)
    return intents


def _label(config: SessionConfig, decision: Decision) -> str:
    if decision.phase is Phase.DECIDE and decision.actions is not None:
        return describe_actions(config.symbols, decision.actions)
    return decision.phase.value


def _detail(parts: SessionParts, book: Book, decision: Decision,
            bar_sources: dict[str, str] | None = None) -> dict[str, Any]:
    """Deterministic JSON (no wall-clock values), so replays give identical ledgers.

    ``bar_sources`` (symbol -> source) is present only on a minute taken at least partly
    from a failover source, which marks the decisions made on failover bars."""
    risk = parts.risk
    actions = None if decision.actions is None else {
        s: ACTION_NAMES[a] for s, a in zip(parts.config.symbols, decision.actions, strict=True)}
    detail = {"phase": decision.phase.value, "state": risk.state.value, "actions": actions,
              "intents": [{"symbol": i.symbol, "side": i.side.value, "quantity": i.quantity,
                           "origin": i.origin.value} for i in decision.intents],
              "verdicts": [_verdict(v) for v in decision.verdicts],
              # the marks the minute's equity and intents used (never a refused bar's), and
              # the limits in force (``intraday-jules risk status`` shows the last session's)
              "marks": {s: str(m) for s, m in sorted(book.marks.items())},
              "limits": risk.limits.describe()}
    if bar_sources is not None:
        detail["bar_sources"] = bar_sources
    return detail


def _verdict(verdict: Verdict) -> dict[str, Any]:
    if isinstance(verdict, Approved):
        return {"symbol": verdict.intent.symbol, "approved": verdict.intent.quantity}
    return {"symbol": verdict.intent.symbol, "denied": verdict.reason}
