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
from intraday_jules.trading.config import SessionConfig
from intraday_jules.trading.context import Log, SessionParts
from intraday_jules.trading.execution import cancel_working, record_submissions
from intraday_jules.trading.observe import SessionBars
from intraday_jules.trading.state import SessionState, Working

FREE_ID_ATTEMPTS = 30


class SessionCrashed(RuntimeError):
    """The session loop crashed; positions were flattened at the broker and trading HALTED."""


def last_line_of_defence(parts: SessionParts, state: SessionState,
                         exc: Exception) -> SessionCrashed:
    """Flatten at the broker, latch HALTED; return the exception ``run_session`` raises."""
    log, session = parts.log, parts.config.session
    at = _crash_minute(parts.config, state.last_minute)
    cause = f"{type(exc).__name__}: {exc}"
    log.error("session %s: the loop crashed at %s (%s); flattening at the broker and "
              "halting", session, at.isoformat(), cause)
    _attempt(log, "cancel working orders",
             partial(cancel_working, parts, state, "session loop crashed", policy_only=False))
    sent = _flatten_at_broker(parts, state, at)
    reason = (f"session loop crashed at {at.isoformat().replace('+00:00', 'Z')}: {cause}; "
              f"flattened at the broker: {sent}")
    halted = _attempt(log, "latch HALTED",
                      partial(parts.risk.halt, RiskEventKind.LOOP_CRASHED, reason, at))
    outcome = "trading HALTED (LOOP_CRASHED; `intraday-jules risk reset` after review)" if (
        halted) else "HALTED could NOT be recorded"
    return SessionCrashed(f"session {session}: {reason}; {outcome}")


def _attempt(log: Log, what: str, action: Callable[[], object]) -> bool:
    try:
        action()
    except Exception as exc:
        log.error("last line of defence: could not %s: %s: %s", what, type(exc).__name__, exc)
        return False
    return True


def _crash_minute(config: SessionConfig, last_minute: datetime | None) -> datetime:
    """The minute the crash is dated at: the one after the last decided minute."""
    if last_minute is not None:
        return last_minute + BAR
    return config.window.open


def _flatten_at_broker(parts: SessionParts, state: SessionState, at: datetime) -> str:
    """Send an order closing each position the broker holds; a summary of what was sent."""
    log = parts.log
    try:
        held = {s: q for s, q in sorted(parts.broker.positions().items()) if q}
    except Exception as exc:
        log.error("last line of defence: the broker's positions are unknown: %s", exc)
        return f"nothing (the broker's positions could not be read: {type(exc).__name__})"
    if not held:
        return "nothing held"
    done = []
    for symbol, quantity in held.items():
        mark = state.book.mark(symbol) or _last_close(state.bars, symbol)
        order = _flatten_order(parts, symbol, quantity, mark, at)
        recorded = _attempt(log, f"record {order.client_order_id}",
                            partial(parts.ledger.record_order, order))
        try:
            result: SubmitResult = parts.broker.submit(order)
        except Exception as exc:
            log.error("last line of defence: %s not sent: %s", order.client_order_id, exc)
            done.append(f"{order.side} {order.quantity} {symbol} NOT SENT")
            continue
        accepted = isinstance(result, OrderAccepted)
        if recorded:
            _attempt(log, f"record the status of {order.client_order_id}",
                     partial(record_submissions, parts, [result]))
        if accepted:
            state.working[order.client_order_id] = Working(order)
        done.append(f"{order.side} {order.quantity} {symbol} ({order.client_order_id}"
                    f"{'' if accepted else ', REJECTED'}{'' if recorded else ', unrecorded'})")
    return ", ".join(done)


def _flatten_order(parts: SessionParts, symbol: str, quantity: int, mark: Decimal,
                   at: datetime) -> Order:
    """A market order closing ``quantity``, dated at the first minute from ``at`` whose id
    is free in the ledger (``at`` itself when the ledger cannot be asked)."""
    side = Side.SELL if quantity > 0 else Side.BUY
    session = parts.config.session
    minute = at
    order = Order.from_intent(OrderIntent(symbol, side, abs(quantity), minute, mark,
                                          IntentOrigin.FLATTEN), session)
    for _ in range(FREE_ID_ATTEMPTS):
        try:
            taken = parts.ledger.order_exists(order.client_order_id)
        except Exception:
            return order
        if not taken:
            return order
        minute += BAR
        order = Order.from_intent(OrderIntent(symbol, side, abs(quantity), minute, mark,
                                              IntentOrigin.FLATTEN), session)
    return order


def _last_close(bars: SessionBars, symbol: str) -> Decimal:
    """A reference price when the book has no mark: the session's last accepted close."""
    for i in range(len(bars) - 1, -1, -1):
        if bars.symbol[i] == symbol:
            return Decimal(repr(bars.close[i]))
    return Decimal("0.01")  # only a reference: a market order's price is the market's
