"""IB order-flow objects (``ib_async``) -> our domain types, and our orders -> IB orders.

Pure functions, no I/O: explicit mappings with ``match`` so an IB value we do not know is an
error, never a guess. Prices and commissions travel as binary floats on IB's wire; they are
turned into exact decimals through their shortest round-trip text (``repr``: 136.2 ->
Decimal("136.2"), never 136.19999999999998863131622783839702606201171875); anything finer
than the ledger's 8 decimals is rounded to them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from ib_async import Fill as IbFill
from ib_async import MarketOrder, Position, Trade
from ib_async import Order as IbOrder

from intraday_jules.broker.base import OpenOrder
from intraday_jules.domain.orders import Fill, Order, OrderStatus, Side

log = logging.getLogger(__name__)
PRICE_QUANTUM = Decimal("0.00000001")  # the ledger's money scale
#: IB statuses of an order that can still trade (ValidationError is ib_async's own: a
#: warning on a live order).
WORKING = frozenset({"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted",
                     "PendingCancel", "ApiUpdate", "ValidationError"})
NOT_ACKNOWLEDGED = frozenset({"PendingSubmit", "ApiPending"})
REJECTED_CODE = 201


def exact(value: float, name: str) -> Decimal:
    """A float from IB's wire as the decimal it was written as, at the ledger's scale."""
    result = Decimal(repr(float(value)))
    if not result.is_finite():
        raise ValueError(f"IB sent a non-finite {name}: {value!r}")
    rounded = result.quantize(PRICE_QUANTUM, ROUND_HALF_EVEN)
    return result if rounded == result else rounded


def whole_shares(value: float, what: str) -> int:
    """IB quantities are floats; ours are whole shares."""
    if not float(value).is_integer():
        raise ValueError(f"{what}: {value!r} is not a whole number of shares")
    return int(value)


def client_order_id_of(order_ref: str, perm_id: int) -> str:
    """Our id is IB's ``orderRef``; an order without one (placed in TWS by hand) gets a
    stand-in naming IB's permanent id, which no ledger ever holds."""
    return order_ref or f"IB-PERM-{perm_id}"


def side_of_execution(side: str) -> Side:
    match side:
        case "BOT":
            return Side.BUY
        case "SLD":
            return Side.SELL
        case _:
            raise ValueError(f"unknown IB execution side {side!r} (expected BOT or SLD)")


def side_of_action(action: str) -> Side:
    match action:
        case "BUY":
            return Side.BUY
        case "SELL" | "SSHORT":
            return Side.SELL
        case _:
            raise ValueError(f"unknown IB order action {action!r} (expected BUY or SELL)")


def commission_known(fill: IbFill) -> bool:
    """ib_async fills start with an empty CommissionReport; IB's report names the execId."""
    return bool(fill.execution.execId) and fill.commissionReport.execId == fill.execution.execId


def fill_of(fill: IbFill) -> Fill:
    """One IB execution plus its commission report as our ``Fill`` (raises ValueError)."""
    execution, report = fill.execution, fill.commissionReport
    if not commission_known(fill):
        raise ValueError(f"execution {execution.execId} has no commission report yet")
    if report.currency and report.currency != "USD":
        raise ValueError(f"execution {execution.execId}: commission in {report.currency}, "
                         "not USD")
    return Fill(execution.time.astimezone(UTC), fill.contract.symbol,
                side_of_execution(execution.side),
                whole_shares(execution.shares, f"execution {execution.execId}"),
                exact(execution.price, "price"), exact(report.commission, "commission"),
                client_order_id_of(execution.orderRef, execution.permId), execution.execId)


def status_of(ib_status: str, filled: int, rejected: bool = False) -> OrderStatus:
    """IB's order status as ours; ``rejected``: the order ended with error 201."""
    match ib_status:
        case "Filled":
            return OrderStatus.FILLED
        case "Cancelled" | "ApiCancelled":
            return OrderStatus.REJECTED if rejected else OrderStatus.CANCELLED
        case "Inactive":
            return OrderStatus.REJECTED
        case s if s in WORKING:
            return OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.SUBMITTED
        case _:
            raise ValueError(f"unknown IB order status {ib_status!r}")


def ending_error(trade: Trade) -> tuple[int, str] | None:
    """The error (code, text) that ended an order, if an error did (201 rejection, ...)."""
    for entry in reversed(trade.log):
        if entry.errorCode:
            return entry.errorCode, entry.message.split(": ", 1)[-1]
    return None


def was_acknowledged(trade: Trade) -> bool:
    """Whether IB ever reported the order live (Submitted/PreSubmitted/Filled)."""
    return any(e.status in ("PreSubmitted", "Submitted", "Filled") for e in trade.log) or (
        trade.orderStatus.filled > 0)


def market_order(order: Order, account: str) -> IbOrder:
    """A DAY market order for whole shares, carrying our id in ``orderRef``."""
    return MarketOrder(order.side.value, order.quantity, tif="DAY", orderRef=order.client_order_id,
                       account=account, outsideRth=False, transmit=True)


def open_order_of(trade: Trade) -> OpenOrder:
    order = trade.order
    return OpenOrder(client_order_id_of(order.orderRef, order.permId), trade.contract.symbol,
                     side_of_action(order.action),
                     whole_shares(order.totalQuantity, f"order {order.orderRef}"),
                     whole_shares(trade.orderStatus.filled, f"order {order.orderRef}"))


def positions_of(items: Iterable[Position], account: str) -> dict[str, int]:
    """Shares per stock of ``account`` (other accounts and non-stocks ignored), non-zero."""
    result: dict[str, int] = {}
    for item in items:
        if item.account != account or item.contract.secType != "STK":
            continue
        symbol = item.contract.symbol
        try:
            shares = whole_shares(item.position, f"position {symbol}")
        except ValueError as exc:  # reconciliation will show the difference
            log.error("IBKR broker: %s", exc)
            shares = int(item.position)
        result[symbol] = result.get(symbol, 0) + shares
    return {symbol: shares for symbol, shares in sorted(result.items()) if shares}


def open_orders_of(trades: Iterable[Trade], account: str) -> list[OpenOrder]:
    """The working orders of ``account`` (or of no named account) as ``OpenOrder``s."""
    result = []
    for trade in trades:
        if trade.order.account not in ("", account) or trade.orderStatus.status not in WORKING:
            continue
        try:
            result.append(open_order_of(trade))
        except ValueError as exc:
            log.error("IBKR broker: open order %s: %s", trade.order.orderRef, exc)
    return result


def fills_of(items: Iterable[IbFill], account: str, since: datetime) -> list[Fill]:
    """Stock executions of ``account`` at or after ``since`` whose commission is known, as
    ``Fill``s, oldest first (one still waiting for its commission report is left out)."""
    result = []
    for item in items:
        execution = item.execution
        if execution.acctNumber not in ("", account) or item.contract.secType not in ("STK", ""):
            continue
        if not commission_known(item):
            log.warning("IBKR broker: execution %s has no commission report yet; not "
                        "reported", execution.execId)
            continue
        try:
            fill = fill_of(item)
        except ValueError as exc:
            log.error("IBKR broker: execution %s: %s", execution.execId, exc)
            continue
        if fill.ts >= since:
            result.append(fill)
    return sorted(result, key=lambda f: (f.ts, f.exec_id))
