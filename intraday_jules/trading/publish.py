"""Metrics after each minute: the book, the risk state, the policy's actions; pushed if asked.

Metrics never stop trading: ``TradingMetrics.push`` logs and counts its own failures.
"""

from __future__ import annotations

from decimal import Decimal

from intraday_jules.env.actions import ACTION_NAMES
from intraday_jules.observability.metrics import TRADING_JOB
from intraday_jules.trading.context import SessionContext
from intraday_jules.trading.intake import Minute
from intraday_jules.trading.policies import Actions


def publish_minute(ctx: SessionContext, minute: Minute, actions: Actions | None) -> None:
    """Report the minute's book and state; push to the Pushgateway when one is configured."""
    publish_book(ctx)
    if actions is not None:
        for symbol, action in zip(ctx.config.symbols, actions, strict=True):
            ctx.metrics.count_action(symbol, ACTION_NAMES[action])
    push(ctx)


def publish_book(ctx: SessionContext) -> None:
    book = ctx.book
    positions: dict[str, tuple[int, Decimal]] = {}
    unrealised = realised = Decimal(0)
    for symbol, position in book.positions.items():
        mark = book.mark(symbol) or Decimal(0)
        positions[symbol] = (position.quantity, position.quantity * mark)
        unrealised += position.unrealised_pnl(mark)
        realised += position.net_realised_pnl
    limits = ctx.risk.limits
    ctx.metrics.update_portfolio(
        cash=book.cash, value=book.equity, positions=positions,
        realized=realised - ctx.realized_base, unrealized=unrealised, drawdown=book.drawdown,
        drawdown_limit=limits.drawdown_limit_usd, daily_pnl=book.daily_pnl,
        daily_loss_limit=limits.daily_loss_limit_usd)
    ctx.metrics.set_risk_state(ctx.risk.state.value)


def publish_crash(ctx: SessionContext) -> None:
    """The run crashed (after the last line of defence): report it failed with its risk state,
    so ``TradingRunFailed`` and ``TradingHalted`` fire. Never raises: the crash is what counts."""
    try:
        ctx.metrics.set_run_failed(True)
        ctx.metrics.set_risk_state(ctx.risk.state.value)
        push(ctx)
    except Exception as exc:
        ctx.log.error("could not report the crashed run to the metrics: %s: %s",
                      type(exc).__name__, exc)


def push(ctx: SessionContext) -> None:
    if ctx.push_url:
        ctx.metrics.push(ctx.push_url, TRADING_JOB, ctx.push_group)
