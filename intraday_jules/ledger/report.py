"""One session of the ledger as plain JSON, the shape ``intraday-jules ledger --json`` prints.

``{"decisions": [...], "orders": [...], "fills": [...], "risk_events": [...]}``, each list in
time order. Money is an exact decimal *string* ("136.385", "0.35"): a JSON number would be read
back as a binary float. Timestamps are ISO 8601 UTC with a ``Z``. No wall-clock
``recorded_at`` appears, so two replays of the same session print identical ledgers.

``session_summary`` is the short view of the same session (what ``intraday-jules ledger``
prints by default, and the ``summary`` key of its ``--json``); ``group_risk_events`` collapses
repeated risk events (also used by the session report).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from intraday_jules.domain.calendar import session_date_of
from intraday_jules.domain.orders import Fill, Side
from intraday_jules.domain.portfolio import Position, positions_from_fills

if TYPE_CHECKING:
    from intraday_jules.ledger.ledger import Ledger

LEDGER_KEYS = ("decisions", "orders", "fills", "risk_events")
DECISION_KEYS = ("ts", "action", "equity", "detail")
ORDER_KEYS = ("client_order_id", "ts", "symbol", "side", "quantity", "reference_price", "origin",
              "status", "filled_quantity")
FILL_KEYS = ("ts", "symbol", "side", "quantity", "price", "commission", "client_order_id",
             "exec_id")
RISK_EVENT_KEYS = ("ts", "kind", "state", "reason", "symbol", "detail")


def money_text(value: Decimal | None) -> str | None:
    """Shortest exact decimal string: Decimal('136.38500000') -> '136.385', 100 -> '100'."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def ts_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _sorted(value: Any) -> Any:
    """JSON with object keys sorted at every level (JSONB reorders keys; SQLite keeps them)."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def session_ledger(ledger: Ledger, session: date) -> dict[str, list[dict[str, Any]]]:
    """Decisions, orders (with derived status), fills and risk events of ``session``."""
    statuses = ledger.order_statuses(session)
    filled = ledger.filled_quantities()
    return {
        "decisions": [
            {"ts": ts_text(d.ts), "action": d.action, "equity": money_text(d.equity),
             "detail": _sorted(dict(d.detail))} for d in ledger.decisions(session)],
        "orders": [
            {"client_order_id": o.client_order_id, "ts": ts_text(o.ts), "symbol": o.symbol,
             "side": o.side.value, "quantity": o.quantity,
             "reference_price": money_text(o.reference_price), "origin": o.origin.value,
             "status": statuses[o.client_order_id].value,
             "filled_quantity": filled.get(o.client_order_id, 0)}
            for o in ledger.orders(session)],
        "fills": [
            {"ts": ts_text(f.ts), "symbol": f.symbol, "side": f.side.value,
             "quantity": f.quantity, "price": money_text(f.price),
             "commission": money_text(f.commission), "client_order_id": f.client_order_id,
             "exec_id": f.exec_id} for f in ledger.fills(session)],
        "risk_events": [
            {"ts": ts_text(e.ts), "kind": e.kind.value, "state": e.state.value,
             "reason": e.reason, "symbol": e.symbol, "detail": _sorted(dict(e.detail))}
            for e in ledger.risk_events(session)],
    }


def group_risk_events(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Risk events of the same kind and reason as one row, in order of first occurrence.

    A session where the policy keeps asking for what the cap forbids records one
    ``ORDER_DENIED`` a minute with the same reason; a reader needs "156 times, 10:02 to 15:58",
    not 156 rows. Each row: ``kind``, ``reason``, ``count``, ``first`` and ``last`` (``ts`` of
    the first and last event), ``symbols`` (sorted, those named) and ``state`` (the last one's).
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        key = (str(event["kind"]), str(event["reason"]))
        group = groups.get(key)
        if group is None:
            group = groups[key] = {"kind": key[0], "reason": key[1], "count": 0,
                                   "first": event["ts"], "last": event["ts"], "symbols": [],
                                   "state": event.get("state")}
        group["count"] += 1
        group["last"], group["state"] = event["ts"], event.get("state")
        symbol = event.get("symbol")
        if symbol is not None and symbol not in group["symbols"]:
            group["symbols"] = sorted([*group["symbols"], symbol])
    return list(groups.values())


def _counts(values: Sequence[str]) -> dict[str, int]:
    """How often each value occurs, in order of first occurrence."""
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _last_marks(decisions: Sequence[Mapping[str, Any]]) -> dict[str, Decimal]:
    """The marks the session's last decision saw (its ``detail.marks``), by symbol."""
    for decision in reversed(decisions):
        marks = decision.get("detail", {}).get("marks")
        if marks:
            return {symbol: Decimal(str(mark)) for symbol, mark in marks.items()}
    return {}


def symbol_summaries(fills: Sequence[Fill], session: date,
                     marks: Mapping[str, Decimal]) -> list[dict[str, Any]]:
    """Per symbol traded in ``session`` (or holding shares at its end): the session's fills,
    shares bought and sold, commissions and realised P&L (FIFO, net of commissions, so a lot
    opened in an earlier session is closed at its own price), the position at the session's
    end and its unrealised P&L at ``marks`` (None without a mark). ``fills``: every fill of
    the ledger, in execution order."""
    before = positions_from_fills(f for f in fills if session_date_of(f.ts) < session)
    after = positions_from_fills(f for f in fills if session_date_of(f.ts) <= session)
    today = [f for f in fills if session_date_of(f.ts) == session]
    symbols = sorted({f.symbol for f in today} | {s for s, p in after.items() if p.quantity})
    rows = []
    for symbol in symbols:
        mine = [f for f in today if f.symbol == symbol]
        start = before.get(symbol, Position(symbol))
        end = after.get(symbol, Position(symbol))
        mark = marks.get(symbol)
        rows.append({
            "symbol": symbol, "fills": len(mine),
            "bought": sum(f.quantity for f in mine if f.side is Side.BUY),
            "sold": sum(f.quantity for f in mine if f.side is Side.SELL),
            "commissions": money_text(sum((f.commission for f in mine), Decimal(0))),
            "realised_pnl": money_text(end.net_realised_pnl - start.net_realised_pnl),
            "position": end.quantity,
            "mark": money_text(mark),
            "unrealised_pnl": money_text(end.unrealised_pnl(mark)) if mark is not None else None,
        })
    return rows


def session_summary(ledger: Ledger, session: date,
                    payload: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """What a reader wants first of ``payload`` (``session_ledger(ledger, session)``):
    equity at the first and last decision, decisions by phase, orders by status, per-symbol
    fills/P&L/positions and the risk events grouped (``group_risk_events``)."""
    decisions = payload["decisions"]
    equities = [Decimal(d["equity"]) for d in decisions if d.get("equity") is not None]
    start, end = (equities[0], equities[-1]) if equities else (None, None)
    return {
        "session": session.isoformat(),
        "equity": {"start": money_text(start), "end": money_text(end),
                   "pnl": money_text(end - start) if start is not None and end is not None
                   else None},
        "decisions": {"total": len(decisions),
                      "by_phase": _counts([str(d.get("detail", {}).get("phase", "unknown"))
                                           for d in decisions])},
        "orders": {"total": len(payload["orders"]),
                   "by_status": _counts([str(o["status"]) for o in payload["orders"]])},
        "symbols": symbol_summaries(ledger.fills(), session, _last_marks(decisions)),
        "risk_events": group_risk_events(payload["risk_events"]),
    }
