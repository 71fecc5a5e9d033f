"""The seed's targets with the configured window and thresholds: what ``status``, the
``trading/performance_report`` asset, the trade job and ``intraday-jules report`` share.

The window starts at ``INTRADAY_JULES_TARGETS_START`` (unset: the first traded session); the
definitions of cumulative P&L, max drawdown and uptime are in ``ledger.performance``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from intraday_jules.ledger import Ledger
from intraday_jules.ledger.performance import Performance, Targets, load_performance
from intraday_jules.observability.targets import TargetMetrics
from intraday_jules.settings import Settings
from intraday_jules.trading.performance_report import (
    PerformanceReport,
    build_performance_report,
    last_session_json,
)


def targets_from_settings(settings: Settings) -> Targets:
    return Targets(settings.pnl_target_usd, settings.drawdown_target_pct,
                   settings.uptime_target_pct)


@dataclass(frozen=True)
class TrackedTargets:
    """Every traded session (``traded``), the targets' window of them, and the targets."""

    traded: Performance
    window: Performance
    targets: Targets

    def targets_json(self) -> dict[str, object]:
        return self.window.targets_json(self.targets)

    def last_session_json(self) -> dict[str, object] | None:
        """The newest traded session, whether or not inside the targets' window."""
        return last_session_json(self.traded)

    def report(self) -> PerformanceReport:
        return build_performance_report(self.window, self.targets)


def track_targets(ledger: Ledger, settings: Settings, until: date | None = None
                  ) -> TrackedTargets:
    """The targets over the sessions from the configured start through ``until``."""
    traded = load_performance(ledger, until)
    return TrackedTargets(traded, traded.between(settings.targets_start),
                          targets_from_settings(settings))


def push_targets(tracked: TrackedTargets, settings: Settings) -> bool:
    """Push the targets' gauges (Grafana's "Targets" row); False when no Pushgateway is
    configured or the push failed (logged and counted, never raised)."""
    if not settings.pushgateway_url:
        return False
    window, targets = tracked.window, tracked.targets
    metrics = TargetMetrics()
    metrics.set_targets(cumulative_pnl_usd=window.cumulative_pnl,
                        pnl_target_usd=targets.pnl_usd,
                        max_drawdown_pct=window.max_drawdown_pct,
                        drawdown_target_pct=targets.drawdown_pct,
                        uptime_pct=window.uptime_pct, uptime_target_pct=targets.uptime_pct,
                        met=window.met(targets))
    return metrics.push_targets(settings.pushgateway_url, settings.deployment)
