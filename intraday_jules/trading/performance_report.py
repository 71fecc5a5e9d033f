"""The performance report (the ``trading/performance_report`` asset): the seed's targets, met or
not, the daily P&L table, and equity with its drawdown as a PNG.

Built from ``ledger.performance`` alone (the ledger's recorded equity, fills, decisions and
trading states), so it is rebuilt the same after every session or at any time.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from intraday_jules.domain.calendar import session_date_of
from intraday_jules.ledger.performance import Performance, Targets, pct_number
from intraday_jules.ledger.report import money_text

MAX_DAYS = 60  # rows of the daily table in the Markdown (the JSON has every session)


@dataclass(frozen=True)
class PerformanceReport:
    """``summary``: targets, met, window; ``daily``: one row per session; ``png``: the chart."""

    summary: dict[str, Any]
    daily: tuple[dict[str, object], ...]
    markdown: str
    png: bytes


def build_performance_report(performance: Performance, targets: Targets) -> PerformanceReport:
    """The report of the sessions in ``performance`` (already cut to the targets' window)."""
    summary = {"start": _day(performance.start), "end": _day(performance.end),
               "sessions": len(performance.sessions),
               "targets": performance.targets_json(targets),
               "targets_met": performance.met(targets),
               "last_session": last_session_json(performance)}
    daily = tuple(s.to_json() for s in performance.sessions)
    return PerformanceReport(summary, daily, performance_markdown(summary, daily),
                             equity_drawdown_png(performance.equity,
                                                 performance.drawdown_pct(),
                                                 targets.drawdown_pct))


def last_session_json(performance: Performance) -> dict[str, object] | None:
    """``status --json``'s ``last_session`` (None before any session was traded)."""
    last = performance.last_session
    if last is None:
        return None
    return {"session": last.session.isoformat(), "pnl_usd": money_text(last.pnl),
            "fills": last.fills, "risk_state": last.risk_state, "risk_reason": last.risk_reason}


def _day(value: object) -> str | None:
    return None if value is None else str(value)


TARGET_ROWS = (("cumulative P&L (USD)", "cumulative_pnl_usd", "pnl_target_usd", "pnl", ">="),
               ("max drawdown (%)", "max_drawdown_pct", "drawdown_target_pct", "drawdown", "<="),
               ("uptime (%)", "uptime_pct", "uptime_target_pct", "uptime", ">="))
DAILY_COLUMNS = ("session", "start_equity", "end_equity", "pnl_usd", "fills", "live_minutes",
                 "session_minutes", "uptime_pct", "risk_state")


def performance_markdown(summary: dict[str, Any], daily: Sequence[dict[str, object]]) -> str:
    """Targets met or not, then the daily P&L table, then the chart."""
    targets, met = summary["targets"], summary["targets_met"]
    lines = [f"# Performance {summary['start'] or '-'} .. {summary['end'] or '-'}", "",
             f"{summary['sessions']} traded session(s).", "", "## Targets", "",
             "| measure | value | target | met |", "|---|---|---|---|"]
    for label, value, target, key, sign in TARGET_ROWS:
        shown = "n/a" if targets[value] is None else targets[value]
        lines.append(f"| {label} | {shown} | {sign} {targets[target]} | "
                     f"{'yes' if met[key] else 'no'} |")
    lines += ["", "## Daily P&L", ""]
    if not daily:
        lines.append("(no traded session)")
    else:
        lines += ["| " + " | ".join(DAILY_COLUMNS) + " |", "|" + "---|" * len(DAILY_COLUMNS)]
        for row in daily[-MAX_DAYS:]:
            lines.append("| " + " | ".join("" if row[c] is None else str(row[c])
                                           for c in DAILY_COLUMNS) + " |")
        if len(daily) > MAX_DAYS:
            lines.append(f"\n(the last {MAX_DAYS} of {len(daily)} sessions)")
    lines += ["", "## Equity and drawdown", "", "![equity and drawdown](performance.png)", ""]
    return "\n".join(lines)


def equity_drawdown_png(equity: Sequence[tuple[datetime, Decimal]],
                        drawdown: Sequence[tuple[datetime, Decimal]],
                        drawdown_target_pct: Decimal) -> bytes:
    """Equity per recorded minute above, its drawdown in % (with the target) below.

    The x axis counts recorded minutes, sessions side by side: on a time axis the nights and
    weekends would take most of the width.
    """
    import matplotlib

    matplotlib.use("Agg")  # headless: no display in jobs, CI or the CLI
    from matplotlib import pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), dpi=100, sharex=True,
                                         height_ratios=(2, 1))
    try:
        steps = range(len(equity))
        if equity:
            top.plot(steps, [float(v) for _, v in equity], color="tab:blue", linewidth=1.0,
                     label="equity")
            bottom.fill_between(steps, [-float(v) for _, v in drawdown], 0, color="tab:red",
                                alpha=0.4, label="drawdown")
            top.legend(loc="best", fontsize="small")
            _mark_sessions((top, bottom), [ts for ts, _ in equity])
        bottom.axhline(-float(drawdown_target_pct), color="black", linestyle="--",
                       linewidth=1, label=f"target -{pct_number(drawdown_target_pct)}%")
        bottom.legend(loc="lower left", fontsize="small")
        top.set_title("Paper equity and drawdown, by recorded minute")
        top.set_ylabel("USD")
        bottom.set_ylabel("drawdown %")
        for axes in (top, bottom):
            axes.grid(alpha=0.3, axis="y")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    return buffer.getvalue()


MAX_SESSION_LABELS = 12


def _mark_sessions(axes: Sequence[Any], times: Sequence[datetime]) -> None:
    """A faint line where each session starts; its date as a tick (at most a dozen)."""
    starts: list[tuple[int, str]] = []
    for i, ts in enumerate(times):
        day = session_date_of(ts).isoformat()
        if not starts or starts[-1][1] != day:
            starts.append((i, day))
    for ax in axes:
        for i, _ in starts[1:]:
            ax.axvline(i, color="grey", linewidth=0.5, alpha=0.5)
    every = max(1, -(-len(starts) // MAX_SESSION_LABELS))
    shown = starts[::every]
    axes[-1].set_xticks([i for i, _ in shown], [day for _, day in shown], rotation=30,
                        ha="right", fontsize="small")
