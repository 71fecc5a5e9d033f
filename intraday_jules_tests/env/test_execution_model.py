"""The execution model's money math, exact, and its float path pinned to the exact one."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from intraday_jules.domain.money import Money
from intraday_jules.domain.orders import Side
from intraday_jules.env.execution_model import ExecutionConfig, ExecutionModel

D = Decimal
MODEL = ExecutionModel()  # $0.005/share, min $1.00, max 1%, 1.0 + 0.5 bps


def test_buy_fills_above_next_open_by_half_spread_plus_impact() -> None:
    quote = MODEL.fill(Side.BUY, 100, D("100.00"))
    assert quote.price == D("100.015")  # 100 x (1 + 1.5 / 10,000)
    assert quote.slippage == Money(D("1.5"))  # 100 shares x $0.015
    assert quote.reference_price == D("100.00")


def test_sell_fills_below_next_open_by_half_spread_plus_impact() -> None:
    quote = MODEL.fill(Side.SELL, 100, D("100.00"))
    assert quote.price == D("99.985")
    assert quote.slippage == Money(D("1.5"))


def test_commission_small_order_pays_the_minimum() -> None:
    assert MODEL.commission(100, D("130")) == Money(D("1.00"))  # 100 x 0.005 = 0.50 < 1.00


def test_commission_large_order_pays_per_share() -> None:
    assert MODEL.commission(1000, D("130")) == Money(D("5.00"))


def test_commission_is_capped_at_one_percent_of_trade_value() -> None:
    # 10 shares of a $5 stock: value $50, 1% = $0.50, below the $1.00 minimum: the cap wins.
    assert MODEL.commission(10, D("5")) == Money(D("0.50"))
    # 1,000 shares at $0.30: per share $5.00 > 1% of $300 = $3.00.
    assert MODEL.commission(1000, D("0.30")) == Money(D("3.00"))


def test_commission_of_no_shares_is_zero() -> None:
    assert MODEL.commission(0, D("130")) == Money.zero()


def test_cost_multiplier_scales_slippage_and_commission_exactly() -> None:
    double = MODEL.with_cost_multiplier(2)
    quote = double.fill(Side.BUY, 100, D("100.00"))
    assert quote.price == D("100.03")
    assert quote.commission == Money(D("2.00"))
    free = MODEL.with_cost_multiplier(0).fill(Side.SELL, 7, D("136.385"))
    assert free.price == D("136.385")
    assert free.commission == Money.zero()
    assert free.slippage == Money.zero()


def test_cash_delta_buy_pays_notional_plus_commission_sell_receives_notional_minus_it() -> None:
    buy = MODEL.fill(Side.BUY, 7, D("136.385"))
    assert buy.notional == Money(D("136.385") * D("1.00015") * 7)
    assert buy.cash_delta == -(buy.notional + Money(D("1.00")))
    sell = MODEL.fill(Side.SELL, 7, D("136.385"))
    assert sell.cash_delta == sell.notional - Money(D("1.00"))


def test_float_price_is_read_through_its_shortest_repr() -> None:
    assert MODEL.fill(Side.BUY, 1, 136.385).reference_price == D("136.385")


@pytest.mark.parametrize("multiplier", [0, 1, 2])
def test_float_path_equals_exact_path(multiplier: int) -> None:
    model = MODEL.with_cost_multiplier(multiplier)
    rng = np.random.default_rng(3)
    for _ in range(500):
        quantity = int(rng.integers(1, 3000)) * (1 if rng.random() < 0.5 else -1)
        open_ = float(np.round(rng.uniform(0.2, 900.0), 4))
        price, fee, slip = model.fill_float(quantity, open_)
        exact = model.fill(Side.BUY if quantity > 0 else Side.SELL, abs(quantity), open_)
        assert price == pytest.approx(float(exact.price), rel=1e-12)
        assert fee == pytest.approx(float(exact.commission), abs=1e-4)  # Money keeps 4 places
        assert slip == pytest.approx(float(exact.slippage), abs=1e-4)


@pytest.mark.parametrize("quantity", [0, -5, 2.5, True])
def test_fill_refuses_non_positive_or_fractional_quantity(quantity: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        MODEL.fill(Side.BUY, quantity, D("100"))  # type: ignore[arg-type]


def test_fill_refuses_non_positive_price() -> None:
    with pytest.raises(ValueError, match="next_bar_open"):
        MODEL.fill(Side.BUY, 1, D("0"))


def test_config_refuses_negative_costs_naming_the_field() -> None:
    with pytest.raises(ValueError, match="impact_bps"):
        ExecutionConfig(impact_bps=D("-1"))


def test_config_round_trips_through_its_dict_exactly() -> None:
    config = ExecutionConfig(half_spread_bps="0.75", cost_multiplier=2)  # type: ignore[arg-type]
    assert ExecutionConfig.from_dict(config.to_dict()) == config
    assert config.half_spread_bps == D("0.75")
