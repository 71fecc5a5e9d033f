"""The session's collaborators: small protocols, and ``SessionParts``, the frozen set of them.

Collaborators are built once per run and only read; the per-session state the loop changes
(book, working orders, counters) is ``SessionState`` in ``state.py``. Steps take the two
separately, so a signature shows what a step may change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from intraday_jules.broker.base import Broker
from intraday_jules.domain.clock import Clock
from intraday_jules.env.actions import PositionRules
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.store import BarStore
from intraday_jules.risk import RiskEngine
from intraday_jules.trading.config import SessionConfig
from intraday_jules.trading.intake import Minute
from intraday_jules.trading.policies import Policy

Number = float | int | Decimal


class Log(Protocol):
    """A logger (``logging.Logger`` or Dagster's ``context.log``)."""

    def info(self, msg: str, *args: Any) -> None: ...

    def warning(self, msg: str, *args: Any) -> None: ...

    def error(self, msg: str, *args: Any) -> None: ...


class MetricsSink(Protocol):
    """What the loop reports (``observability.metrics.TradingMetrics`` satisfies it)."""

    def observe_bar(self, symbol: str, source: str, ts: datetime) -> float: ...

    def record_decision_latency(self, seconds: float) -> None: ...

    def update_portfolio(self, *, cash: Number, value: Number,
                         positions: Mapping[str, tuple[Number, Number]], realized: Number,
                         unrealized: Number, drawdown: Number, drawdown_limit: Number,
                         daily_pnl: Number | None = None,
                         daily_loss_limit: Number | None = None) -> None: ...

    def set_risk_state(self, state: str) -> None: ...

    def count_trade(self, symbol: str, side: str, n: int = 1) -> None: ...

    def count_action(self, symbol: str, action: str) -> None: ...

    def set_broker_connected(self, connected: bool) -> None: ...

    def set_run_failed(self, failed: bool) -> None: ...

    def push(self, gateway_url: str, job: str,
             grouping_key: Mapping[str, str] | None = None) -> bool: ...


class QualityGate(Protocol):
    """The blocking data-quality verdict for a minute: a reason if trading must reduce."""

    def blocking_failure(self, minute: Minute) -> str | None: ...


class NoQualityGate:
    """No external data-quality verdict (the intake's own checks still apply)."""

    def blocking_failure(self, minute: Minute) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Where metrics are pushed after each minute (a Pushgateway); no url: not pushed."""

    url: str | None = None
    group: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SessionParts:
    """What a session works with, built once by ``run_session`` and never replaced.

    Frozen, so no step can swap a collaborator mid-session; what changes from minute to minute
    lives in ``SessionState`` (``state.py``).
    """

    config: SessionConfig
    ledger: Ledger
    risk: RiskEngine
    broker: Broker
    policy: Policy
    store: BarStore
    metrics: MetricsSink
    clock: Clock
    log: Log
    gate: QualityGate
    source: str
    rules: PositionRules
    push: PushTarget = PushTarget()
