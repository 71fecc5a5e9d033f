"""Domain objects <-> ledger rows, in one place so both directions stay in step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from intraday_jules.domain.calendar import session_date_of
from intraday_jules.domain.orders import Fill, IntentOrigin, Order, Side
from intraday_jules.domain.risk_state import RiskEvent, RiskEventKind, StateRecord, TradingState
from intraday_jules.ledger.records import DecisionRecord
from intraday_jules.ledger.schema import check_money


def order_values(order: Order, recorded_at: datetime) -> dict[str, Any]:
    return {"client_order_id": order.client_order_id, "session": order.session, "ts": order.ts,
            "symbol": order.symbol, "side": order.side.value, "quantity": order.quantity,
            "reference_price": check_money(order.reference_price, "reference_price"),
            "origin": order.origin.value, "recorded_at": recorded_at}


def order_from_row(row: sa.RowMapping) -> Order:
    return Order(row["client_order_id"], row["session"], row["symbol"], Side(row["side"]),
                 int(row["quantity"]), row["ts"], row["reference_price"],
                 IntentOrigin(row["origin"]))


def fill_values(fill: Fill, recorded_at: datetime) -> dict[str, Any]:
    return {"exec_id": fill.exec_id, "client_order_id": fill.client_order_id,
            "session": session_date_of(fill.ts), "ts": fill.ts, "symbol": fill.symbol,
            "side": fill.side.value, "quantity": fill.quantity,
            "price": check_money(fill.price, f"fill {fill.exec_id} price"),
            "commission": check_money(fill.commission, f"fill {fill.exec_id} commission"),
            "recorded_at": recorded_at}


def fill_from_row(row: sa.RowMapping) -> Fill:
    return Fill(row["ts"], row["symbol"], Side(row["side"]), int(row["quantity"]), row["price"],
                row["commission"], row["client_order_id"], row["exec_id"])


def decision_values(decision: DecisionRecord, recorded_at: datetime) -> dict[str, Any]:
    equity = None if decision.equity is None else check_money(decision.equity, "equity")
    return {"session": decision.session, "ts": decision.ts, "action": decision.action,
            "equity": equity, "detail": dict(decision.detail), "recorded_at": recorded_at}


def decision_from_row(row: sa.RowMapping) -> DecisionRecord:
    return DecisionRecord(row["ts"], row["action"], row["equity"], row["detail"])


def risk_event_values(event: RiskEvent, recorded_at: datetime) -> dict[str, Any]:
    return {"session": event.session, "ts": event.ts, "kind": event.kind.value,
            "state": event.state.value, "reason": event.reason, "symbol": event.symbol,
            "detail": dict(event.detail), "recorded_at": recorded_at}


def risk_event_from_row(row: sa.RowMapping) -> RiskEvent:
    return RiskEvent(row["ts"], RiskEventKind(row["kind"]), TradingState(row["state"]),
                     row["reason"], row["symbol"], row["detail"])


def state_values(record: StateRecord, recorded_at: datetime) -> dict[str, Any]:
    return {"session": record.session, "ts": record.ts, "state": record.state.value,
            "kind": record.kind.value, "reason": record.reason, "recorded_at": recorded_at}


def state_from_row(row: sa.RowMapping) -> StateRecord:
    return StateRecord(TradingState(row["state"]), row["reason"], row["ts"],
                       RiskEventKind(row["kind"]))
