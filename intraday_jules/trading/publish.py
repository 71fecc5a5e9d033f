"""Metrics after each minute: the book, the risk state, the policy's actions; pushed if asked.

Metrics never stop trading: ``TradingMetrics.push`` logs and counts its own failures.
"""

from __future__ import annotations

from decimal import Decimal

from intraday_jules.domain.portfolio import Book
from intraday_jules.env.actions import ACTION_NAMES
from intraday_jules.observability.metrics import TRADING_JOB
from intraday_jules.risk import RiskEngine
from intraday_jules.trading.context import Log, MetricsSink, PushTarget, SessionParts
from intraday_jules.trading.policies import Actions
from intraday_jules.trading.state import SessionState


def publish_minute(parts: SessionParts, state: SessionState, actions: Actions | None) -> None:
    """Report the minute's book and state; push to the Pushgateway when one is configured."""
    publish_book(parts.metrics, parts.risk, state.book, state.realized_base)
    if actions is not None:
        for symbol, action in zip(parts.config.symbols, actions, strict=True):
            parts.metrics.count_action(symbol, ACTION_NAMES[action])
    push(parts.metrics, parts.push)


def publish_book(metrics: MetricsSink, risk: RiskEngine, book: Book,
                 realized_base: Decimal) -> None:
    """The book's value, positions and P&L (realised since ``realized_base``), and the risk
    state with its limits."""
    positions: dict[str, tuple[int, Decimal]] = {}
    unrealised = realised = Decimal(0)
    for symbol, position in book.positions.items():
        mark = book.mark(symbol) or Decimal(0)
        positions[symbol] = (position.quantity, position.quantity * mark)
        unrealised += position.unrealised_pnl(mark)
        realised += position.net_realised_pnl
    limits = risk.limits
    metrics.update_portfolio(
        cash=book.cash, value=book.equity, positions=positions,
        realized=realised - realized_base, unrealized=unrealised, drawdown=book.drawdown,
        drawdown_limit=limits.drawdown_limit_usd, daily_pnl=book.daily_pnl,
        daily_loss_limit=limits.daily_loss_limit_usd)
    metrics.set_risk_state(risk.state.value)


def publish_crash(metrics: MetricsSink, risk: RiskEngine, target: PushTarget, log: Log) -> None:
    """The run crashed (after the last line of defence): report it failed with its risk state,
    so ``TradingRunFailed`` and ``TradingHalted`` fire. Never raises: the crash is what counts."""
    try:
        metrics.set_run_failed(True)
        metrics.set_risk_state(risk.state.value)
        push(metrics, target)
    except Exception as exc:
        log.error("could not report the crashed run to the metrics: %s: %s",
                  type(exc).__name__, exc)


def push(metrics: MetricsSink, target: PushTarget) -> None:
    if target.url:
        metrics.push(target.url, TRADING_JOB, dict(target.group))
