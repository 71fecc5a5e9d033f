"""Orders out, broker events in: always through the ledger, in a crash-safe order.

Out: every approved order of a minute is recorded in the ledger first, in the same
transaction as the minute's decision (its deterministic id makes that idempotent), and only
then sent; the broker's answers are recorded together afterwards. A restart that finds the id
recorded never sends it again; one recorded but never sent, or sent without its answer
recorded, is settled by recovery (which asks the broker by client order id). Broker refusals
are recorded as order statuses, never raised.

In: a fill is recorded once (by ``exec_id``). On the decision-latency path (the fills at a
minute's open, ``drain_events(..., defer_fills=True)``) a fill that provably fits an order this
run sent (working, same symbol and side, no overfill, new exec id, exact money) is booked at
once and written to the ledger right after the minute's orders are handed over
(``record_deferred_fills``); a crash in between loses nothing, the broker has the fill and the
restart records it (``recovery.reconcile``). Every other fill is recorded before it touches
the book, and the ledger judges it: a fill or status for an order the ledger never recorded,
or one contradicting it, is bad input: recorded as UNKNOWN_BROKER_MESSAGE, trading goes to
REDUCING, and the book ignores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from intraday_jules.broker.base import (
    BrokerError,
    BrokerEvent,
    CancelRejected,
    ConnectionChanged,
    ConnectionState,
    FillReport,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    SubmitResult,
)
from intraday_jules.domain.orders import Fill, IntentOrigin, Order, OrderStatus
from intraday_jules.ledger import DecisionRecord, LedgerError
from intraday_jules.ledger.schema import check_money
from intraday_jules.risk import Approved, RiskEventKind, Verdict
from intraday_jules.trading.context import SessionParts
from intraday_jules.trading.state import SessionState, Working


def approved_orders(parts: SessionParts, verdicts: Sequence[Verdict]) -> list[Order]:
    """The orders of the approved verdicts (the ledger skips any it has already)."""
    return [Order.from_intent(v.intent, parts.config.session) for v in verdicts
            if isinstance(v, Approved)]


def record_decision(parts: SessionParts, decision: DecisionRecord,
                    verdicts: Sequence[Verdict]) -> list[Order]:
    """Record the decision and its new orders in one transaction; return the orders to send.

    An order whose id the ledger already holds (a restart re-deciding a minute) is not
    written again and never sent again; the insert itself tells, no query before it."""
    candidates = approved_orders(parts, verdicts)
    written = parts.ledger.record_decision_with_orders(decision, candidates)
    if len(written) != len(candidates):
        fresh = {o.client_order_id for o in written}
        for order in candidates:
            if order.client_order_id not in fresh:
                parts.log.warning("order %s is already in the ledger: not sent again",
                                  order.client_order_id)
    return written


def submit_all(parts: SessionParts, state: SessionState,
               orders: Sequence[Order]) -> list[SubmitResult]:
    """Send recorded orders; a broker that cannot answer leaves them PENDING for recovery."""
    results: list[SubmitResult] = []
    for order in orders:
        try:
            result = parts.broker.submit(order)
        except BrokerError as exc:
            parts.log.error("order %s not sent: %s (left pending; reconciled on reconnect)",
                            order.client_order_id, exc)
            continue
        if isinstance(result, OrderAccepted):
            state.working[order.client_order_id] = Working(order)
        results.append(result)
    return results


def record_submissions(parts: SessionParts, results: Sequence[SubmitResult]) -> None:
    """What the broker answered, as order statuses in one transaction (after the
    latency-critical part)."""
    statuses = []
    for result in results:
        if isinstance(result, OrderAccepted):
            statuses.append((result.client_order_id, OrderStatus.SUBMITTED, result.ts,
                             "duplicate" if result.duplicate else ""))
        else:
            parts.log.warning("broker rejected %s: %s", result.client_order_id, result.reason)
            statuses.append((result.client_order_id, OrderStatus.REJECTED, result.ts,
                             result.reason))
    parts.ledger.record_order_statuses(statuses)


def cancel_working(parts: SessionParts, state: SessionState, reason: str, *,
                   policy_only: bool) -> None:
    """Cancel working orders (all, or only the policy's): HALTED and the flatten allow this."""
    for cid, working in list(state.working.items()):
        if policy_only and working.order.origin is not IntentOrigin.POLICY:
            continue
        try:
            result = parts.broker.cancel(cid)
        except BrokerError as exc:
            parts.log.error("cancel of %s failed: %s", cid, exc)
            continue
        if isinstance(result, CancelRejected):
            parts.log.warning("cancel of %s refused: %s", cid, result.reason)
            continue
        parts.ledger.record_order_status(cid, OrderStatus.CANCELLED, result.ts, reason)
        state.working.pop(cid, None)


def drain_events(parts: SessionParts, state: SessionState, ts: datetime, *,
                 defer_fills: bool = False) -> list[Fill]:
    """Apply the broker's queued events; return the new fills (not yet booked). With
    ``defer_fills`` a fill that fits a working order waits in ``state.unrecorded_fills``
    for ``record_deferred_fills``; any other is recorded now."""
    fills: list[Fill] = []
    for event in parts.broker.poll_events():
        if defer_fills and isinstance(event, FillReport) and fits_working(state, event.fill):
            take_fill(parts, state, event.fill)
            state.unrecorded_fills.append(event.fill)
            fills.append(event.fill)
            continue
        fill = handle_event(parts, state, event, ts)
        if fill is not None:
            fills.append(fill)
    return fills


def fits_working(state: SessionState, fill: Fill) -> bool:
    """True if the ledger would surely accept ``fill``: it is new and fits an order this run
    tracks as working (the ledger has every such order and its fills; see ``recovery``)."""
    working = state.working.get(fill.client_order_id)
    if working is None or fill.exec_id in state.exec_ids:
        return False
    order = working.order
    try:
        check_money(fill.price, "price")
        check_money(fill.commission, "commission")
    except ValueError:
        return False
    return ((fill.symbol, fill.side) == (order.symbol, order.side) and fill.quantity > 0
            and working.filled + fill.quantity <= order.quantity)


def record_deferred_fills(parts: SessionParts, state: SessionState) -> None:
    """Write the fills booked before the minute's orders went out (``fits_working`` made
    sure the ledger accepts them; a refusal now is a ledger fault and crashes the loop)."""
    for fill in state.unrecorded_fills:
        parts.ledger.record_fill(fill)
    state.unrecorded_fills = []


def handle_event(parts: SessionParts, state: SessionState, event: BrokerEvent,
                 ts: datetime) -> Fill | None:
    """One broker event; ``ts`` (the current minute) dates any risk event it causes."""
    match event:
        case FillReport(fill=fill):
            return record_fill(parts, state, fill, ts)
        case OrderCancelled() | OrderRejected():
            _record_final(parts, state, event, ts)
        case OrderAccepted(client_order_id=cid) if not parts.ledger.order_exists(cid):
            unknown_message(parts, state, f"broker accepted order {cid}, which the ledger "
                            "never recorded", ts)
        case CancelRejected(client_order_id=cid, reason=reason):
            parts.log.warning("broker refused to cancel %s: %s", cid, reason)
        case ConnectionChanged(state=link, reason=reason):
            up = link is ConnectionState.CONNECTED
            state.needs_reconcile = state.needs_reconcile or (up and not state.broker_up)
            state.broker_up = up
            parts.metrics.set_broker_connected(up)
            parts.log.info("broker connection %s (%s)", link, reason)
    return None


def record_fill(parts: SessionParts, state: SessionState, fill: Fill,
                ts: datetime) -> Fill | None:
    """Record ``fill`` once; None if it was known already or must not be booked."""
    if fill.exec_id in state.exec_ids:
        return None
    try:
        parts.ledger.record_fill(fill)
    except LedgerError as exc:
        unknown_message(parts, state, f"fill {fill.exec_id} refused by the ledger: {exc}", ts,
                        fill.symbol)
        return None
    take_fill(parts, state, fill)
    return fill


def take_fill(parts: SessionParts, state: SessionState, fill: Fill) -> None:
    """What a fill changes in the run's state: known exec ids, the broker's positions, the
    order's progress, the trade counter (the book moves in ``step.settle_market``)."""
    state.exec_ids.add(fill.exec_id)
    state.broker_fill(fill)
    working = state.working.get(fill.client_order_id)
    if working is not None:
        working.filled += fill.quantity
        if working.filled >= working.order.quantity:
            del state.working[fill.client_order_id]
    parts.metrics.count_trade(fill.symbol, fill.side.value)


def _record_final(parts: SessionParts, state: SessionState,
                  event: OrderCancelled | OrderRejected, ts: datetime) -> None:
    cid = event.client_order_id
    if not parts.ledger.order_exists(cid):
        unknown_message(parts, state, f"broker says order {cid} is finished, but the ledger "
                        "never recorded it", ts)
        return
    status = OrderStatus.CANCELLED if isinstance(event, OrderCancelled) else OrderStatus.REJECTED
    parts.ledger.record_order_status(cid, status, event.ts, event.reason)
    state.working.pop(cid, None)


def unknown_message(parts: SessionParts, state: SessionState, reason: str, ts: datetime,
                    symbol: str | None = None) -> None:
    """Bad input from the broker: record it, log it, allow only reducing orders."""
    state.bad_inputs += 1
    parts.log.error("bad broker message: %s; trading goes to REDUCING", reason)
    parts.risk.reduce(RiskEventKind.UNKNOWN_BROKER_MESSAGE, reason, ts, symbol)
