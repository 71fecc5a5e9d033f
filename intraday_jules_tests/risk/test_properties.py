"""Properties over arbitrary price paths and action sequences (hypothesis).

- No approved order takes a symbol's exposure beyond its cap (unless it shrinks exposure).
- Once a loss limit is hit, no risk-increasing order is approved, ever, without a reset.
- The latched state survives a restart: a new engine on the same ledger sees the same state.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intraday_jules.db import create_db_engine, upgrade_to_head
from intraday_jules.domain.orders import IntentOrigin, OrderIntent, Side
from intraday_jules.domain.portfolio import Book
from intraday_jules.ledger import Ledger
from intraday_jules.risk import (
    Approved,
    MemoryRiskStore,
    RiskEngine,
    RiskEventKind,
    RiskLimits,
    TradingState,
)
from intraday_jules_tests.risk.builders import START_CASH, at, filled, fixed_clock

SYMBOLS = ("NVDA", "MSFT")
prices = st.decimals(min_value=D("1.00"), max_value=D("400.00"), places=2)
step = st.tuples(st.sampled_from(SYMBOLS), prices, st.sampled_from(list(Side)),
                 st.integers(1, 80), st.integers(-5, 5))


def _exposure_ok(book: Book, order: OrderIntent, cap: D) -> bool:
    before = book.exposure(order.symbol)
    after = before + order.signed_quantity
    return abs(after) <= abs(before) or abs(after) * order.reference_price <= cap


@settings(max_examples=120, deadline=None)
@given(st.lists(step, min_size=1, max_size=40), st.booleans())
def test_no_approved_order_takes_exposure_beyond_the_cap(
        steps: list[tuple[str, D, Side, int, int]], allow_short: bool) -> None:
    limits = RiskLimits(daily_loss_limit_usd=D("1e9"), drawdown_limit_usd=D("1e9"),
                        allow_short=allow_short)
    engine = RiskEngine(limits, MemoryRiskStore(), clock=fixed_clock())
    book = Book(START_CASH, session_start_equity=START_CASH)
    for minute, (symbol, price, side, quantity, pending) in enumerate(steps):
        book = book.with_marks({symbol: price}).with_pending({symbol: pending})
        wanted = OrderIntent(symbol, side, quantity, at(minute), price)
        verdict = engine.evaluate(wanted, book)
        if isinstance(verdict, Approved):
            assert _exposure_ok(book, verdict.intent, limits.max_position_usd), verdict
            assert verdict.intent.quantity <= wanted.quantity
            if not allow_short:
                assert book.exposure(symbol) + verdict.intent.signed_quantity >= min(
                    book.exposure(symbol), 0)
            book = book.with_fill(filled(verdict.intent, n=minute)).with_pending({})


def _reduces(book: Book, order: OrderIntent) -> bool:
    before = book.exposure(order.symbol)
    after = before + order.signed_quantity
    return before != 0 and abs(after) < abs(before) and (after == 0 or (after > 0) == (before > 0))


@settings(max_examples=120, deadline=None)
@given(st.lists(step, min_size=1, max_size=60), st.booleans())
def test_after_a_loss_limit_is_hit_no_risk_increasing_order_is_approved(
        steps: list[tuple[str, D, Side, int, int]], allow_short: bool) -> None:
    limits = RiskLimits(allow_short=allow_short, max_position_usd=D("5000"),
                        max_order_usd=D("5000"))
    engine = RiskEngine(limits, MemoryRiskStore(), clock=fixed_clock())
    book = Book(START_CASH, session_start_equity=START_CASH)
    halted_at: int | None = None
    for minute, (symbol, price, side, quantity, _) in enumerate(steps):
        book = book.with_marks({symbol: price})
        state = engine.check(book, at(minute))
        if book.session_start_equity - book.equity >= limits.daily_loss_limit_usd:
            assert state is TradingState.HALTED
        if state is TradingState.HALTED and halted_at is None:
            halted_at = minute
        wanted = [OrderIntent(symbol, side, quantity, at(minute), price)]
        if halted_at is not None:
            wanted += engine.flatten_orders(book, at(minute))
        for order in wanted:
            verdict = engine.evaluate(order, book)
            if not isinstance(verdict, Approved):
                continue
            if halted_at is not None:
                assert verdict.intent.origin is IntentOrigin.FLATTEN
                assert _reduces(book, verdict.intent)
            book = book.with_fill(filled(verdict.intent, n=minute))
    if halted_at is not None:
        assert engine.state is TradingState.HALTED
        assert all(p.quantity == 0 for p in book.positions.values())  # flattened


@pytest.fixture(scope="module")
def ledger_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    path: Path = tmp_path_factory.mktemp("restart") / "ledger.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


# (operation, kind for "reduce", dollars lost for "loss")
operation = st.tuples(st.sampled_from(["reduce", "halt", "loss", "reset"]),
                      st.sampled_from([RiskEventKind.STALE_DATA, RiskEventKind.BAD_BAR]),
                      st.integers(0, 120))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=8))
def test_latched_state_survives_a_restart(ledger_db: sa.Engine,
                                          ops: list[tuple[str, RiskEventKind, int]]) -> None:
    def restarted(minute: int) -> RiskEngine:
        return RiskEngine(RiskLimits(), Ledger(ledger_db), clock=fixed_clock(at(minute)))

    engine = restarted(0)
    engine.reset("start of example")
    for minute, (name, kind, loss) in enumerate(ops, start=1):
        ts = at(minute)
        if name == "reduce":
            engine.reduce(kind, "input problem", ts)
        elif name == "halt":
            engine.halt(RiskEventKind.MANUAL_HALT, "operator", ts)
        elif name == "loss":
            engine.check(Book(START_CASH - loss, session_start_equity=START_CASH), ts)
        else:
            engine.reset("operator reviewed", ts)
        fresh = restarted(minute)
        assert fresh.state is engine.state
        assert fresh.state_record == engine.state_record
        engine = fresh  # carry on as the restarted process would
