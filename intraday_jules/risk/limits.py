"""Risk limits: the seed's defaults, each overridable per run.

Field names match ``intraday_jules.settings.Settings`` (``max_position_usd``,
``daily_loss_limit_usd``, ``drawdown_limit_usd``) so a run maps its settings straight across
with ``RiskLimits.from_settings``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from intraday_jules.domain.orders import exact


class RiskSettings(Protocol):
    """The part of the settings the limits come from (``Settings`` satisfies it)."""

    @property
    def max_position_usd(self) -> Decimal: ...

    @property
    def daily_loss_limit_usd(self) -> Decimal: ...

    @property
    def drawdown_limit_usd(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Hard limits the policy can never exceed.

    max_position_usd: largest notional of one symbol's position (after an order, at the
        order's reference price). Orders that would exceed it are shrunk to fit.
    daily_loss_limit_usd: equity loss since the session start that latches HALTED.
    drawdown_limit_usd: equity loss from the high-water mark that latches HALTED.
    max_order_usd: largest notional of one policy order (a fat-finger guard).
    max_orders_per_minute: policy orders approved per minute of bar time (flattening exempt).
    allow_short: whether a sell may take a position below zero. Off by default: a long-only
        book cannot lose more than it paid, and the paper account needs no borrow.
    """

    max_position_usd: Decimal = Decimal("1000")
    daily_loss_limit_usd: Decimal = Decimal("50")
    drawdown_limit_usd: Decimal = Decimal("100")
    max_order_usd: Decimal = Decimal("1000")
    max_orders_per_minute: int = 10
    allow_short: bool = False

    def __post_init__(self) -> None:
        for name in ("max_position_usd", "daily_loss_limit_usd", "drawdown_limit_usd",
                     "max_order_usd"):
            value = exact(getattr(self, name), name)
            if value <= 0:
                raise ValueError(f"risk limit {name} must be > 0, got {value}")
            object.__setattr__(self, name, value)
        rate = self.max_orders_per_minute
        if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
            raise ValueError(f"max_orders_per_minute must be an integer > 0, got {rate!r}")

    @classmethod
    def from_settings(cls, settings: RiskSettings, **overrides: Any) -> RiskLimits:
        """Limits from the run's settings, then explicit overrides (e.g. CLI flags)."""
        base = cls(max_position_usd=settings.max_position_usd,
                   daily_loss_limit_usd=settings.daily_loss_limit_usd,
                   drawdown_limit_usd=settings.drawdown_limit_usd)
        return replace(base, **overrides)

    def describe(self) -> dict[str, str | int | bool]:
        """The limits as JSON-safe values (money as exact strings)."""
        return {
            "max_position_usd": str(self.max_position_usd),
            "daily_loss_limit_usd": str(self.daily_loss_limit_usd),
            "drawdown_limit_usd": str(self.drawdown_limit_usd),
            "max_order_usd": str(self.max_order_usd),
            "max_orders_per_minute": self.max_orders_per_minute,
            "allow_short": self.allow_short,
        }
