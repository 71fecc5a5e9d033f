"""The loop's last line of defence: an unexpected exception never leaves positions behind.

Bad input is handled where it arrives (refused, recorded, REDUCING). Anything else that
raises inside recovery or the session loop (a bug, a broken store, a broker that cannot
answer) is a crash. Before the exception leaves ``run_session``:

1. every working order is cancelled;
2. what the broker holds (``Broker.positions()``, not our book: after a crash the book may be
   what is wrong) is flattened with market orders, recorded in the ledger first when the
   ledger can still record (ids ``IJF-<session>-<HHMM>-<symbol>`` of the minute after the last
   decided one, the next free minute if taken) and sent even when it cannot;
3. HALTED is latched with ``LOOP_CRASHED`` and the reason (the exception and what was sent);
4. ``SessionCrashed`` is raised from the original exception (the CLI prints it as one line and
   exits non-zero; the Dagster run fails).

Each step is attempted even when an earlier one fails, and their failures are logged. A
restart finds HALTED and the flatten orders in the ledger; recovery tracks them as working.
A ``BaseException`` that is not an ``Exception`` (KeyboardInterrupt, SystemExit) is not
handled here: an operator stopping the process resumes on restart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import partial

from intraday_jules.broker.base import OrderAccepted, SubmitResult
from intraday_jules.domain.bars import BAR
from intraday_jules.domain.orders import IntentOrigin, Order, OrderIntent, Side
from intraday_jules.risk import RiskEventKind
from intraday_jules.trading.context import SessionContext, Working
from intraday_jules.trading.execution import cancel_working, record_submissions

FREE_ID_ATTEMPTS = 30


class SessionCrashed(RuntimeError):
    """The session loop crashed; positions were flattened at the broker and trading HALTED."""


def last_line_of_defence(ctx: SessionContext, exc: Exception) -> SessionCrashed:
    """Flatten at the broker, latch HALTED; return the exception ``run_session`` raises."""
    at = _crash_minute(ctx)
    cause = f"{type(exc).__name__}: {exc}"
    ctx.log.error("session %s: the loop crashed at %s (%s); flattening at the broker and "
                  "halting", ctx.config.session, at.isoformat(), cause)
    _attempt(ctx, "cancel working orders",
             partial(cancel_working, ctx, "session loop crashed", policy_only=False))
    sent = _flatten_at_broker(ctx, at)
    reason = (f"session loop crashed at {at.isoformat().replace('+00:00', 'Z')}: {cause}; "
              f"flattened at the broker: {sent}")
    halted = _attempt(ctx, "latch HALTED",
                      partial(ctx.risk.halt, RiskEventKind.LOOP_CRASHED, reason, at))
    state = "trading HALTED (LOOP_CRASHED; `intraday-jules risk reset` after review)" if (
        halted) else "HALTED could NOT be recorded"
    return SessionCrashed(f"session {ctx.config.session}: {reason}; {state}")


def _attempt(ctx: SessionContext, what: str, action: Callable[[], object]) -> bool:
    try:
        action()
    except Exception as exc:
        ctx.log.error("last line of defence: could not %s: %s: %s", what,
                      type(exc).__name__, exc)
        return False
    return True


def _crash_minute(ctx: SessionContext) -> datetime:
    """The minute the crash is dated at: the one after the last decided minute."""
    if ctx.last_minute is not None:
        return ctx.last_minute + BAR
    return ctx.config.window.open


def _flatten_at_broker(ctx: SessionContext, at: datetime) -> str:
    """Send an order closing each position the broker holds; a summary of what was sent."""
    try:
        held = {s: q for s, q in sorted(ctx.broker.positions().items()) if q}
    except Exception as exc:
        ctx.log.error("last line of defence: the broker's positions are unknown: %s", exc)
        return f"nothing (the broker's positions could not be read: {type(exc).__name__})"
    if not held:
        return "nothing held"
    done = []
    for symbol, quantity in held.items():
        order = _flatten_order(ctx, symbol, quantity, at)
        recorded = _attempt(ctx, f"record {order.client_order_id}",
                            partial(ctx.ledger.record_order, order))
        try:
            result: SubmitResult = ctx.broker.submit(order)
        except Exception as exc:
            ctx.log.error("last line of defence: %s not sent: %s", order.client_order_id, exc)
            done.append(f"{order.side} {order.quantity} {symbol} NOT SENT")
            continue
        accepted = isinstance(result, OrderAccepted)
        if recorded:
            _attempt(ctx, f"record the status of {order.client_order_id}",
                     partial(record_submissions, ctx, [result]))
        if accepted:
            ctx.working[order.client_order_id] = Working(order)
        done.append(f"{order.side} {order.quantity} {symbol} ({order.client_order_id}"
                    f"{'' if accepted else ', REJECTED'}{'' if recorded else ', unrecorded'})")
    return ", ".join(done)


def _flatten_order(ctx: SessionContext, symbol: str, quantity: int, at: datetime) -> Order:
    side = Side.SELL if quantity > 0 else Side.BUY
    mark = ctx.book.mark(symbol) or _last_close(ctx, symbol)
    minute = at
    order = Order.from_intent(OrderIntent(symbol, side, abs(quantity), minute, mark,
                                          IntentOrigin.FLATTEN), ctx.config.session)
    for _ in range(FREE_ID_ATTEMPTS):
        try:
            taken = ctx.ledger.order_exists(order.client_order_id)
        except Exception:
            return order
        if not taken:
            return order
        minute += BAR
        order = Order.from_intent(OrderIntent(symbol, side, abs(quantity), minute, mark,
                                              IntentOrigin.FLATTEN), ctx.config.session)
    return order


def _last_close(ctx: SessionContext, symbol: str) -> Decimal:
    """A reference price when the book has no mark: the session's last accepted close."""
    bars = ctx.bars
    for i in range(len(bars) - 1, -1, -1):
        if bars.symbol[i] == symbol:
            return Decimal(repr(bars.close[i]))
    return Decimal("0.01")  # only a reference: a market order's price is the market's

