"""Human renderings of a ``QualityReport``: a Markdown table for Dagster metadata and a PNG of
missing / zero-volume minutes per session.

The PNG is drawn with matplotlib's Agg canvas directly (no ``pyplot``, no global backend
switch), so it is safe inside the Dagster code server and in threads, and needs no display.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

from intraday_jules.quality.results import CheckResult, Failure, QualityReport


def _cell(text: str, limit: int = 160) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _where(f: Failure) -> str:
    parts = [f.symbol or "", f.session.isoformat() if f.session else ""]
    if f.ts is not None:
        parts.append(f.ts.strftime("%H:%MZ"))
    return " ".join(p for p in parts if p)


def _status(c: CheckResult) -> str:
    if c.skipped:
        return "SKIPPED"
    return "pass" if c.passed else "**FAIL**"


def report_markdown(report: QualityReport, max_examples: int = 5) -> str:
    """A summary line, one table row per check (``SKIPPED`` with its reason when a check
    could not judge), and the worst examples of failed checks."""
    sessions = report.sessions
    span = (f"{sessions[0]} to {sessions[-1]} ({len(sessions)} sessions)" if len(sessions) > 1
            else (str(sessions[0]) if sessions else "all sessions in the data"))
    hours = "extended" if report.extended_hours else "regular"
    verdict = (f"**BLOCKING: {sum(c.blocking for c in report.checks)} ERROR check(s) failed**"
               if report.blocking_failed else "all ERROR checks pass")
    skipped = report.skipped_checks
    errors = [c for c in report.checks if c.severity == "ERROR"]
    if errors and all(c.skipped for c in errors):
        verdict = "**no ERROR check could judge this data**"
    if skipped:
        verdict += f" ({len(skipped)} check(s) SKIPPED: nothing to judge)"
    lines = [f"**Data quality ({report.contract})**: {report.rows:,} rows,"
             f" {', '.join(report.symbols) or 'all symbols'}, {span}, {hours} hours: {verdict}",
             "", "| check | severity | result | rows checked | failures | example |",
             "|---|---|---|---:|---:|---|"]
    for c in report.checks:
        example = c.worst[0] if c.worst else (c.failures[0] if c.failures else None)
        text = f"{_where(example)}: {example.detail}" if example else c.note
        if c.skipped:
            extra = c.note if c.note and c.note not in c.skipped_reason else ""
            text = "; ".join(t for t in (f"skipped: {c.skipped_reason}", extra) if t)
        lines.append(f"| {c.name} | {c.severity} | {_status(c)} | {c.rows_checked:,} |"
                     f" {c.failure_count:,} | {_cell(text)} |")
    for c in (c for c in report.checks if not c.passed):
        examples = (c.worst or c.failures)[:max_examples]
        plural = "" if c.failure_count == 1 else "s"
        lines += ["", f"**{c.name}** ({c.severity}, {c.failure_count:,} failure{plural}), worst:",
                  "",
                  "| symbol | session | ts | detail |", "|---|---|---|---|"]
        lines += [f"| {f.symbol or ''} | {f.session or ''} |"
                  f" {f.ts.strftime('%Y-%m-%dT%H:%MZ') if f.ts else ''} | {_cell(f.detail)} |"
                  for f in examples]
    return "\n".join(lines) + "\n"


def _series(report: QualityReport) -> tuple[list[date], dict[str, dict[str, dict[str, int]]]]:
    """Sessions on the x axis and {panel: {symbol: {session: count}}} from check stats."""
    panels: dict[str, dict[str, dict[str, int]]] = {}
    sessions: set[str] = {d.isoformat() for d in report.sessions}
    for c in report.checks:
        if c.name == "no_missing_minutes":
            panels["missing regular-hours bars"] = c.stats.get("missing", {})
            sessions |= set(c.stats.get("sessions", []))
        elif c.name == "no_zero_volume_runs":
            panels["zero-volume bars"] = c.stats.get("zero_volume", {})
    for panel in panels.values():
        for counts in panel.values():
            sessions |= set(counts)
    return sorted(date.fromisoformat(s) for s in sessions), panels


def _draw_panel(ax: Any, title: str, counts: dict[str, dict[str, int]] | None,
                symbols: list[str], sessions: list[date]) -> None:
    """One panel: a bar per (session, symbol), the symbols' bars side by side per session."""
    from matplotlib.ticker import MaxNLocator

    ax.set_title(title if counts is not None else f"{title} (check not run)", fontsize=10)
    ax.set_ylabel("bars")
    width = 0.8 / max(len(symbols), 1)
    top = 1
    for k, symbol in enumerate(symbols):
        per = (counts or {}).get(symbol, {})
        heights = [per.get(d.isoformat(), 0) for d in sessions]
        top = max([top, *heights])
        shift = (k - (len(symbols) - 1) / 2) * width  # group centred on the tick
        ax.bar([x + shift for x in range(len(sessions))], heights, width=width, label=symbol)
    ax.set_ylim(0, top * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if symbols:
        ax.legend(loc="upper right", fontsize=8)


def report_png(report: QualityReport, path: str | Path | None = None) -> bytes:
    """PNG bytes (also written to ``path`` if given): per-session counts of missing
    regular-hours bars and of zero-volume bars, one bar series per symbol."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sessions, panels = _series(report)
    fig = Figure(figsize=(10, 5.5), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    symbols = list(report.symbols) or sorted({s for p in panels.values() for s in p})
    for ax, title in zip(axes, ("missing regular-hours bars", "zero-volume bars"), strict=True):
        _draw_panel(ax, title, panels.get(title), symbols, sessions)
    step = max(1, len(sessions) // 12)
    axes[-1].set_xticks(list(range(len(sessions)))[::step])
    axes[-1].set_xticklabels([d.isoformat() for d in sessions][::step], rotation=45,
                             ha="right", fontsize=8)
    fig.suptitle(f"Data quality per session ({report.contract})", fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data
