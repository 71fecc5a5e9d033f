"""The risk engine: outside the policy, so no action of the model can exceed a limit.

The trading loop asks ``evaluate(intent, book)`` before every order and calls ``check(book)``
(or ``on_fill``) whenever prices or positions change. Hitting the daily loss or drawdown limit
latches HALTED; a failed data check, stale or bad bars, an unknown broker message or a model
that fails to load put trading in REDUCING (``reduce``). Both are persisted through the
``RiskStore`` (the ledger's ``trading_state`` table), so a restarted engine starts in the
state the last one left. REDUCING lasts for the rest of its session; HALTED lasts until
``reset(reason)``.

A reset re-bases the loss measures: from the first book the engine sees after it, the daily
loss and the drawdown are measured from that equity (otherwise an unchanged loss would halt
again at once). A run resuming after a reset should build its book from the ledger's
since-reset high-water mark and session start (see ``Ledger.high_water_mark``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.domain.orders import Fill, IntentOrigin, OrderIntent, Side
from intraday_jules.domain.portfolio import Book
from intraday_jules.domain.risk_state import (
    JsonScalar,
    RiskEvent,
    RiskEventKind,
    RiskStore,
    StateRecord,
    TradingState,
    effective_state,
)
from intraday_jules.risk.checks import CheckContext, Denied, Verdict, run_checks
from intraday_jules.risk.limits import RiskLimits

RATE_WINDOW = timedelta(minutes=1)


class ReconciliationLike(Protocol):
    """What ``on_reconciliation`` needs (the ledger's ``Reconciliation`` satisfies it)."""

    @property
    def matches(self) -> bool: ...

    def describe(self) -> str: ...

    def books(self) -> Mapping[str, JsonScalar]:
        """Both sides' shares per symbol (``ledger.NVDA``, ``broker.NVDA``...), for the event."""
        ...


def _intent_detail(intent: OrderIntent) -> dict[str, JsonScalar]:
    return {"side": str(intent.side), "quantity": intent.quantity,
            "reference_price": str(intent.reference_price), "origin": str(intent.origin),
            "bar_ts": intent.ts.isoformat().replace("+00:00", "Z")}


class RiskEngine:
    """Approves, shrinks or denies intents and latches the trading state.

    limits: the hard limits (``RiskLimits``).
    store: where state and events are kept; the ``Ledger`` for real runs.
    clock: wall clock for state changes not tied to a bar (resets, restarts); inject it in
        tests and replays (defaults to the system UTC clock).
    """

    def __init__(self, limits: RiskLimits, store: RiskStore, *,
                 clock: Clock = system_clock) -> None:
        self.limits = limits
        self._store = store
        self._clock = clock
        self._approved_at: deque[datetime] = deque()
        self._rebase = False
        self._peak: Decimal | None = None
        self._start: Decimal | None = None
        self._record = self._restore()

    @property
    def state(self) -> TradingState:
        return self._record.state

    @property
    def state_record(self) -> StateRecord:
        return self._record

    def _restore(self) -> StateRecord:
        """The last recorded state; an expired REDUCING is recorded as having ended."""
        saved = self._store.load_trading_state()
        record = effective_state(saved, self._clock())
        if saved is not None and record.kind is RiskEventKind.REDUCING_EXPIRED:
            self._save(record)
        return record

    def refresh(self) -> TradingState:
        """Re-read the stored state, to notice a reset recorded by another process (the CLI)."""
        saved = self._store.load_trading_state()
        if saved is not None and saved != self._record:
            if saved.kind is RiskEventKind.RESET and saved.ts > self._record.ts:
                self._rebase = True
            self._record = saved
        return self.state

    def evaluate(self, intent: OrderIntent, book: Book,
                 broker_positions: Mapping[str, int] | None = None) -> Verdict:
        """Approve (possibly shrunk) or deny ``intent``; denials and resizes are recorded.

        ``broker_positions``: the broker's shares per symbol when known; the checks then judge
        exposure on them (a mismatch with the ledger must not make an order short the broker).
        """
        self.check(book, intent.ts)
        ctx = CheckContext(self.state, self._record.reason, self.limits,
                           self._orders_since(intent.ts - RATE_WINDOW),
                           None if broker_positions is None else dict(broker_positions))
        verdict = run_checks(intent, book, ctx)
        if isinstance(verdict, Denied):
            self._event(intent.ts, RiskEventKind.ORDER_DENIED, verdict.reason, intent.symbol,
                        _intent_detail(intent))
            return verdict
        if verdict.resized:
            detail = {**_intent_detail(intent), "approved_quantity": verdict.intent.quantity}
            self._event(intent.ts, RiskEventKind.ORDER_RESIZED, "; ".join(verdict.notes),
                        intent.symbol, detail)
        if intent.origin is IntentOrigin.POLICY:
            self._approved_at.append(intent.ts)
        return verdict

    def _orders_since(self, start: datetime) -> int:
        while self._approved_at and self._approved_at[0] <= start:
            self._approved_at.popleft()
        return len(self._approved_at)

    def check(self, book: Book, ts: datetime | None = None) -> TradingState:
        """Latch HALTED if the book has hit the daily loss or drawdown limit."""
        if self.state is TradingState.HALTED:
            return self.state
        loss, drawdown = self._loss_measures(book)
        at = ts or self._clock()
        detail: dict[str, JsonScalar] = {"equity": str(book.equity), "loss": str(loss),
                                         "drawdown": str(drawdown)}
        if loss >= self.limits.daily_loss_limit_usd:
            self._transition(TradingState.HALTED, RiskEventKind.DAILY_LOSS_LIMIT,
                             f"daily loss ${loss} reached the limit of "
                             f"${self.limits.daily_loss_limit_usd}", at, detail)
        elif drawdown >= self.limits.drawdown_limit_usd:
            self._transition(TradingState.HALTED, RiskEventKind.DRAWDOWN_LIMIT,
                             f"drawdown ${drawdown} from the high-water mark reached the limit "
                             f"of ${self.limits.drawdown_limit_usd}", at, detail)
        return self.state

    def _loss_measures(self, book: Book) -> tuple[Decimal, Decimal]:
        """(loss since session start, drawdown from peak), re-based after a reset."""
        equity = book.equity
        if self._rebase:
            self._rebase, self._start, self._peak = False, equity, equity
        peak = equity if self._peak is None else max(self._peak, equity)
        if self._start is None:  # no reset in this process: the book's references hold
            self._peak = max(peak, book.high_water_mark)
            return book.session_start_equity - equity, self._peak - equity
        self._peak = peak
        return self._start - equity, self._peak - equity

    def on_fill(self, fill: Fill, book: Book) -> TradingState:
        """After ``fill`` changed ``book`` (pass the book with the fill applied): latch limits."""
        return self.check(book, fill.ts)

    def on_reconciliation(self, result: ReconciliationLike,
                          ts: datetime | None = None) -> TradingState:
        """A position mismatch with the broker halts trading, with the difference recorded.

        ``ts``: when the mismatch was found (the restart or reconnect); the event's detail
        holds both books, every symbol either side holds.
        """
        if not result.matches:
            self._transition(TradingState.HALTED, RiskEventKind.RECONCILE_MISMATCH,
                             result.describe(), ts or self._clock(), dict(result.books()))
        return self.state

    def reduce(self, kind: RiskEventKind, reason: str, ts: datetime | None = None,
               symbol: str | None = None,
               detail: Mapping[str, JsonScalar] | None = None) -> TradingState:
        """Something is wrong with the inputs: allow only risk-reducing orders."""
        self._transition(TradingState.REDUCING, kind, reason, ts or self._clock(),
                         dict(detail or {}), symbol)
        return self.state

    def halt(self, kind: RiskEventKind, reason: str, ts: datetime | None = None) -> TradingState:
        """Latch HALTED: only flattening orders until ``reset``."""
        self._transition(TradingState.HALTED, kind, reason, ts or self._clock(), {})
        return self.state

    def reset(self, reason: str, ts: datetime | None = None) -> TradingState:
        """Back to ACTIVE by an explicit, recorded decision (``reason`` is required)."""
        if not reason or not reason.strip():
            raise ValueError("a risk reset needs a reason (it is recorded)")
        at = ts or self._clock()
        previous = self.state
        record = StateRecord(TradingState.ACTIVE, f"reset: {reason.strip()}", at,
                             RiskEventKind.RESET)
        self._save(record)
        self._record, self._rebase = record, True
        self._event(at, RiskEventKind.RESET, f"reset from {previous}: {reason.strip()}")
        return self.state

    def flatten_orders(self, book: Book, ts: datetime,
                       broker_positions: Mapping[str, int] | None = None) -> list[OrderIntent]:
        """Intents that close every open position at its mark (for the close and HALTED).

        The positions closed are the broker's when ``broker_positions`` is given (what is really
        held: after a reconciliation mismatch the ledger's book is not), else the book's; a
        symbol without a mark in the book cannot be priced and is left alone. Pass them through
        ``evaluate`` like any intent: they are always approved, since they only reduce, and the
        order rate and size limits do not apply to them.
        """
        held = ({s: book.quantity(s) for s in book.positions} if broker_positions is None
                else dict(broker_positions))
        intents = []
        for symbol in sorted(held):
            quantity, mark = held[symbol], book.mark(symbol)
            if quantity == 0 or mark is None:
                continue
            side = Side.SELL if quantity > 0 else Side.BUY
            intents.append(OrderIntent(symbol, side, abs(quantity), ts, mark,
                                       IntentOrigin.FLATTEN))
        return intents

    def _transition(self, state: TradingState, kind: RiskEventKind, reason: str, ts: datetime,
                    detail: dict[str, JsonScalar], symbol: str | None = None) -> None:
        """Escalate to ``state`` (never de-escalate) and record the event either way."""
        if state.severity > self.state.severity:
            self._record = StateRecord(state, reason, ts, kind)
            self._save(self._record)
        self._event(ts, kind, reason, symbol, detail)

    def _save(self, record: StateRecord) -> None:
        self._store.save_trading_state(record)

    def _event(self, ts: datetime, kind: RiskEventKind, reason: str, symbol: str | None = None,
               detail: dict[str, JsonScalar] | None = None) -> None:
        self._store.record_risk_event(RiskEvent(ts, kind, self.state, reason, symbol,
                                                detail or {}))
