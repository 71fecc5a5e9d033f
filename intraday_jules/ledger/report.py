"""One session of the ledger as plain JSON, the shape ``intraday-jules ledger --json`` prints.

``{"decisions": [...], "orders": [...], "fills": [...], "risk_events": [...]}``, each list in
time order. Money is an exact decimal *string* ("136.385", "0.35"): a JSON number would be read
back as a binary float. Timestamps are ISO 8601 UTC with a ``Z``. No wall-clock
``recorded_at`` appears, so two replays of the same session print identical ledgers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

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
