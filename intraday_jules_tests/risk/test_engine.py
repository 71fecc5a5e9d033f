"""The risk engine: named checks, resizing, the latched states and their events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal as D

import pytest

from intraday_jules.domain.orders import IntentOrigin, Side
from intraday_jules.domain.portfolio import Book
from intraday_jules.risk import (
    Approved,
    Denied,
    MemoryRiskStore,
    RiskEngine,
    RiskEventKind,
    RiskLimits,
    StateRecord,
    TradingState,
)
from intraday_jules_tests.risk.builders import (
    START_CASH,
    T0,
    book_holding,
    filled,
    fixed_clock,
    intent,
)


def make_engine(store: MemoryRiskStore | None = None, **limits: object) -> RiskEngine:
    return RiskEngine(RiskLimits(**limits), store or MemoryRiskStore(),  # type: ignore[arg-type]
                      clock=fixed_clock())


def approved(verdict: Approved | Denied) -> Approved:
    assert isinstance(verdict, Approved), verdict
    return verdict


def denied(verdict: Approved | Denied) -> Denied:
    assert isinstance(verdict, Denied), verdict
    return verdict


def test_evaluate_within_limits_approves_unchanged() -> None:
    verdict = approved(make_engine().evaluate(intent(Side.BUY, 5), book_holding(0)))
    assert verdict.intent == verdict.requested
    assert not verdict.resized


def test_evaluate_when_order_exceeds_position_cap_resizes_to_fit() -> None:
    store = MemoryRiskStore()
    verdict = approved(make_engine(store).evaluate(intent(Side.BUY, 30, "120.5"), book_holding(0)))
    assert verdict.intent.quantity == 8  # floor(1000 / 120.5)
    assert [e.kind for e in store.events] == [RiskEventKind.ORDER_RESIZED]


def test_evaluate_when_position_at_cap_denies_and_records_event() -> None:
    store = MemoryRiskStore()
    verdict = denied(make_engine(store).evaluate(intent(Side.BUY, 1), book_holding(10)))
    assert verdict.check == "position_within_cap"
    assert "cap" in verdict.reason
    assert store.events[-1].kind is RiskEventKind.ORDER_DENIED
    assert store.events[-1].state is TradingState.ACTIVE


def test_evaluate_reducing_a_position_that_drifted_above_cap_approves() -> None:
    book = book_holding(10, "100", mark="150")  # worth $1,500 > cap after a rally
    assert approved(make_engine().evaluate(intent(Side.SELL, 3, "150"), book))


def test_evaluate_sell_when_flat_and_short_disabled_denies() -> None:
    verdict = denied(make_engine().evaluate(intent(Side.SELL, 1), book_holding(0)))
    assert verdict.check == "short_selling_allowed"


def test_evaluate_sell_more_than_held_when_short_disabled_resizes_to_held() -> None:
    verdict = approved(make_engine().evaluate(intent(Side.SELL, 9), book_holding(4)))
    assert verdict.intent.quantity == 4


def test_evaluate_when_short_allowed_caps_the_short_side() -> None:
    engine = make_engine(allow_short=True, max_order_usd=D("5000"))
    verdict = approved(engine.evaluate(intent(Side.SELL, 30), book_holding(4)))
    assert verdict.intent.quantity == 14  # from +4 to -10 shares = -$1,000


def test_evaluate_when_order_notional_too_large_resizes() -> None:
    engine = make_engine(max_order_usd=D("250"))
    assert approved(engine.evaluate(intent(Side.BUY, 5), book_holding(0))).intent.quantity == 2


def test_evaluate_when_one_share_exceeds_order_limit_denies() -> None:
    engine = make_engine(max_order_usd=D("50"))
    assert denied(engine.evaluate(intent(Side.BUY, 1), book_holding(0))).check == (
        "order_within_notional")


def test_evaluate_when_order_rate_reached_denies_until_a_minute_passed() -> None:
    engine = make_engine(max_orders_per_minute=2)
    book = book_holding(0)
    for _ in range(2):
        approved(engine.evaluate(intent(Side.BUY, 1), book))
    assert denied(engine.evaluate(intent(Side.BUY, 1), book)).check == "order_rate_within_limit"
    assert approved(engine.evaluate(intent(Side.BUY, 1, minute=1), book))


def test_evaluate_counts_pending_orders_towards_the_cap() -> None:
    book = book_holding(0).with_pending({"NVDA": 8})
    assert approved(make_engine().evaluate(intent(Side.BUY, 5), book)).intent.quantity == 2


def test_submit_order_when_state_halted_denies() -> None:
    engine = make_engine()
    engine.halt(RiskEventKind.MANUAL_HALT, "operator pulled the plug")
    verdict = denied(engine.evaluate(intent(Side.SELL, 1), book_holding(5)))
    assert verdict.check == "trading_state_allows"
    assert "HALTED" in verdict.reason


def test_flatten_orders_when_halted_are_approved_and_close_everything() -> None:
    engine = make_engine()
    engine.halt(RiskEventKind.MANUAL_HALT, "test")
    book = book_holding(6, "100", mark="90").with_fill(
        filled(intent(Side.BUY, 3, "50", symbol="MSFT"), n=1))
    flattens = engine.flatten_orders(book, T0)
    assert [(i.symbol, i.side, i.quantity, i.origin) for i in flattens] == [
        ("MSFT", Side.SELL, 3, IntentOrigin.FLATTEN), ("NVDA", Side.SELL, 6, IntentOrigin.FLATTEN)]
    assert all(isinstance(engine.evaluate(i, book), Approved) for i in flattens)


def test_evaluate_when_reducing_allows_only_reducing_orders_never_through_zero() -> None:
    engine = make_engine(allow_short=True)
    engine.reduce(RiskEventKind.STALE_DATA, "newest NVDA bar is 3 minutes old")
    book = book_holding(5)
    assert denied(engine.evaluate(intent(Side.BUY, 1), book)).check == "trading_state_allows"
    assert approved(engine.evaluate(intent(Side.SELL, 9), book)).intent.quantity == 5


def test_check_when_daily_loss_reaches_limit_latches_halted() -> None:
    store = MemoryRiskStore()
    engine = make_engine(store)
    assert engine.check(book_holding(10, "100", mark="95.01")) is TradingState.ACTIVE  # -$49.90
    assert engine.check(book_holding(10, "100", mark="95")) is TradingState.HALTED  # -$50
    assert store.states[-1].kind is RiskEventKind.DAILY_LOSS_LIMIT
    assert engine.check(book_holding(10, "100", mark="120")) is TradingState.HALTED  # latched


def test_check_when_drawdown_from_high_water_mark_reaches_limit_latches_halted() -> None:
    engine = make_engine(daily_loss_limit_usd=D("100000"))
    book = Book(START_CASH, high_water_mark=D("10100"), session_start_equity=START_CASH)
    assert engine.check(book) is TradingState.HALTED
    assert engine.state_record.kind is RiskEventKind.DRAWDOWN_LIMIT


def test_check_remembers_the_peak_even_if_the_caller_forgets_it() -> None:
    engine = make_engine(daily_loss_limit_usd=D("100000"))
    engine.check(Book(D("10200"), session_start_equity=START_CASH))
    assert engine.check(Book(D("10100"), session_start_equity=START_CASH)) is (
        TradingState.HALTED)


def test_evaluate_when_loss_limit_hit_halts_before_approving() -> None:
    engine = make_engine()
    verdict = engine.evaluate(intent(Side.BUY, 1, "90"), book_holding(10, "100", mark="90"))
    assert denied(verdict).check == "trading_state_allows"
    assert engine.state is TradingState.HALTED


def test_halted_is_not_downgraded_by_a_reducing_condition() -> None:
    engine = make_engine()
    engine.halt(RiskEventKind.MANUAL_HALT, "test")
    assert engine.reduce(RiskEventKind.BAD_BAR, "duplicate bar") is TradingState.HALTED


def test_reset_without_reason_raises() -> None:
    with pytest.raises(ValueError, match="reason"):
        make_engine().reset("  ")


def test_reset_returns_to_active_and_rebases_the_loss_measures() -> None:
    store = MemoryRiskStore()
    engine = make_engine(store)
    losing = book_holding(10, "100", mark="94")  # -$60 on the day
    assert engine.check(losing) is TradingState.HALTED
    assert engine.reset("reviewed: a data glitch") is TradingState.ACTIVE
    assert engine.check(losing) is TradingState.ACTIVE  # the old loss is forgiven
    assert engine.check(book_holding(10, "100", mark="89")) is TradingState.HALTED  # new -$50
    assert [r.kind for r in store.states] == [RiskEventKind.DAILY_LOSS_LIMIT,
                                              RiskEventKind.RESET,
                                              RiskEventKind.DAILY_LOSS_LIMIT]
    assert any(e.kind is RiskEventKind.RESET for e in store.events)


def test_on_reconciliation_mismatch_halts_with_difference_recorded() -> None:
    @dataclass
    class Mismatch:
        matches: bool = False

        def describe(self) -> str:
            return "NVDA: ledger 5, broker 4"

        def books(self) -> dict[str, int]:
            return {"ledger.NVDA": 5, "broker.NVDA": 4}

    engine = make_engine()
    assert engine.on_reconciliation(Mismatch()) is TradingState.HALTED
    assert "broker 4" in engine.state_record.reason


def test_reducing_expires_at_the_next_session_and_the_expiry_is_recorded() -> None:
    store = MemoryRiskStore()
    store.save_trading_state(StateRecord(TradingState.REDUCING, "stale", T0,
                                         RiskEventKind.STALE_DATA))
    same_day = RiskEngine(RiskLimits(), store, clock=fixed_clock(T0 + timedelta(hours=2)))
    assert same_day.state is TradingState.REDUCING
    next_day = RiskEngine(RiskLimits(), store, clock=fixed_clock(T0 + timedelta(days=1)))
    assert next_day.state is TradingState.ACTIVE
    assert store.states[-1].kind is RiskEventKind.REDUCING_EXPIRED


def test_halted_never_expires_on_its_own() -> None:
    store = MemoryRiskStore()
    store.save_trading_state(StateRecord(TradingState.HALTED, "loss", T0,
                                         RiskEventKind.DAILY_LOSS_LIMIT))
    later = RiskEngine(RiskLimits(), store, clock=fixed_clock(T0 + timedelta(days=30)))
    assert later.state is TradingState.HALTED


def test_refresh_sees_a_reset_recorded_by_another_process() -> None:
    store = MemoryRiskStore()
    running = make_engine(store)
    running.halt(RiskEventKind.MANUAL_HALT, "test")
    RiskEngine(RiskLimits(), store, clock=fixed_clock(T0 + timedelta(minutes=5))).reset("cli")
    assert running.state is TradingState.HALTED
    assert running.refresh() is TradingState.ACTIVE


@pytest.mark.parametrize("field", ["max_position_usd", "daily_loss_limit_usd"])
def test_risk_limits_when_not_positive_raise(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RiskLimits(**{field: D("0")})  # type: ignore[arg-type]


def test_risk_limits_from_settings_takes_the_three_dollar_limits() -> None:
    from intraday_jules.settings import Settings

    settings = Settings.from_env({"INTRADAY_JULES_MAX_POSITION": "500",
                                  "INTRADAY_JULES_DAILY_LOSS_LIMIT": "20",
                                  "INTRADAY_JULES_DRAWDOWN_LIMIT": "40"})
    limits = RiskLimits.from_settings(settings, allow_short=True)
    assert (limits.max_position_usd, limits.daily_loss_limit_usd, limits.drawdown_limit_usd,
            limits.allow_short) == (D("500"), D("20"), D("40"), True)


def test_on_fill_when_the_fill_takes_the_day_past_the_loss_limit_halts() -> None:
    engine = make_engine()
    book = book_holding(10, "100")
    sell = filled(intent(Side.SELL, 10, "94.90", minute=1), n=2)
    assert engine.on_fill(sell, book.with_fill(sell)) is TradingState.HALTED  # -$51 realised
    assert engine.state_record.ts == sell.ts
