"""Orders, fills, positions and the book: deterministic ids and exact money."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intraday_jules.domain.orders import (
    Fill,
    IntentOrigin,
    Order,
    OrderIntent,
    OrderStatus,
    Side,
    client_order_id_for,
)
from intraday_jules.domain.portfolio import Book, Lot, Position, positions_from_fills

BAR = datetime(2025, 2, 3, 14, 31, tzinfo=UTC)


def fill(side: Side, quantity: int, price: str, commission: str = "0", *, symbol: str = "NVDA",
         n: int = 0) -> Fill:
    return Fill(BAR + timedelta(seconds=n), symbol, side, quantity, D(price), D(commission),
                "IJ-20250203-1431-NVDA", f"E{n}")


def test_client_order_id_is_derived_from_session_bar_and_symbol() -> None:
    order = Order.from_intent(OrderIntent("NVDA", Side.BUY, 3, BAR, D("120.5")))
    assert order.client_order_id == "IJ-20250203-1431-NVDA"
    assert order.session == date(2025, 2, 3)
    again = Order.from_intent(OrderIntent("NVDA", Side.SELL, 7, BAR, D("99")))
    assert again.client_order_id == order.client_order_id  # same decision slot, same id


def test_client_order_id_for_flatten_differs_from_policy_order_on_same_bar() -> None:
    policy = client_order_id_for(date(2025, 2, 3), BAR, "NVDA")
    flatten = client_order_id_for(date(2025, 2, 3), BAR, "NVDA", IntentOrigin.FLATTEN)
    assert flatten == "IJF-20250203-1431-NVDA"
    assert policy != flatten


def test_client_order_id_when_ts_not_a_bar_start_raises() -> None:
    with pytest.raises(ValueError, match="minute-aligned"):
        client_order_id_for(date(2025, 2, 3), BAR + timedelta(seconds=5), "NVDA")


def test_order_intent_when_price_is_float_raises() -> None:
    with pytest.raises(TypeError, match="reference_price"):
        OrderIntent("NVDA", Side.BUY, 1, BAR, 120.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("quantity", [0, -3, True, 1.5])
def test_order_intent_when_quantity_not_whole_positive_raises(quantity: object) -> None:
    with pytest.raises(ValueError, match="quantity"):
        OrderIntent("NVDA", Side.BUY, quantity, BAR, D("1"))  # type: ignore[arg-type]


def test_order_intent_when_ts_naive_raises() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        OrderIntent("NVDA", Side.BUY, 1, datetime(2025, 2, 3, 14, 31), D("1"))  # noqa: DTZ001


def test_fill_when_commission_negative_raises() -> None:
    with pytest.raises(ValueError, match="commission"):
        fill(Side.BUY, 1, "10", "-0.01")


def test_order_status_terminal_states_are_filled_cancelled_rejected() -> None:
    assert {s for s in OrderStatus if s.is_terminal} == {
        OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED}


def test_position_from_fills_sums_tenths_exactly() -> None:
    position = Position.from_fills([fill(Side.BUY, 1, "0.1", n=1), fill(Side.BUY, 1, "0.2", n=2)])
    assert position.cost_basis == D("0.3")
    closed = position.apply(fill(Side.SELL, 2, "0.3", n=3))
    assert closed.quantity == 0
    assert closed.realised_pnl == D("0.3")  # (0.3 - 0.1) + (0.3 - 0.2), exactly


def test_position_from_partial_fills_equals_one_whole_fill() -> None:
    parts = Position.from_fills([fill(Side.BUY, 3, "100.01", "0.35", n=1),
                                 fill(Side.BUY, 7, "100.01", "0.65", n=2)])
    whole = Position.from_fills([fill(Side.BUY, 10, "100.01", "1.00", n=3)])
    assert (parts.quantity, parts.cost_basis, parts.commissions) == (
        whole.quantity, whole.cost_basis, whole.commissions)


def test_position_flip_through_zero_realises_the_closed_part() -> None:
    long_then_short = Position.from_fills([fill(Side.BUY, 10, "100", n=1),
                                           fill(Side.SELL, 15, "110", n=2)])
    assert long_then_short.quantity == -5
    assert long_then_short.realised_pnl == D("100")
    assert long_then_short.lots == (Lot(-5, D("110")),)
    flat = long_then_short.apply(fill(Side.BUY, 5, "105", n=3))
    assert (flat.quantity, flat.lots, flat.realised_pnl) == (0, (), D("125"))


def test_position_closes_lots_first_in_first_out() -> None:
    position = Position.from_fills([fill(Side.BUY, 2, "10", n=1), fill(Side.BUY, 2, "20", n=2),
                                    fill(Side.SELL, 3, "30", n=3)])
    assert position.realised_pnl == D("50")  # 2 * (30 - 10) + 1 * (30 - 20)
    assert position.lots == (Lot(1, D("20")),)
    assert position.average_cost == D("20")


def test_position_apply_fill_of_other_symbol_raises() -> None:
    with pytest.raises(ValueError, match="MSFT"):
        Position("NVDA").apply(fill(Side.BUY, 1, "1", symbol="MSFT"))


prices = st.decimals(min_value=D("0.01"), max_value=D("999.99"), places=2)
fills_strategy = st.lists(st.tuples(st.sampled_from(list(Side)), st.integers(1, 500), prices,
                                    st.decimals(min_value=0, max_value=D("5"), places=4)),
                          max_size=40)


@settings(max_examples=150, deadline=None)
@given(fills_strategy, prices)
def test_position_pnl_equals_cash_flows_for_any_fill_sequence(
        items: list[tuple[Side, int, D, D]], mark: D) -> None:
    fills = [Fill(BAR + timedelta(seconds=i), "NVDA", side, q, p, c, "IJ-X", f"E{i}")
             for i, (side, q, p, c) in enumerate(items)]
    position = Position.from_fills(fills, "NVDA")
    flows = sum((-f.signed_quantity * f.price for f in fills), D(0))
    assert position.quantity == sum(f.signed_quantity for f in fills)
    assert position.realised_pnl + position.unrealised_pnl(mark) == flows + position.quantity * mark
    assert position.commissions == sum((f.commission for f in fills), D(0))
    assert sum(lot.quantity for lot in position.lots) == position.quantity


@settings(max_examples=100, deadline=None)
@given(fills_strategy, prices)
def test_book_equity_is_cash_plus_marked_positions_for_any_fills(
        items: list[tuple[Side, int, D, D]], mark: D) -> None:
    fills = [Fill(BAR + timedelta(seconds=i), "NVDA", side, q, p, c, "IJ-X", f"E{i}")
             for i, (side, q, p, c) in enumerate(items)]
    book = Book.from_fills(fills, starting_cash=D("10000"), marks={"NVDA": mark})
    position = book.position("NVDA")
    assert book.equity == (D("10000") + position.net_realised_pnl
                           + position.unrealised_pnl(mark))
    stepwise = Book(D("10000"))
    for f in fills:
        stepwise = stepwise.with_fill(f)
    assert stepwise.with_marks({"NVDA": mark}).equity == book.equity


def test_book_from_fills_gives_cash_equity_and_loss_measures() -> None:
    fills = [fill(Side.BUY, 10, "100", "1", n=1)]
    book = Book.from_fills(fills, starting_cash=D("10000"), marks={"NVDA": D("95")},
                           session_start_equity=D("10000"))
    assert book.cash == D("8999")
    assert book.equity == D("9949")
    assert book.daily_pnl == D("-51")
    assert book.drawdown == D("51")  # high-water mark is the starting cash


def test_book_high_water_mark_follows_equity_up_not_down() -> None:
    book = Book.from_fills([fill(Side.BUY, 10, "100", n=1)], starting_cash=D("1000"))
    up = book.with_marks({"NVDA": D("120")})
    down = up.with_marks({"NVDA": D("90")})
    assert up.high_water_mark == D("1200")
    assert down.high_water_mark == D("1200")
    assert down.drawdown == D("300")


def test_book_when_open_position_has_no_price_raises() -> None:
    with pytest.raises(ValueError, match="no mark"):
        Book(D("0"), {"NVDA": Position("NVDA", 5, (Lot(5, D("1")),))})


def test_book_exposure_counts_pending_orders() -> None:
    book = Book.from_fills([fill(Side.BUY, 4, "10", n=1)], starting_cash=D("100"),
                           pending={"NVDA": 3, "MSFT": -2})
    assert (book.exposure("NVDA"), book.exposure("MSFT"), book.quantity("MSFT")) == (7, -2, 0)


def test_positions_from_fills_keeps_symbols_apart() -> None:
    positions = positions_from_fills([fill(Side.BUY, 1, "10", n=1),
                                      fill(Side.SELL, 2, "20", symbol="MSFT", n=2)])
    assert {s: p.quantity for s, p in positions.items()} == {"NVDA": 1, "MSFT": -2}
