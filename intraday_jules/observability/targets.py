"""The seed's targets as gauges (Grafana's "Targets" row), pushed after each session.

Their own Pushgateway job (``TARGETS_JOB``): a push replaces its whole group, so sharing the
trading loop's group would wipe the loop's gauges (and the loop's pushes would wipe these).
Inputs are plain numbers (percentages, as the status screen shows them); the gauges hold
ratios, Prometheus's convention (2% -> 0.02). Like every push, a failure is logged and counted,
never raised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from intraday_jules.observability.metrics import (
    TARGET_METRICS,
    TARGETS_JOB,
    Number,
    _f,
    _Metrics,
)

TARGET_NAMES = ("pnl", "drawdown", "uptime")


class TargetMetrics(_Metrics):
    """Cumulative P&L, max drawdown and uptime, each beside its target, and whether it is met."""

    SPECS = TARGET_METRICS

    def set_targets(self, *, cumulative_pnl_usd: Number, pnl_target_usd: Number,
                    max_drawdown_pct: Number, drawdown_target_pct: Number,
                    uptime_pct: Number | None, uptime_target_pct: Number,
                    met: Mapping[str, bool]) -> None:
        """Percentages in (2 for 2%); ``uptime_pct`` None (no traded session) sets the uptime
        gauge to NaN, so the panel shows no number rather than a false 0%."""
        m = self._m
        m["intraday_jules_pnl_cumulative_usd"].set(_f(cumulative_pnl_usd))
        m["intraday_jules_pnl_target_usd"].set(_f(pnl_target_usd))
        m["intraday_jules_risk_max_drawdown_ratio"].set(_f(max_drawdown_pct) / 100)
        m["intraday_jules_risk_drawdown_target_ratio"].set(_f(drawdown_target_pct) / 100)
        m["intraday_jules_trading_uptime_ratio"].set(
            math.nan if uptime_pct is None else _f(uptime_pct) / 100)
        m["intraday_jules_trading_uptime_target_ratio"].set(_f(uptime_target_pct) / 100)
        unknown = set(met) - set(TARGET_NAMES)
        if unknown:
            raise ValueError(f"unknown target(s) {sorted(unknown)}; known: {TARGET_NAMES}")
        for name in TARGET_NAMES:
            m["intraday_jules_trading_target_met_bool"].labels(name).set(int(met.get(name,
                                                                                   False)))

    def push_targets(self, gateway_url: str, deployment: str) -> bool:
        """Replace the deployment's targets group; False (logged, counted) if that failed."""
        return self.push(gateway_url, TARGETS_JOB, {"deployment": deployment})
