"""Ledger fixtures: a migrated database (SQLite and PostgreSQL) and readable builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from intraday_jules.domain.orders import Fill, Order, OrderIntent, Side
from intraday_jules.ledger import Ledger

SESSION_BAR = datetime(2025, 2, 3, 14, 31, tzinfo=UTC)  # 09:31 ET on 2025-02-03
RECORDED_AT = datetime(2025, 2, 3, 14, 31, 5, tzinfo=UTC)


@pytest.fixture
def ledger(db_engine: sa.Engine) -> Ledger:
    return Ledger(db_engine, clock=lambda: RECORDED_AT)


def make_order(side: Side = Side.BUY, quantity: int = 10, price: str = "120.50", *,
               symbol: str = "NVDA", minute: int = 0) -> Order:
    return Order.from_intent(OrderIntent(symbol, side, quantity,
                                         SESSION_BAR + timedelta(minutes=minute), Decimal(price)))


def make_fill(order: Order, quantity: int | None = None, price: str = "120.61",
              commission: str = "0.35", exec_id: str = "0001.01") -> Fill:
    return Fill(order.ts + timedelta(minutes=1, seconds=2), order.symbol, order.side,
                quantity if quantity is not None else order.quantity, Decimal(price),
                Decimal(commission), order.client_order_id, exec_id)
