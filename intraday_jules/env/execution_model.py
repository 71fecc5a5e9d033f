"""The one execution model: how a decision becomes a fill, and what the fill costs.

The training env, the evaluation and the simulated broker all price fills here, so a backtest
and a simulated session of the same decisions pay the same costs. Two paths evaluate the same
formulas: floats (``fill_float``) for the env's hot loop, and exact ``Decimal``/``Money``
(``fill``) for the broker and the ledger. Tests pin the two to each other.

Timing (no look-ahead): a decision taken on bar t's close fills at bar t+1's open. Every pricing
method takes that one number, ``next_bar_open``, and nothing else from the market, so no price
the decision saw (bar t) and nothing later than t+1's open can reach a fill.

Formulas (``m`` = ``cost_multiplier``: 0 frictionless, 1 modelled costs, 2 stress):
- fill price = next_bar_open × (1 + s × (half_spread_bps + impact_bps) × m / 10,000), where
  s = +1 for a buy and -1 for a sell: always worse for the trader.
- commission = m × min(max(per_share × shares, minimum), max_pct × shares × fill price): IBKR's
  fixed pricing ($0.005/share, min $1.00, max 1% of trade value). On a trade worth under $100 the
  1% maximum is below the minimum, and the maximum wins, as at IBKR.
- slippage (reported, already inside the fill price) = shares × |fill price - next_bar_open|.
Impact is a flat number of bps: our orders are at most ~$1,000, far below a 1-minute bar's
traded value for NVDA or MSFT, so a size-dependent impact term would be ~0.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, fields
from decimal import Decimal

from intraday_jules.domain.money import Money
from intraday_jules.domain.orders import Side

BPS = Decimal(10_000)
PriceLike = Decimal | Money | int | str | float


def to_decimal(value: PriceLike) -> Decimal:
    """Exact Decimal of a price; a float goes through its shortest repr (136.385 stays 136.385)."""
    if isinstance(value, Money):
        return value.amount
    if isinstance(value, bool):
        raise TypeError("a price cannot be a bool")
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    """Cost parameters, exact. Every field accepts Decimal, int, str or float (via its repr).

    half_spread_bps: half the bid-ask spread paid on each fill (1 bps ≈ 1.3 cents on NVDA at $130,
        about three times NVDA's typical 1-cent half spread: deliberately conservative).
    impact_bps: extra adverse move per fill for taking liquidity.
    commission_per_share / commission_min / commission_max_pct: IBKR fixed pricing (max is a
        fraction of trade value: 0.01 = 1%).
    cost_multiplier: scales slippage and commission together (0x, 1x, 2x in evaluation).
    """

    half_spread_bps: Decimal = Decimal("1.0")
    impact_bps: Decimal = Decimal("0.5")
    commission_per_share: Decimal = Decimal("0.005")
    commission_min: Decimal = Decimal("1.00")
    commission_max_pct: Decimal = Decimal("0.01")
    cost_multiplier: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = to_decimal(getattr(self, f.name))
            if not value.is_finite() or value < 0:
                raise ValueError(f"ExecutionConfig.{f.name} must be a finite number >= 0, "
                                 f"got {getattr(self, f.name)!r}")
            object.__setattr__(self, f.name, value)

    @property
    def slippage_bps(self) -> Decimal:
        """Total adverse bps per fill after the cost multiplier."""
        return (self.half_spread_bps + self.impact_bps) * self.cost_multiplier

    def to_dict(self) -> dict[str, str]:
        """Exact, JSON-safe form (strings), for saving with a model or an evaluation report."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> ExecutionConfig:
        return cls(**{k: Decimal(v) for k, v in data.items()})


@dataclass(frozen=True, slots=True)
class FillQuote:
    """One modelled fill, exact. ``price`` already includes slippage; ``commission`` does not."""

    side: Side
    quantity: int
    reference_price: Decimal
    price: Decimal
    commission: Money
    slippage: Money

    @property
    def notional(self) -> Money:
        """Trade value at the fill price (always positive)."""
        return Money(self.price * self.quantity)

    @property
    def cash_delta(self) -> Money:
        """Change in cash: a buy pays notional + commission, a sell receives notional - it."""
        return -self.notional - self.commission if self.side is Side.BUY else (
            self.notional - self.commission)


@dataclass(frozen=True, slots=True)
class ExecutionModel:
    """Prices fills from the next bar's open; see the module docstring for the formulas."""

    config: ExecutionConfig = field(default_factory=ExecutionConfig)
    # Float mirrors of the config, computed once so the env's step does no Decimal work.
    _buy_factor: float = field(init=False, repr=False, compare=False)
    _sell_factor: float = field(init=False, repr=False, compare=False)
    _per_share: float = field(init=False, repr=False, compare=False)
    _minimum: float = field(init=False, repr=False, compare=False)
    _max_pct: float = field(init=False, repr=False, compare=False)
    _multiplier: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        c = self.config
        slip = c.slippage_bps / BPS
        for name, value in (("_buy_factor", 1 + slip), ("_sell_factor", 1 - slip),
                            ("_per_share", c.commission_per_share),
                            ("_minimum", c.commission_min), ("_max_pct", c.commission_max_pct),
                            ("_multiplier", c.cost_multiplier)):
            object.__setattr__(self, name, float(value))

    def with_cost_multiplier(self, multiplier: PriceLike) -> ExecutionModel:
        """The same model with costs scaled (evaluation runs 0x, 1x and 2x)."""
        fields_now = {f.name: getattr(self.config, f.name) for f in fields(self.config)}
        return ExecutionModel(ExecutionConfig(**{**fields_now, "cost_multiplier": multiplier}))

    # ---- exact path: broker, ledger, evaluation reports -------------------------------------

    def fill_price(self, side: Side, next_bar_open: PriceLike) -> Decimal:
        """Exact fill price: the next bar's open moved against the trader by the slippage."""
        reference = to_decimal(next_bar_open)
        if not reference.is_finite() or reference <= 0:
            raise ValueError(f"next_bar_open must be a finite price > 0, got {next_bar_open!r}")
        return reference * (1 + side.sign * self.config.slippage_bps / BPS)

    def commission(self, quantity: int, price: PriceLike) -> Money:
        """Exact commission for ``quantity`` shares filled at ``price`` (0 for no shares)."""
        quantity = _check_quantity(quantity, allow_zero=True)
        if quantity == 0:
            return Money.zero()
        c = self.config
        value = to_decimal(price) * quantity
        base = min(max(c.commission_per_share * quantity, c.commission_min),
                   c.commission_max_pct * value)
        return Money(base * c.cost_multiplier)

    def fill(self, side: Side, quantity: int, next_bar_open: PriceLike) -> FillQuote:
        """The exact fill of an order for ``quantity`` (> 0) shares decided on the prior bar."""
        quantity = _check_quantity(quantity, allow_zero=False)
        reference = to_decimal(next_bar_open)
        price = self.fill_price(side, reference)
        return FillQuote(side=side, quantity=quantity, reference_price=reference, price=price,
                         commission=self.commission(quantity, price),
                         slippage=Money(abs(price - reference) * quantity))

    # ---- float path: the env's step ---------------------------------------------------------

    def fill_float(self, signed_quantity: int, next_bar_open: float) -> tuple[float, float, float]:
        """(fill price, commission, slippage cost) for +buy/-sell shares; same formulas as
        ``fill``, in floats, without validation (the env only sends integer share counts)."""
        if signed_quantity > 0:
            price = next_bar_open * self._buy_factor
            shares = signed_quantity
        else:
            price = next_bar_open * self._sell_factor
            shares = -signed_quantity
        commission = shares * self._per_share
        if commission < self._minimum:
            commission = self._minimum
        cap = self._max_pct * shares * price
        if commission > cap:
            commission = cap
        return price, commission * self._multiplier, shares * abs(price - next_bar_open)


def _check_quantity(quantity: int, *, allow_zero: bool) -> int:
    """Whole shares only (numpy integers accepted): fractional shares are not modelled."""
    if isinstance(quantity, bool) or not isinstance(quantity, numbers.Integral):
        raise TypeError(f"quantity must be a whole number of shares (int), got {quantity!r}")
    if quantity < 0 or (quantity == 0 and not allow_zero):
        raise ValueError(f"quantity must be {'>= 0' if allow_zero else '> 0'}, got {quantity}")
    return int(quantity)
