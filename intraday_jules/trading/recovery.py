"""Before the first decision (and after every reconnect): agree with the broker, rebuild state.

A run may be the session's first, or a restart after a crash at any point. Either way:
1. Settle every order the ledger has not seen finish, asking the broker about each by its
   client order id: still working (track it), finished (record that), or never received
   (send it now if its decision is still fresh, else record it as expired: a stale decision
   is never traded late). An order the broker has but whose answer was never recorded (a
   crash between sending and recording) gets its SUBMITTED status now. Broker orders the
   ledger never recorded are bad input.
2. Record the broker's fills the ledger lacks (idempotent by ``exec_id``), then compare
   positions: a mismatch halts trading, recorded with the time it was found (the restart or
   reconnect) and both books. From then on the loop goes by the broker's positions (kept in
   ``SessionState.broker_positions``): HALTED flattens what the broker holds, never the
   ledger's view, so no order opens a short at the broker. The ledger is not edited: its
   fills stay what the broker reported, and the difference stays recorded in the mismatch
   event.
3. Rebuild the book from the ledger's fills up to the resume point (later fills are booked
   with the next minute, as an uninterrupted run would have), and the policy's state by
   replaying the stored minutes through it (warm-up), discarding its actions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from intraday_jules.domain.bars import BAR, Bar, frame_to_bars
from intraday_jules.domain.clock import Clock
from intraday_jules.domain.orders import Order, OrderStatus
from intraday_jules.domain.portfolio import Book, positions_from_fills
from intraday_jules.trading.book import price
from intraday_jules.trading.config import consults, minute_phase
from intraday_jules.trading.context import SessionParts
from intraday_jules.trading.execution import (
    drain_events,
    record_fill,
    record_submissions,
    submit_all,
    unknown_message,
)
from intraday_jules.trading.intake import Minute
from intraday_jules.trading.observe import SessionBars, observation
from intraday_jules.trading.state import SessionState, Working

WORKING_STATES = (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)


def recover(parts: SessionParts, state: SessionState, resume: datetime | None) -> None:
    """Everything a (re)started run does before its first minute; ``resume``: last decided."""
    state.restarted = resume is not None
    parts.policy.reset(parts.config.session)
    state.exec_ids = {fill.exec_id for fill in parts.ledger.fills()}
    state.broker_up = False
    restart_ts = resume + BAR if resume is not None else state.event_ts(parts.config)
    drain_events(parts, state, restart_ts)
    reconcile(parts, state, restart_ts, book_new_fills=False)
    minutes = load_minutes(parts, state.bars, resume)
    rebuild_book(parts, state, resume, minutes[-1] if minutes else None)
    warm_up(parts, state, minutes)


def found_at(clock: Clock, ts: datetime) -> datetime:
    """When a reconciliation happens: now (whole seconds), never before ``ts`` (the restart
    point of a replay, whose clock still stands at the session open)."""
    now = clock()
    return max(ts, now - timedelta(microseconds=now.microsecond))


def reconcile(parts: SessionParts, state: SessionState, ts: datetime, *,
              book_new_fills: bool) -> None:
    """Settle orders, record missing fills, compare positions (a mismatch halts).

    ``ts``: the earliest time to stamp what is found (the restart point, the last minute).
    """
    at = found_at(parts.clock, ts)
    settle_orders(parts, state, at)
    for fill in parts.broker.fills_since(parts.config.window.extended_open):
        recorded = record_fill(parts, state, fill, at)
        if recorded is not None and book_new_fills:
            state.deferred_fills.append(recorded)
    held = {s: int(q) for s, q in parts.broker.positions().items() if q}
    state.broker_positions = held
    result = parts.ledger.reconcile(held)
    if not result.matches:
        parts.log.error("reconciliation with broker %s failed at %s: %s; trading HALTED, "
                        "flattening what the broker holds (%s)", parts.broker.name,
                        at.isoformat(), result.describe(), held or "nothing")
    parts.risk.on_reconciliation(result, at)
    state.needs_reconcile = False


def settle_orders(parts: SessionParts, state: SessionState, ts: datetime) -> None:
    """Bring every unfinished ledger order in line with what the broker knows of it."""
    ledger, broker, session = parts.ledger, parts.broker, parts.config.session
    filled = ledger.filled_quantities()
    unanswered = {o.client_order_id: o for o in ledger.orders_without_status(session)}
    known = set()
    for order in ledger.pending_orders(session):
        cid = order.client_order_id
        known.add(cid)
        found = broker.order_state(cid)
        if found is None:
            _never_sent(parts, state, order)
            continue
        if cid in unanswered:
            _answer_learned(parts, cid, found)
        if found in WORKING_STATES:
            state.working[cid] = Working(order, filled.get(cid, 0))
        elif found in (OrderStatus.CANCELLED, OrderStatus.REJECTED) and (
                cid not in unanswered or found is OrderStatus.CANCELLED):
            ledger.record_order_status(cid, found, parts.clock(), "settled on reconcile")
            state.working.pop(cid, None)
    for cid in [c for c in unanswered if c not in known]:  # finished, its answer missing
        found = broker.order_state(cid)
        if found is not None:
            _answer_learned(parts, cid, found)
    for open_order in broker.open_orders():
        if open_order.client_order_id not in known and not ledger.order_exists(
                open_order.client_order_id):
            unknown_message(parts, state, f"broker works order {open_order.client_order_id} "
                            f"({open_order.side} {open_order.quantity} {open_order.symbol}), "
                            "which the ledger never recorded", ts, open_order.symbol)


def _answer_learned(parts: SessionParts, cid: str, found: OrderStatus) -> None:
    """The broker has ``cid`` but the ledger never recorded its answer (a crash between
    sending and recording): record it now, as the uninterrupted run would have."""
    status = OrderStatus.REJECTED if found is OrderStatus.REJECTED else OrderStatus.SUBMITTED
    parts.log.warning("order %s reached the broker before the restart but its answer was not "
                      "recorded: recording %s (broker says %s)", cid, status, found)
    parts.ledger.record_order_status(cid, status, parts.clock(), "learned from the broker on "
                                     "reconcile")


def _never_sent(parts: SessionParts, state: SessionState, order: Order) -> None:
    """Recorded, never received: send it if its decision is fresh, else expire it."""
    age = parts.clock() - (order.ts + BAR)
    if age <= parts.config.max_order_delay:
        parts.log.warning("order %s was recorded but never sent before the restart: sending "
                          "it now (%.1f s after its bar closed)", order.client_order_id,
                          age.total_seconds())
        record_submissions(parts, submit_all(parts, state, [order]))
        return
    reason = (f"expired: recorded but never sent before a restart, {age.total_seconds():.0f} "
              "s after its bar closed")
    parts.log.warning("order %s %s", order.client_order_id, reason)
    parts.ledger.record_order_status(order.client_order_id, OrderStatus.CANCELLED,
                                     parts.clock(), reason)


def load_minutes(parts: SessionParts, bars: SessionBars, resume: datetime | None) -> list[Minute]:
    """The stored bars up to ``resume`` into ``bars``; the complete minutes among them."""
    if resume is None:
        return []
    config = parts.config
    frame = parts.store.read(list(config.symbols), config.window.open, resume + BAR)
    frame = frame.sort_values(["ts", "symbol"], kind="stable")
    stored = frame_to_bars(frame.drop(columns=["source"], errors="ignore"))
    bars.extend(stored)
    by_minute: dict[datetime, dict[str, Bar]] = {}
    for bar in stored:
        by_minute.setdefault(bar.ts, {})[bar.symbol] = bar
    symbols = config.symbols
    return [Minute(ts, tuple(found[s] for s in symbols))
            for ts, found in sorted(by_minute.items()) if len(found) == len(symbols)]


def rebuild_book(parts: SessionParts, state: SessionState, resume: datetime | None,
                 last: Minute | None) -> None:
    """The book at the resume point, from the ledger (fills after it wait for the next minute)."""
    config, ledger = parts.config, parts.ledger
    fills = ledger.fills()
    cutoff = resume if resume is not None else config.window.open - BAR
    booked = [f for f in fills if f.ts <= cutoff]
    state.deferred_fills = [f for f in fills if f.ts > cutoff]
    before = [f for f in fills if f.ts < config.window.open]
    state.realized_base = sum(
        (p.net_realised_pnl for p in positions_from_fills(before).values()), Decimal(0))
    marks = {} if last is None else {bar.symbol: price(bar.close) for bar in last.bars}
    start = ledger.session_start_equity(config.session)
    state.book = Book.from_fills(booked, starting_cash=config.starting_cash, marks=marks,
                                 high_water_mark=ledger.high_water_mark(),
                                 session_start_equity=start, pending=state.pending())
    state.start_equity_known = start is not None


def _constant(value: bool) -> Callable[[], bool]:
    return lambda: value


def warm_up(parts: SessionParts, state: SessionState, minutes: list[Minute]) -> None:
    """Replay the stored minutes through the policy, so its state is the uninterrupted one's."""
    if not minutes:
        return
    config = parts.config
    fills = parts.ledger.fills()
    previous: datetime | None = None
    for done, minute in enumerate(minutes):
        matrix, warm = state.bars.features_at(minute.ts, config.feature_spec, config.symbols,
                                              f"warm-up {config.session}")
        phase = minute_phase(config, minute.ts, done, previous, _constant(warm))
        if consults(phase, warm):
            held = Book(config.starting_cash, positions_from_fills(
                f for f in fills if f.ts <= minute.ts))
            parts.policy.act(observation(config, minute, matrix, held, state.decisions,
                                         parts.rules.max_position_notional, row=done,
                                         warm=warm, replaying=True))
            state.decisions += 1
        previous = minute.ts
    state.minutes_done = state.warmup_minutes = len(minutes)
    state.last_minute = previous
    parts.log.info("warm-up: replayed %d stored minutes (%d policy steps) of session %s",
                   len(minutes), state.decisions, config.session)
