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
   ``ctx.broker_positions``): HALTED flattens what the broker holds, never the ledger's view,
   so no order opens a short at the broker. The ledger is not edited: its fills stay what the
   broker reported, and the difference stays recorded in the mismatch event.
3. Rebuild the book from the ledger's fills up to the resume point (later fills are booked
   with the next minute, as an uninterrupted run would have), and the policy's state by
   replaying the stored minutes through it (warm-up), discarding its actions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from intraday_jules.domain.bars import BAR, Bar, frame_to_bars
from intraday_jules.domain.orders import Order, OrderStatus
from intraday_jules.domain.portfolio import Book, positions_from_fills
from intraday_jules.trading.book import price
from intraday_jules.trading.config import consults, minute_phase
from intraday_jules.trading.context import SessionContext, Working
from intraday_jules.trading.execution import (
    drain_events,
    record_fill,
    record_submissions,
    submit_all,
    unknown_message,
)
from intraday_jules.trading.intake import Minute
from intraday_jules.trading.observe import FeatureRows, observation

WORKING_STATES = (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)


def recover(ctx: SessionContext, resume: datetime | None) -> None:
    """Everything a (re)started run does before its first minute; ``resume``: last decided."""
    ctx.restarted = resume is not None
    ctx.policy.reset(ctx.config.session)
    ctx.exec_ids = {fill.exec_id for fill in ctx.ledger.fills()}
    ctx.broker_up = False
    restart_ts = resume + BAR if resume is not None else ctx.state_ts()
    drain_events(ctx, restart_ts)
    reconcile(ctx, restart_ts, book_new_fills=False)
    minutes = load_minutes(ctx, resume)
    rebuild_book(ctx, resume, minutes[-1] if minutes else None)
    warm_up(ctx, minutes)


def found_at(ctx: SessionContext, ts: datetime) -> datetime:
    """When a reconciliation happens: now (whole seconds), never before ``ts`` (the restart
    point of a replay, whose clock still stands at the session open)."""
    now = ctx.clock()
    return max(ts, now - timedelta(microseconds=now.microsecond))


def reconcile(ctx: SessionContext, ts: datetime, *, book_new_fills: bool) -> None:
    """Settle orders, record missing fills, compare positions (a mismatch halts).

    ``ts``: the earliest time to stamp what is found (the restart point, the last minute).
    """
    at = found_at(ctx, ts)
    settle_orders(ctx, at)
    for fill in ctx.broker.fills_since(ctx.config.window.extended_open):
        recorded = record_fill(ctx, fill, at)
        if recorded is not None and book_new_fills:
            ctx.deferred_fills.append(recorded)
    held = {s: int(q) for s, q in ctx.broker.positions().items() if q}
    ctx.broker_positions = held
    result = ctx.ledger.reconcile(held)
    if not result.matches:
        ctx.log.error("reconciliation with broker %s failed at %s: %s; trading HALTED, "
                      "flattening what the broker holds (%s)", ctx.broker.name,
                      at.isoformat(), result.describe(), held or "nothing")
    ctx.risk.on_reconciliation(result, at)
    ctx.needs_reconcile = False


def settle_orders(ctx: SessionContext, ts: datetime) -> None:
    """Bring every unfinished ledger order in line with what the broker knows of it."""
    filled = ctx.ledger.filled_quantities()
    unanswered = {o.client_order_id: o for o in ctx.ledger.orders_without_status(
        ctx.config.session)}
    known = set()
    for order in ctx.ledger.pending_orders(ctx.config.session):
        cid = order.client_order_id
        known.add(cid)
        state = ctx.broker.order_state(cid)
        if state is None:
            _never_sent(ctx, order)
            continue
        if cid in unanswered:
            _answer_learned(ctx, cid, state)
        if state in WORKING_STATES:
            ctx.working[cid] = Working(order, filled.get(cid, 0))
        elif state in (OrderStatus.CANCELLED, OrderStatus.REJECTED) and (
                cid not in unanswered or state is OrderStatus.CANCELLED):
            ctx.ledger.record_order_status(cid, state, ctx.clock(), "settled on reconcile")
            ctx.working.pop(cid, None)
    for cid in [c for c in unanswered if c not in known]:  # finished, its answer missing
        state = ctx.broker.order_state(cid)
        if state is not None:
            _answer_learned(ctx, cid, state)
    for open_order in ctx.broker.open_orders():
        if open_order.client_order_id not in known and not ctx.ledger.order_exists(
                open_order.client_order_id):
            unknown_message(ctx, f"broker works order {open_order.client_order_id} "
                            f"({open_order.side} {open_order.quantity} {open_order.symbol}), "
                            "which the ledger never recorded", ts, open_order.symbol)


def _answer_learned(ctx: SessionContext, cid: str, state: OrderStatus) -> None:
    """The broker has ``cid`` but the ledger never recorded its answer (a crash between
    sending and recording): record it now, as the uninterrupted run would have."""
    status = OrderStatus.REJECTED if state is OrderStatus.REJECTED else OrderStatus.SUBMITTED
    ctx.log.warning("order %s reached the broker before the restart but its answer was not "
                    "recorded: recording %s (broker says %s)", cid, status, state)
    ctx.ledger.record_order_status(cid, status, ctx.clock(), "learned from the broker on "
                                   "reconcile")


def _never_sent(ctx: SessionContext, order: Order) -> None:
    """Recorded, never received: send it if its decision is fresh, else expire it."""
    age = ctx.clock() - (order.ts + BAR)
    if age <= ctx.config.max_order_delay:
        ctx.log.warning("order %s was recorded but never sent before the restart: sending "
                        "it now (%.1f s after its bar closed)", order.client_order_id,
                        age.total_seconds())
        record_submissions(ctx, submit_all(ctx, [order]))
        return
    reason = (f"expired: recorded but never sent before a restart, {age.total_seconds():.0f} "
              "s after its bar closed")
    ctx.log.warning("order %s %s", order.client_order_id, reason)
    ctx.ledger.record_order_status(order.client_order_id, OrderStatus.CANCELLED, ctx.clock(),
                                   reason)


def load_minutes(ctx: SessionContext, resume: datetime | None) -> list[Minute]:
    """The stored bars up to ``resume`` into ``ctx.bars``; the complete minutes among them."""
    if resume is None:
        return []
    window = ctx.config.window
    frame = ctx.store.read(list(ctx.config.symbols), window.open, resume + BAR)
    frame = frame.sort_values(["ts", "symbol"], kind="stable")
    bars = frame_to_bars(frame.drop(columns=["source"], errors="ignore"))
    ctx.bars.extend(bars)
    by_minute: dict[datetime, dict[str, Bar]] = {}
    for bar in bars:
        by_minute.setdefault(bar.ts, {})[bar.symbol] = bar
    symbols = ctx.config.symbols
    return [Minute(ts, tuple(found[s] for s in symbols))
            for ts, found in sorted(by_minute.items()) if len(found) == len(symbols)]


def rebuild_book(ctx: SessionContext, resume: datetime | None, last: Minute | None) -> None:
    """The book at the resume point, from the ledger (fills after it wait for the next minute)."""
    config = ctx.config
    fills = ctx.ledger.fills()
    cutoff = resume if resume is not None else config.window.open - BAR
    booked = [f for f in fills if f.ts <= cutoff]
    ctx.deferred_fills = [f for f in fills if f.ts > cutoff]
    before = [f for f in fills if f.ts < config.window.open]
    ctx.realized_base = sum((p.net_realised_pnl for p in positions_from_fills(before).values()),
                            Decimal(0))
    marks = {} if last is None else {bar.symbol: price(bar.close) for bar in last.bars}
    start = ctx.ledger.session_start_equity(config.session)
    ctx.book = Book.from_fills(booked, starting_cash=config.starting_cash, marks=marks,
                               high_water_mark=ctx.ledger.high_water_mark(),
                               session_start_equity=start, pending=ctx.pending())
    ctx.start_equity_known = start is not None


def _constant(value: bool) -> Callable[[], bool]:
    return lambda: value


def warm_up(ctx: SessionContext, minutes: list[Minute]) -> None:
    """Replay the stored minutes through the policy, so its state is the uninterrupted one's."""
    if not minutes:
        return
    config = ctx.config
    features = FeatureRows.build(ctx.bars, config.feature_spec, f"warm-up {config.session}")
    fills = ctx.ledger.fills()
    previous: datetime | None = None
    for done, minute in enumerate(minutes):
        matrix, warm = features.at(minute.ts, config.symbols)
        phase = minute_phase(config, minute.ts, done, previous, _constant(warm))
        if consults(phase, warm):
            held = Book(config.starting_cash, positions_from_fills(
                f for f in fills if f.ts <= minute.ts))
            ctx.policy.act(observation(config, minute, matrix, held, ctx.decisions,
                                       ctx.rules.max_position_notional, ctx.bars,
                                       replaying=True))
            ctx.decisions += 1
        previous = minute.ts
    ctx.minutes_done = ctx.warmup_minutes = len(minutes)
    ctx.last_minute = previous
    ctx.log.info("warm-up: replayed %d stored minutes (%d policy steps) of session %s",
                 len(minutes), ctx.decisions, config.session)
