"""Session reconciliation (shadow replay): what the evaluation would have done vs the ledger.

After a traded session, ``reconcile_session`` replays the session's stored bars through the
evaluation path (``shadow_replay``) with the model, seed and action mode the ledger recorded
for the session (``session_policies``), and compares with what the ledger says happened:

- decisions: on every bar where the live policy was consulted (a decision row whose
  ``detail.actions`` is set: decide minutes and the forced flatten), the same action per
  symbol as the replay's decision on that bar; a bar decided on one side only is a mismatch.
- orders: every POLICY order of the ledger (quantity and side, per symbol and decision bar)
  against the env's trade on that decision. Risk-engine orders (``origin`` FLATTEN: the flatten
  before the close, or any flatten while HALTED) are not policy orders and are left out, as
  are the env's forced-flatten trades; a policy order the risk engine denied or shrank shows
  as a mismatch, because the replay has no risk engine.
- fills: every fill of the ledger (risk-engine ones included) against the execution model's
  price for its order: the open of the symbol's first stored bar after the decision bar, moved
  by the modelled slippage and quantised as the simulated broker does. Implementation shortfall
  in $ = sum of (live price - model price) x signed quantity (positive = cost), and in bps of
  the model notional.

A session traded only in part is compared up to its last recorded decision. The verdict is
``match`` when no decision and no order differs (the shortfall is reported, not judged: on the
simulated broker it is exactly zero, against a real or fake gateway it is the slippage paid).
Money is exact (``Decimal`` from the ledger); only ``shortfall_bps`` is a float.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from intraday_jules.agent.policy import ActionMode
from intraday_jules.broker.simulated import PRICE_QUANTUM
from intraday_jules.domain.calendar import session_window
from intraday_jules.domain.orders import Fill, IntentOrigin, Order
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.store import BarStore
from intraday_jules.pipelines.shadow_replay import ReplayStep, replay_session

MAX_LISTED = 20  # mismatches listed in the JSON (all are counted)
Key = tuple[datetime, str]


class ReconciliationError(ValueError):
    """The session cannot be replayed (no recorded model, no stored bars...); says why."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One difference: a decision ("buy" vs "sell") or an order ("BUY 7" vs None)."""

    ts: datetime
    symbol: str
    live: str | None
    replay: str | None

    def to_json(self) -> dict[str, Any]:
        return {"ts": self.ts.isoformat().replace("+00:00", "Z"), "symbol": self.symbol,
                "live": self.live, "replay": self.replay}


@dataclass(frozen=True)
class SessionReconciliation:
    """The comparison of one session (see the module docstring for each count)."""

    session: date
    model_id: str
    decisions: int
    decision_mismatches: int
    orders: int
    order_mismatches: int
    fills: int
    shortfall_usd: Decimal
    shortfall_bps: float
    mismatches: tuple[Mismatch, ...]

    @property
    def verdict(self) -> str:
        return "match" if self.decision_mismatches == self.order_mismatches == 0 else "diverged"

    def to_json(self) -> dict[str, Any]:
        """The ``reconcile --json`` object (the first ``MAX_LISTED`` mismatches)."""
        return {"session": self.session.isoformat(), "model_id": self.model_id,
                "decisions": self.decisions, "decision_mismatches": self.decision_mismatches,
                "orders": self.orders, "order_mismatches": self.order_mismatches,
                "fills": self.fills, "shortfall_usd": float(self.shortfall_usd),
                "shortfall_bps": self.shortfall_bps, "verdict": self.verdict,
                "mismatches": [m.to_json() for m in self.mismatches[:MAX_LISTED]]}


def reconcile_session(session: date, *, ledger: Ledger, store: BarStore, models_dir: Path,
                      execution: ExecutionModel | None = None) -> SessionReconciliation:
    """Replay ``session`` with its recorded model and compare with ``ledger``.

    ``execution``: the simulated broker's execution model (default: the default model, as
    ``SessionConfig.execution``). Raises ``ReconciliationError`` when there is nothing to
    replay: no run recorded, a policy without a model, runs with different models, no bars.
    """
    from intraday_jules.agent import ModelStore

    model_id, seed, mode = recorded_model(ledger, session)
    bundle = ModelStore(models_dir, ledger.engine, migrate=False).load(model_id)
    bars = session_bars(store, session, bundle.symbols)
    model = execution or bundle.execution.execution_model()
    steps = replay_session(bundle, bars, session, seed=seed, mode=mode, execution=model)
    return compare(session, model_id, ledger, steps, bars, model)


def recorded_model(ledger: Ledger, session: date) -> tuple[str, int, ActionMode]:
    """(model id, seed, action mode) of the one model that traded ``session``, from
    ``session_policies`` (else a clear error)."""
    runs = ledger.session_policies(session)
    if not runs:
        raise ReconciliationError(
            f"session {session} has no recorded policy in the ledger: it was not traded here "
            "(or before session policies were recorded), so there is nothing to replay")
    last = runs[-1]
    if last.model_id is None or last.seed is None:
        raise ReconciliationError(
            f"session {session} was traded by policy {last.policy!r}, which has no model to "
            "replay (reconcile sessions traded by the promoted model or --policy model:ID)")
    others = sorted({f"{r.policy} ({r.model_id})" for r in runs if not r.same_policy(last)})
    if others:
        raise ReconciliationError(
            f"session {session} was traded by more than one policy: {', '.join(others)} and "
            f"{last.policy} ({last.model_id}); a replay needs a single model")
    mode = last.mode or "sample"
    if mode not in ("sample", "argmax"):
        raise ReconciliationError(f"session {session}: unknown action mode {mode!r} recorded")
    return last.model_id, last.seed, mode  # type: ignore[return-value]  # checked just above


def session_bars(store: BarStore, session: date, symbols: Iterable[str]) -> pd.DataFrame:
    """The session's stored regular-hours bars of ``symbols`` (a clear error if none)."""
    window = session_window(session)
    bars = store.read(list(symbols), window.open, window.close)
    if bars.empty:
        raise ReconciliationError(f"no stored bars of {', '.join(symbols)} for session "
                                  f"{session}: the session's bars are needed to replay it")
    return bars.drop(columns=["source"], errors="ignore")


def compare(session: date, model_id: str, ledger: Ledger, steps: list[ReplayStep],
            bars: pd.DataFrame, model: ExecutionModel) -> SessionReconciliation:
    """Decisions, policy orders and fills of the ledger against the replay's ``steps``."""
    live_decisions = {d.ts: dict(d.detail["actions"]) for d in ledger.decisions(session)
                      if d.detail.get("actions")}
    last = max(live_decisions, default=None)
    steps = [s for s in steps if last is not None and s.ts <= last]
    orders = ledger.orders(session)
    live_orders = {(o.ts, o.symbol): o.signed_quantity for o in orders
                   if o.origin is IntentOrigin.POLICY}
    replay_orders = {(s.ts, symbol): q for s in steps if not s.forced_flatten
                     for symbol, q in s.trades.items()}
    decided = decision_mismatches(live_decisions, {s.ts: s.actions for s in steps})
    ordered = order_mismatches(live_orders, replay_orders)
    fills = ledger.fills(session)
    usd, bps = shortfall(fills, {o.client_order_id: o for o in orders}, bars, model)
    listed = sorted([*decided, *ordered], key=lambda m: (m.ts, m.symbol))
    return SessionReconciliation(
        session=session, model_id=model_id, decisions=len(live_decisions),
        decision_mismatches=len({m.ts for m in decided}), orders=len(live_orders),
        order_mismatches=len(ordered), fills=len(fills), shortfall_usd=usd,
        shortfall_bps=bps, mismatches=tuple(listed))


def decision_mismatches(live: Mapping[datetime, Mapping[str, str]],
                        replay: Mapping[datetime, Mapping[str, str]]) -> list[Mismatch]:
    """Per (bar, symbol), the actions that differ (None: no decision on that side)."""
    out = []
    for ts in sorted(set(live) | set(replay)):
        ours, theirs = live.get(ts, {}), replay.get(ts, {})
        for symbol in sorted(set(ours) | set(theirs)):
            if ours.get(symbol) != theirs.get(symbol):
                out.append(Mismatch(ts, symbol, ours.get(symbol), theirs.get(symbol)))
    return out


def order_mismatches(live: Mapping[Key, int], replay: Mapping[Key, int]) -> list[Mismatch]:
    """Per (bar, symbol), the policy orders that differ in side or quantity."""
    return [Mismatch(ts, symbol, _order_text(live.get((ts, symbol))),
                     _order_text(replay.get((ts, symbol))))
            for ts, symbol in sorted(set(live) | set(replay))
            if live.get((ts, symbol)) != replay.get((ts, symbol))]


def _order_text(signed: int | None) -> str | None:
    if not signed:
        return None
    return f"{'BUY' if signed > 0 else 'SELL'} {abs(signed)}"


def shortfall(fills: list[Fill], orders: Mapping[str, Order], bars: pd.DataFrame,
              model: ExecutionModel) -> tuple[Decimal, float]:
    """Implementation shortfall of ``fills`` against the execution model: ($, bps)."""
    opens = {symbol: frame.sort_values("ts") for symbol, frame in bars.groupby("symbol")}
    usd, notional = Decimal(0), Decimal(0)
    for fill in fills:
        order = orders[fill.client_order_id]
        price = model_price(order, opens.get(order.symbol), model)
        usd += (fill.price - price) * fill.signed_quantity
        notional += price * fill.quantity
    bps = float(usd / notional * 10_000) if notional else 0.0
    return usd, bps


def model_price(order: Order, bars: pd.DataFrame | None, model: ExecutionModel) -> Decimal:
    """The execution model's fill price of ``order``: the next stored bar's open + slippage,
    quantised to the ledger's 8 decimals as the simulated broker does."""
    later = None if bars is None else bars[bars["ts"] > pd.Timestamp(order.ts)]
    if later is None or later.empty:
        raise ReconciliationError(
            f"order {order.client_order_id} ({order.symbol}, decided on "
            f"{order.ts.isoformat()}) was filled but no stored {order.symbol} bar follows its "
            "decision bar, so the execution model cannot price it")
    next_open = float(later["open"].iloc[0])
    return model.fill_price(order.side, Decimal(repr(next_open))).quantize(
        PRICE_QUANTUM, ROUND_HALF_EVEN)


def reconcile_at(session: date, *, database_url: str, models_dir: Path,
                 execution: ExecutionModel | None = None) -> SessionReconciliation:
    """``reconcile_session`` on the database at ``database_url`` (the CLI's entry point)."""
    ledger = Ledger.connect(database_url)
    store = BarStore(ledger.engine)
    try:
        return reconcile_session(session, ledger=ledger, store=store, models_dir=models_dir,
                                 execution=execution)
    finally:
        store.close()
        ledger.engine.dispose()
