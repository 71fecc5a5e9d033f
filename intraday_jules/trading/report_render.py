"""Rendering of the session report: the equity-curve PNG (matplotlib, Agg) and Markdown."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from intraday_jules.domain.calendar import NEW_YORK

HALTING = ("DAILY_LOSS_LIMIT", "DRAWDOWN_LIMIT", "RECONCILE_MISMATCH", "MANUAL_HALT",
           "LOOP_CRASHED")


def equity_png(session: date, equity: Sequence[tuple[str, Decimal]],
               events: Sequence[dict[str, Any]]) -> bytes:
    """Equity per minute, with a red line where trading was halted."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display in jobs, CI or the CLI
    from matplotlib import dates as mdates
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 4), dpi=100)
    try:
        if equity:
            times = pd.to_datetime([ts for ts, _ in equity], utc=True).tz_convert(
                "America/New_York")
            axes.plot(times, [float(v) for _, v in equity], color="tab:blue", linewidth=1.2,
                      label="equity")
        for event in events:
            if event["kind"] in HALTING:
                when = pd.Timestamp(event["ts"]).tz_convert("America/New_York")
                axes.axvline(when, color="tab:red", linestyle="--", linewidth=1,
                             label=event["kind"])
        hours = mdates.DateFormatter("%H:%M", tz=NEW_YORK)  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_formatter(hours)
        axes.set_title(f"Equity, session {session.isoformat()} (America/New_York)")
        axes.set_ylabel("USD")
        axes.grid(alpha=0.3)
        if equity or events:
            axes.legend(loc="best", fontsize="small")
        figure.autofmt_xdate()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """The PNG as a ``data:`` URI: an image that travels inside the Markdown (the Dagster UI
    shows metadata Markdown with no folder next to it, so a relative file link would break)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str], limit: int,
           more: str) -> list[str]:
    if not rows:
        return ["(none)"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:limit]:
        cells = ["" if row.get(c) is None else _cell(row[c]) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > limit:
        lines.append(f"\n... and {len(rows) - limit} more ({more})")
    return lines


def _cell(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text.replace("|", "/")


def markdown(summary: dict[str, Any], fills: Sequence[dict[str, Any]],
             event_groups: Sequence[dict[str, Any]], limit: int, *, image: str,
             more: str) -> str:
    """The report as Markdown: summary, fills vs the execution model, risk events, chart.

    ``event_groups``: the risk events grouped by kind and reason (``group_risk_events``);
    ``image``: where the equity PNG is (a ``data:`` URI, or ``equity.png`` in a file written
    next to it); ``more``: where a reader finds the rows a table leaves out.
    """
    keys = ("session", "policy", "broker", "state", "start_equity", "end_equity", "pnl",
            "commissions", "orders", "fills", "slippage_vs_model", "risk_events")
    lines = [f"# Trading session {summary.get('session')}", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {summary.get(key)} |" for key in keys]
    by_kind = summary.get("risk_events_by_kind") or {}
    if by_kind:
        lines += ["", "Risk events by kind: " + ", ".join(f"{k} {v}" for k, v in
                                                         sorted(by_kind.items()))]
    lines += ["", "## Fills against the execution model", "",
              "Modelled price: the decision bar's next open plus modelled slippage. "
              "slippage_vs_model > 0: the fill cost more than modelled.", ""]
    lines += _table(fills, ("ts", "symbol", "client_order_id", "side", "quantity", "price",
                            "modelled_price", "slippage_vs_model"), limit, more)
    lines += ["", "## Risk events", "",
              "Events of the same kind and reason are one row: how many, first and last time.",
              ""]
    lines += _table(event_groups, ("kind", "count", "first", "last", "state", "symbols",
                                   "reason"), limit, more)
    lines += ["", "## Equity", "", f"![equity]({image})", ""]
    return "\n".join(lines)
