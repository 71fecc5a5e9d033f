"""Orders out, broker events in: always through the ledger, in a crash-safe order.

Out: every approved order of a minute is recorded in the ledger first, in the same
transaction as the minute's decision (its deterministic id makes that idempotent), and only
then sent; the broker's answers are recorded together afterwards. A restart that finds the id
recorded never sends it again; one recorded but never sent, or sent without its answer
recorded, is settled by recovery (which asks the broker by client order id). Broker refusals
are recorded as order statuses, never raised.

In: fills are recorded once (by ``exec_id``) before they touch the book. A fill or status for
an order the ledger never recorded, or one contradicting it, is bad input: recorded as
UNKNOWN_BROKER_MESSAGE, trading goes to REDUCING, and the book ignores it.
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
from intraday_jules.risk import Approved, RiskEventKind, Verdict
from intraday_jules.trading.context import SessionContext, Working


def approved_orders(ctx: SessionContext, verdicts: Sequence[Verdict]) -> list[Order]:
    """The orders of the approved verdicts that are not in the ledger yet (to record, send)."""
    orders = []
    for verdict in verdicts:
        if not isinstance(verdict, Approved):
            continue
        order = Order.from_intent(verdict.intent, ctx.config.session)
        if ctx.ledger.order_exists(order.client_order_id):
            ctx.log.warning("order %s is already in the ledger: not sent again",
                            order.client_order_id)
            continue
        orders.append(order)
    return orders


def record_decision(ctx: SessionContext, decision: DecisionRecord,
                    verdicts: Sequence[Verdict]) -> list[Order]:
    """Record the decision and its new orders in one transaction; return the orders to send."""
    return ctx.ledger.record_decision_with_orders(decision, approved_orders(ctx, verdicts))


def submit_all(ctx: SessionContext, orders: Sequence[Order]) -> list[SubmitResult]:
    """Send recorded orders; a broker that cannot answer leaves them PENDING for recovery."""
    results: list[SubmitResult] = []
    for order in orders:
        try:
            result = ctx.broker.submit(order)
        except BrokerError as exc:
            ctx.log.error("order %s not sent: %s (left pending; reconciled on reconnect)",
                          order.client_order_id, exc)
            continue
        if isinstance(result, OrderAccepted):
            ctx.working[order.client_order_id] = Working(order)
        results.append(result)
    return results


def record_submissions(ctx: SessionContext, results: Sequence[SubmitResult]) -> None:
    """What the broker answered, as order statuses in one transaction (after the
    latency-critical part)."""
    statuses = []
    for result in results:
        if isinstance(result, OrderAccepted):
            statuses.append((result.client_order_id, OrderStatus.SUBMITTED, result.ts,
                             "duplicate" if result.duplicate else ""))
        else:
            ctx.log.warning("broker rejected %s: %s", result.client_order_id, result.reason)
            statuses.append((result.client_order_id, OrderStatus.REJECTED, result.ts,
                             result.reason))
    ctx.ledger.record_order_statuses(statuses)


def cancel_working(ctx: SessionContext, reason: str, *, policy_only: bool) -> None:
    """Cancel working orders (all, or only the policy's): HALTED and the flatten allow this."""
    for cid, working in list(ctx.working.items()):
        if policy_only and working.order.origin is not IntentOrigin.POLICY:
            continue
        try:
            result = ctx.broker.cancel(cid)
        except BrokerError as exc:
            ctx.log.error("cancel of %s failed: %s", cid, exc)
            continue
        if isinstance(result, CancelRejected):
            ctx.log.warning("cancel of %s refused: %s", cid, result.reason)
            continue
        ctx.ledger.record_order_status(cid, OrderStatus.CANCELLED, result.ts, reason)
        ctx.working.pop(cid, None)


def drain_events(ctx: SessionContext, ts: datetime) -> list[Fill]:
    """Apply the broker's queued events; return the new fills (recorded, not yet booked)."""
    fills: list[Fill] = []
    for event in ctx.broker.poll_events():
        fill = handle_event(ctx, event, ts)
        if fill is not None:
            fills.append(fill)
    return fills


def handle_event(ctx: SessionContext, event: BrokerEvent, ts: datetime) -> Fill | None:
    """One broker event; ``ts`` (the current minute) dates any risk event it causes."""
    match event:
        case FillReport(fill=fill):
            return record_fill(ctx, fill, ts)
        case OrderCancelled() | OrderRejected():
            _record_final(ctx, event, ts)
        case OrderAccepted(client_order_id=cid) if not ctx.ledger.order_exists(cid):
            unknown_message(ctx, f"broker accepted order {cid}, which the ledger never "
                            "recorded", ts)
        case CancelRejected(client_order_id=cid, reason=reason):
            ctx.log.warning("broker refused to cancel %s: %s", cid, reason)
        case ConnectionChanged(state=state, reason=reason):
            up = state is ConnectionState.CONNECTED
            ctx.needs_reconcile = ctx.needs_reconcile or (up and not ctx.broker_up)
            ctx.broker_up = up
            ctx.metrics.set_broker_connected(up)
            ctx.log.info("broker connection %s (%s)", state, reason)
    return None


def record_fill(ctx: SessionContext, fill: Fill, ts: datetime) -> Fill | None:
    """Record ``fill`` once; None if it was known already or must not be booked."""
    if fill.exec_id in ctx.exec_ids:
        return None
    try:
        ctx.ledger.record_fill(fill)
    except LedgerError as exc:
        unknown_message(ctx, f"fill {fill.exec_id} refused by the ledger: {exc}", ts,
                        fill.symbol)
        return None
    ctx.exec_ids.add(fill.exec_id)
    ctx.broker_fill(fill)
    working = ctx.working.get(fill.client_order_id)
    if working is not None:
        working.filled += fill.quantity
        if working.filled >= working.order.quantity:
            del ctx.working[fill.client_order_id]
    ctx.metrics.count_trade(fill.symbol, fill.side.value)
    return fill


def _record_final(ctx: SessionContext, event: OrderCancelled | OrderRejected,
                  ts: datetime) -> None:
    cid = event.client_order_id
    if not ctx.ledger.order_exists(cid):
        unknown_message(ctx, f"broker says order {cid} is finished, but the ledger never "
                        "recorded it", ts)
        return
    status = OrderStatus.CANCELLED if isinstance(event, OrderCancelled) else OrderStatus.REJECTED
    ctx.ledger.record_order_status(cid, status, event.ts, event.reason)
    ctx.working.pop(cid, None)


def unknown_message(ctx: SessionContext, reason: str, ts: datetime,
                    symbol: str | None = None) -> None:
    """Bad input from the broker: record it, log it, allow only reducing orders."""
    ctx.bad_inputs += 1
    ctx.log.error("bad broker message: %s; trading goes to REDUCING", reason)
    ctx.risk.reduce(RiskEventKind.UNKNOWN_BROKER_MESSAGE, reason, ts, symbol)
