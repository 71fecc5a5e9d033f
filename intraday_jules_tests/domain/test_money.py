from decimal import Decimal

import pytest

from intraday_jules.domain.money import Money


def test_money_sums_are_exact():
    total = Money.of("0.1") + Money.of("0.2")
    assert total == Money.of("0.3")
    assert sum((Money.of("0.01") for _ in range(100)), Money.zero()) == Money.of(1)


def test_money_refuses_implicit_floats():
    with pytest.raises(TypeError):
        Money.of(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money.of(1) * 0.5  # type: ignore[operator]
    assert Money.from_float(136.385).amount == Decimal("136.3850")


def test_money_formats_as_dollars_and_cents():
    assert str(Money.of("-1234.5")) == "-$1,234.50"
    assert Money.of("2.005").cents() == Decimal("2.00")  # banker's rounding, documented
