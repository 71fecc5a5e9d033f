"""The action index map and what sell/hold/buy do to a position."""

from __future__ import annotations

import pytest

from intraday_jules.env import DualTickerTradingEnv
from intraday_jules.env.actions import (
    BUY,
    HOLD,
    SELL,
    PositionRules,
    decode_action,
    describe_action,
    encode_action,
)


def test_dual_action_index_is_three_times_nvda_plus_msft() -> None:
    for a_nvda in (SELL, HOLD, BUY):
        for a_msft in (SELL, HOLD, BUY):
            index = 3 * a_nvda + a_msft
            assert decode_action(index, 2) == (a_nvda, a_msft)
            assert DualTickerTradingEnv.decode_action(index) == (a_nvda, a_msft)
            assert encode_action((a_nvda, a_msft)) == index


def test_documented_corners_of_the_map() -> None:
    assert describe_action(0, ("NVDA", "MSFT")) == {"NVDA": "sell", "MSFT": "sell"}
    assert describe_action(2, ("NVDA", "MSFT")) == {"NVDA": "sell", "MSFT": "buy"}
    assert describe_action(4, ("NVDA", "MSFT")) == {"NVDA": "hold", "MSFT": "hold"}
    assert describe_action(7, ("NVDA", "MSFT")) == {"NVDA": "buy", "MSFT": "hold"}


def test_single_asset_map_is_sell_hold_buy() -> None:
    assert [decode_action(a, 1) for a in range(3)] == [(SELL,), (HOLD,), (BUY,)]


@pytest.mark.parametrize("action", [-1, 9])
def test_decode_refuses_out_of_range(action: int) -> None:
    with pytest.raises(ValueError, match="Discrete"):
        decode_action(action, 2)


RULES = PositionRules(max_position_notional=1000.0, step_notional=1000.0, allow_short=True)


def test_buy_from_flat_takes_whole_shares_up_to_the_cap() -> None:
    assert RULES.order_quantity(BUY, 0, 130.0) == 7  # 7 x 130 = 910 <= 1000 < 8 x 130


def test_sell_from_full_long_goes_flat_then_short() -> None:
    assert RULES.order_quantity(SELL, 7, 130.0) == -7
    assert RULES.order_quantity(SELL, 0, 130.0) == -7


def test_hold_never_trades() -> None:
    assert RULES.order_quantity(HOLD, 5, 130.0) == 0


def test_buy_at_the_cap_tops_up_only_when_another_share_fits() -> None:
    assert RULES.order_quantity(BUY, 7, 130.0) == 0
    assert RULES.order_quantity(BUY, 7, 120.0) == 1  # 8 x 120 = 960 fits


def test_buy_never_sells_even_when_the_position_drifted_above_the_cap() -> None:
    assert RULES.order_quantity(BUY, 7, 150.0) == 0  # 7 x 150 = 1050 > cap


def test_long_only_sell_stops_at_flat() -> None:
    long_only = PositionRules(allow_short=False)
    assert long_only.order_quantity(SELL, 0, 130.0) == 0
    assert long_only.order_quantity(SELL, 7, 130.0) == -7


def test_smaller_steps_move_the_position_by_step_notional() -> None:
    quarter = PositionRules(step_notional=250.0)
    assert quarter.order_quantity(BUY, 0, 100.0) == 2  # $250 / $100 -> 2 whole shares
    assert quarter.order_quantity(BUY, 2, 100.0) == 2  # $200 + $250 -> 4 shares
    assert quarter.order_quantity(BUY, 9, 100.0) == 1  # $900 + $250 -> capped at 10 shares


def test_sizing_exactly_at_the_cap_is_allowed() -> None:
    assert RULES.order_quantity(BUY, 0, 125.0) == 8  # 8 x 125 = 1000 exactly
