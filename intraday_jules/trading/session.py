"""``run_session``: one trading session, in-process, from the first bar to the report.

The Dagster job (one run per session, see docs/architecture.md) and ``intraday-jules trade`` both
call this function with their own feed, broker and policy; nothing here knows which. A run
that starts mid-session (a restart) resumes after the last minute the ledger has a decision
for: recovery rebuilds the book and the policy's state and settles open orders first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from intraday_jules.broker.base import Broker, ConnectionState
from intraday_jules.db import mask_url
from intraday_jules.domain.bars import BAR, Bar
from intraday_jules.domain.calendar import previous_session, session_window
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.ledger import Ledger, SessionPolicy
from intraday_jules.market_data.feed import BarFeed, FeedItem
from intraday_jules.market_data.store import BarStore
from intraday_jules.risk import RiskEngine, RiskEventKind
from intraday_jules.trading.config import SessionConfig
from intraday_jules.trading.context import (
    Log,
    MetricsSink,
    NoQualityGate,
    PushTarget,
    QualityGate,
    SessionParts,
)
from intraday_jules.trading.defence import last_line_of_defence
from intraday_jules.trading.execution import cancel_working, drain_events
from intraday_jules.trading.housekeeping import Housekeeping, paced_collector, sync_broker
from intraday_jules.trading.intake import BarIntake, Intake, Refused
from intraday_jules.trading.observe import SessionBars
from intraday_jules.trading.plausibility import PriceReferences, last_stored_closes
from intraday_jules.trading.policies import FailedPolicy, Policy
from intraday_jules.trading.publish import publish_book, publish_crash, push
from intraday_jules.trading.recovery import reconcile, recover
from intraday_jules.trading.result import SessionResult, held_at_end, session_result
from intraday_jules.trading.state import SessionState
from intraday_jules.trading.step import process_minute, store_bars

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Collaborators:
    """Optional parts of a session, with safe defaults (no quality gate, no push)."""

    gate: QualityGate = field(default_factory=NoQualityGate)
    push_url: str | None = None
    push_group: tuple[tuple[str, str], ...] = (("deployment", "local"),)
    report: bool = True


def run_session(config: SessionConfig, *, feed: BarFeed, broker: Broker, policy: Policy,
                ledger: Ledger, risk: RiskEngine, store: BarStore, metrics: MetricsSink,
                clock: Clock = system_clock, log: Log = log,
                extras: Collaborators | None = None) -> SessionResult:
    """Trade ``config.session`` on ``feed`` through ``broker``; returns what happened.

    Never raises for bad input (bad bars, absurd ticks, unknown broker messages, a failed
    model, risk denials): those are recorded in the ledger and move the risk state. A replay
    file that cannot be read raises before anything is done. Any other exception from
    recovery or the loop is a crash: the last line of defence (``defence.py``) flattens what
    the broker holds, latches HALTED (``LOOP_CRASHED``) and raises ``SessionCrashed``.
    """
    options = extras or Collaborators()
    parts = SessionParts(config, ledger, risk, broker, policy, store, metrics, clock, log,
                         options.gate, feed.name, config.rules(risk.limits.max_position_usd),
                         PushTarget(options.push_url, options.push_group))
    state = SessionState()
    metrics.set_broker_connected(broker.connect() is ConnectionState.CONNECTED)
    resume = last_decided(ledger, config.session)
    items = feed.bars(resume)
    try:
        trade(parts, state, items, resume)
    except Exception as exc:  # the last line of defence: flatten, halt, then fail
        crashed = last_line_of_defence(parts, state, exc)
        publish_crash(parts.metrics, parts.risk, parts.push, parts.log)
        raise crashed from exc
    return finish(parts, state, options.report)


def trade(parts: SessionParts, state: SessionState, items: Iterator[FeedItem],
          resume: datetime | None) -> None:
    """Recovery, then the loop over the feed until the session's last minute."""
    config, risk, policy = parts.config, parts.risk, parts.policy
    record_policy(parts)
    recover(parts, state, resume)
    if isinstance(policy, FailedPolicy):
        state.bad_inputs += 1
        risk.reduce(RiskEventKind.MODEL_LOAD_FAILED, policy.error, state.event_ts(config))
    parts.log.info("session %s: policy %s, broker %s, state %s, resuming after %s",
                   config.session, policy.name, parts.broker.name, risk.state, resume)
    intake = BarIntake(config, resume=resume,
                       references=price_references(parts.store, config, state.bars))
    housekeeping = Housekeeping(parts.ledger, parts.broker)
    with paced_collector():
        for item in items:
            if state.needs_reconcile:
                reconcile(parts, state, state.event_ts(config), book_new_fills=True)
            if item is None:
                if heartbeat(parts, state):
                    break
                continue
            if take(parts, state, intake.offer(item, parts.clock()), item, housekeeping):
                break


def record_policy(parts: SessionParts) -> None:
    """Which policy (model, seed, action mode) trades this run, for the shadow replay
    (``intraday-jules reconcile``); a restart appends another row."""
    policy = parts.policy
    model_id, seed, mode = (getattr(policy, "model_id", None), getattr(policy, "seed", None),
                            getattr(policy, "mode", None))
    parts.ledger.record_session_policy(SessionPolicy(
        parts.config.session, policy.name, None if model_id is None else str(model_id),
        None if seed is None else int(seed), None if mode is None else str(mode),
        parts.broker.name))


def price_references(store: BarStore, config: SessionConfig,
                     bars: SessionBars) -> PriceReferences:
    """The plausibility band's references: the previous session's last stored close, and
    (after a restart) the last stored close of this session."""
    previous = session_window(previous_session(config.session))
    before = last_stored_closes(store, config.symbols, previous.open, previous.close)
    frame = bars.frame()
    today = {str(s): float(c) for s, c in
             frame.sort_values("ts", kind="stable").groupby("symbol")["close"].last().items()}
    return PriceReferences.seeded(config.band, before, today)


def last_decided(ledger: Ledger, session: date) -> datetime | None:
    """The last minute the ledger has a decision for: a restart resumes after it."""
    decisions = ledger.decisions(session)
    return decisions[-1].ts if decisions else None


def take(parts: SessionParts, state: SessionState, outcome: Intake, bar: Bar,
         housekeeping: Housekeeping) -> bool:
    """Act on one bar's intake; True once the session's last minute is done. The deferred
    work (``housekeeping.py``) follows a minute's orders, never precedes them."""
    if outcome.refused is not None:
        bad_bar(parts, state, outcome.refused, bar)
        return False
    if outcome.notice is not None:
        parts.log.warning("plausibility band: %s", outcome.notice)
    if outcome.abandoned:
        parts.log.warning("minute %s abandoned: not every symbol's bar arrived",
                          outcome.abandoned[0].ts)
        store_bars(parts, outcome.abandoned)
        state.bars.extend(outcome.abandoned)
    if outcome.minute is None:
        return False
    state.stale = False
    process_minute(parts, state, outcome.minute)
    housekeeping.after_minute()
    return outcome.minute.close_time >= parts.config.window.close


def bad_bar(parts: SessionParts, state: SessionState, refused: Refused, bar: Bar) -> None:
    """Recorded (symbol, bar ts, field, value), logged, never used; trading goes to REDUCING."""
    state.bad_inputs += 1
    parts.log.error("bad bar refused: %s; trading goes to REDUCING", refused.reason)
    parts.risk.reduce(RiskEventKind.BAD_BAR, refused.reason, state.event_ts(parts.config),
                      bar.symbol, refused.detail())


def heartbeat(parts: SessionParts, state: SessionState) -> bool:
    """No bar yet: notice stale data (once per silence); True once the session is over."""
    config = parts.config
    now = parts.clock()
    window = config.window
    newest = state.last_minute + BAR if state.last_minute is not None else window.open
    silent = now - newest
    if window.open <= now < window.close and silent > config.max_bar_delay and not state.stale:
        state.stale = True
        reason = (f"no complete minute for {silent.total_seconds():.0f} s (newest closed "
                  f"{newest.isoformat()}); limit {config.max_bar_delay.total_seconds():.0f} s")
        parts.log.error("stale data: %s; trading goes to REDUCING", reason)
        parts.risk.reduce(RiskEventKind.STALE_DATA, reason, state.event_ts(config))
    return now >= window.close + config.max_bar_delay


def finish(parts: SessionParts, state: SessionState, with_report: bool) -> SessionResult:
    """Session over: cancel what still works, record late events, report."""
    config, log = parts.config, parts.log
    drain_events(parts, state, state.event_ts(config))
    if state.working:
        cancel_working(parts, state, "session ended", policy_only=False)
    open_positions = held_at_end(parts, state)  # the broker's (really held), else the book's
    reached_flatten = state.last_minute is not None and (
        state.last_minute + BAR >= config.flatten_at)
    if open_positions and reached_flatten:
        log.error("session %s ends with open positions %s: the flatten did not complete",
                  config.session, open_positions)
    elif open_positions:
        log.warning("the feed of session %s ended at %s, before the flatten at %s; open "
                    "positions %s", config.session, state.last_minute, config.flatten_at,
                    open_positions)
    sync_broker(parts.broker)
    publish_book(parts.metrics, parts.risk, state.book, state.realized_base)
    push(parts.metrics, parts.push)
    result = session_result(parts, state, mask_url(parts.ledger.engine.url), with_report)
    log.info("session %s done: %s", config.session, result.summary_line())
    return result
