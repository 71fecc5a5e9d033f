"""What the agent's actions mean: the action index map and the position-sizing rule.

Shared by the envs and, later, by the live loop that turns a policy's action into an order
intent, so an action means the same shares in training, evaluation and trading.

Per asset there are three actions: 0 = sell, 1 = hold, 2 = buy. With several assets the action
is the base-3 number whose digits are the per-asset actions, the FIRST symbol being the most
significant digit. For the dual env (NVDA, MSFT): ``action = 3 * a_nvda + a_msft``:

=====  =====  =====      =====  =====  =====      =====  =====  =====
index  NVDA   MSFT       index  NVDA   MSFT       index  NVDA   MSFT
=====  =====  =====      =====  =====  =====      =====  =====  =====
0      sell   sell       3      hold   sell       6      buy    sell
1      sell   hold       4      hold   hold       7      buy    hold
2      sell   buy        5      hold   buy        8      buy    buy
=====  =====  =====      =====  =====  =====      =====  =====  =====
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SELL, HOLD, BUY = 0, 1, 2
ACTIONS_PER_ASSET = 3
ACTION_NAMES: tuple[str, ...] = ("sell", "hold", "buy")


def n_actions(n_assets: int) -> int:
    """Size of the joint Discrete action space: 3 ** n_assets."""
    return int(ACTIONS_PER_ASSET**n_assets)


def decode_action(action: int, n_assets: int) -> tuple[int, ...]:
    """Per-asset actions (SELL/HOLD/BUY), first asset first; ``decode_action(7, 2) == (2, 1)``."""
    index = int(action)
    if not 0 <= index < n_actions(n_assets):
        raise ValueError(f"action {action!r} is outside Discrete({n_actions(n_assets)})")
    digits = []
    for _ in range(n_assets):
        index, digit = divmod(index, ACTIONS_PER_ASSET)
        digits.append(digit)
    return tuple(reversed(digits))


def encode_action(per_asset: Sequence[int]) -> int:
    """Inverse of ``decode_action``: ``encode_action((BUY, HOLD)) == 7``."""
    index = 0
    for digit in per_asset:
        if digit not in (SELL, HOLD, BUY):
            raise ValueError(f"per-asset action must be 0 (sell), 1 (hold) or 2 (buy), got {digit}")
        index = index * ACTIONS_PER_ASSET + int(digit)
    return index


def describe_action(action: int, symbols: Sequence[str]) -> dict[str, str]:
    """Human-readable map, e.g. ``{"NVDA": "buy", "MSFT": "hold"}`` (for logs and reports)."""
    return {s: ACTION_NAMES[a] for s, a in zip(symbols, decode_action(action, len(symbols)),
                                               strict=True)}


@dataclass(frozen=True, slots=True)
class PositionRules:
    """How sell/hold/buy move one asset's position, in whole shares.

    max_position_notional: cap on |shares| × price when an order is sized ($1,000, the seed's
        value). Held positions drift with the price; the cap binds every new order, as in the
        risk engine.
    step_notional: dollars of exposure one buy adds (or one sell removes). The default equals
        the cap, so from flat one buy goes fully long and, with shorts allowed, positions take
        three levels: -cap, 0, +cap.
    allow_short: if False (the default) a sell never takes the position below zero
        (long-only, as the live loop and the risk engine's default limits trade).
    """

    max_position_notional: float = 1000.0
    step_notional: float = 1000.0
    allow_short: bool = False

    def __post_init__(self) -> None:
        if not self.max_position_notional > 0 or not self.step_notional > 0:
            raise ValueError("max_position_notional and step_notional must be > 0, got "
                             f"{self.max_position_notional} and {self.step_notional}")

    def order_quantity(self, per_asset_action: int, shares: int, decision_price: float) -> int:
        """Signed shares to trade (+buy, -sell) for one asset.

        Sized on ``decision_price`` (the close of the bar the decision saw) because the fill
        price, the next bar's open, is unknown when the order is sent. The target is the current
        notional ± ``step_notional``, clipped to the cap (and at 0 when long-only), truncated
        toward zero to whole shares. A buy never sells and a sell never buys: at the cap a buy
        only tops the position up when the price has fallen enough to fit another share.
        """
        if per_asset_action == HOLD:
            return 0
        cap = self.max_position_notional
        direction = 1 if per_asset_action == BUY else -1
        floor = -cap if self.allow_short else 0.0
        target = min(max(shares * decision_price + direction * self.step_notional, floor), cap)
        target_shares = int(target / decision_price)
        if abs(target_shares) * decision_price > cap:  # float rounding at the boundary
            target_shares -= 1 if target_shares > 0 else -1
        quantity = target_shares - shares
        return max(quantity, 0) if direction > 0 else min(quantity, 0)

    def flatten_quantity(self, shares: int) -> int:
        """Signed shares that close the position (used before the session close)."""
        return -shares
