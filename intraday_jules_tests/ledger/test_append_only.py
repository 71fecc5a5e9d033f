"""Facts are never changed: the ledger issues only INSERTs, and the database refuses more."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
import sqlalchemy as sa

from intraday_jules.domain.orders import OrderStatus
from intraday_jules.ledger import DecisionRecord, Ledger, SessionPolicy
from intraday_jules.ledger.schema import LEDGER_TABLES, metadata
from intraday_jules.risk import RiskEngine, RiskEventKind, RiskLimits
from intraday_jules_tests.ledger.conftest import SESSION_BAR, make_fill, make_order


def exercise(ledger: Ledger) -> None:
    """Every kind of write the ledger offers, some of them twice."""
    order = make_order()
    for _ in range(2):
        ledger.record_decision(DecisionRecord(SESSION_BAR, "BUY_NVDA", D("10000")))
        ledger.record_order(order)
        ledger.record_fill(make_fill(order, quantity=4))
    ledger.record_order_status(order.client_order_id, OrderStatus.SUBMITTED, SESSION_BAR)
    ledger.record_session_policy(SessionPolicy(SESSION_BAR.date(), "model:m1", "m1", 0,
                                               "sample", "simulated"))
    engine = RiskEngine(RiskLimits(), ledger, clock=lambda: SESSION_BAR)
    engine.reduce(RiskEventKind.STALE_DATA, "old bar")
    engine.halt(RiskEventKind.DAILY_LOSS_LIMIT, "lost")
    engine.reset("reviewed", SESSION_BAR + timedelta(minutes=1))


def test_ledger_issues_no_update_or_delete_statements(ledger: Ledger) -> None:
    kinds: Counter[str] = Counter()

    def count_kind(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        kinds[statement.lstrip().split(None, 1)[0].upper()] += 1

    sa.event.listen(ledger.engine, "before_cursor_execute", count_kind)
    try:
        exercise(ledger)
        ledger.session_ledger(SESSION_BAR.date())
        ledger.pending_orders()
    finally:
        sa.event.remove(ledger.engine, "before_cursor_execute", count_kind)
    assert kinds["INSERT"] >= 8
    assert kinds["UPDATE"] == kinds["DELETE"] == kinds["TRUNCATE"] == 0, kinds


@pytest.mark.parametrize("verb", ["UPDATE", "DELETE"])
def test_database_refuses_changing_recorded_facts(ledger: Ledger, verb: str) -> None:
    exercise(ledger)
    for table in LEDGER_TABLES:
        statement = (sa.update(table).values(id=table.c.id) if verb == "UPDATE"
                     else sa.delete(table))
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.engine.begin() as conn:
            conn.execute(statement)
        with ledger.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() > 0


def test_migration_creates_exactly_the_columns_the_queries_use(ledger: Ledger) -> None:
    inspector = sa.inspect(ledger.engine)
    for table in metadata.sorted_tables:
        migrated = [c["name"] for c in inspector.get_columns(table.name)]
        assert migrated == [c.name for c in table.columns], table.name
