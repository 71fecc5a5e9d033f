"""Human-readable evaluation artefacts: Markdown tables, an equity + drawdown PNG, the gate table.

Display rules (the JSON keeps the raw figures): money in $ to the cent, ratios to 2 decimals,
every return, drawdown and share in percent (``total_return`` is a fraction in the JSON, shown
as %). Sharpe and Sortino are shown annualised when the window allows it (>= 20 sessions, see
``metrics``), per session otherwise, and the table says which.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from intraday_jules.agent.evaluation import ARGMAX, MODEL, EvaluationReport
from intraday_jules.agent.metrics import MIN_ANNUALISED_SESSIONS, Metrics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ANNUAL_METRICS = ("total_return", "pnl_usd", "sharpe", "sortino", "max_drawdown_pct", "calmar",
                  "turnover", "trades_per_day", "exposure", "hit_rate")
PER_SESSION_METRICS = ("total_return", "pnl_usd", "sharpe_per_session", "sortino_per_session",
                       "max_drawdown_pct", "calmar", "turnover", "trades_per_day", "exposure",
                       "hit_rate")
#: The table's columns on a window long enough to annualise (kept for callers of the old name).
TABLE_METRICS = ANNUAL_METRICS
COST_METRICS = ("trades", "gross_pnl_usd", "costs_usd", "gross_edge_per_trade_usd",
                "cost_per_trade_usd", "break_even_cost_x")
LABELS = {
    "total_return": "return", "pnl_usd": "P&L", "sharpe": "Sharpe (ann.)",
    "sortino": "Sortino (ann.)", "sharpe_per_session": "Sharpe / session",
    "sortino_per_session": "Sortino / session", "max_drawdown_pct": "max DD",
    "calmar": "Calmar", "turnover": "turnover", "trades_per_day": "trades / day",
    "exposure": "exposure", "hit_rate": "hit rate", "trades": "trades",
    "gross_pnl_usd": "gross P&L", "costs_usd": "costs",
    "gross_edge_per_trade_usd": "gross edge / trade", "cost_per_trade_usd": "cost / trade",
    "break_even_cost_x": "break-even costs",
}
_FRACTIONS = ("total_return", "exposure", "hit_rate")  # fractions in the JSON, shown as %
GATE_TEXT_WIDTH = 28  # characters of a gate value or threshold before it is abbreviated


def fmt(value: float | None, name: str) -> str:
    """``value`` of metric ``name`` for display: $ to the cent, % or a 2-decimal ratio."""
    if value is None:
        return "n/a"
    return _no_negative_zero(_fmt(value, name), signed=name == "total_return")


def _fmt(value: float, name: str) -> str:
    if name.endswith("_usd"):
        return money(value)
    if name in _FRACTIONS:
        return f"{100 * value:+.2f}%" if name == "total_return" else f"{100 * value:.2f}%"
    if name.endswith("_pct"):
        return f"{value:.2f}%"
    if name == "trades":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    if name == "break_even_cost_x":
        return f"{value:,.2f}x"
    return f"{value:,.2f}"


def money(value: float) -> str:
    """$ to the cent, sign first: -$1,234.57 ($0.00, not -$0.00, for -$0.004)."""
    return _no_negative_zero(f"{'-' if value < 0 else ''}${abs(value):,.2f}")


def _no_negative_zero(text: str, signed: bool = False) -> str:
    """``text`` without its minus sign when it shows only zeros ("-$0.00" -> "$0.00"; a
    ``signed`` figure gets "+" instead, as its other zeros do)."""
    if text.startswith("-") and not re.search("[1-9]", text):
        return ("+" if signed else "") + text[1:]
    return text


def _row(label: str, cells: Iterable[str]) -> str:
    return f"| {label} | " + " | ".join(cells) + " |"


def _header(first: str, names: Sequence[str]) -> list[str]:
    return [_row(first, (LABELS.get(n, n) for n in names)), "|" + "---|" * (len(names) + 1)]


def table_metrics(report: EvaluationReport) -> tuple[str, ...]:
    """The metrics table's columns: annualised Sharpe/Sortino on a window of at least
    ``MIN_ANNUALISED_SESSIONS`` sessions, per-session ones below (every policy shares it)."""
    sessions = report.metrics(MODEL).get("sessions") or 0
    return ANNUAL_METRICS if sessions >= MIN_ANNUALISED_SESSIONS else PER_SESSION_METRICS


def markdown_table(report: EvaluationReport) -> str:
    """The evaluation for a reader: what each policy row is, agent vs baselines at the
    reference cost (with the agent's 95% CI), what costs do to each policy, and the total
    return at every cost level."""
    names = [MODEL, ARGMAX, *report.baseline_names()]
    columns = table_metrics(report)
    lines = [f"Window {report.window} ({len(report.folds)} walk-forward folds), "
             f"{report.seeds} seeds, costs {report.reference}.", "", _legend(report)]
    if columns is PER_SESSION_METRICS:
        lines += ["", f"Fewer than {MIN_ANNUALISED_SESSIONS} sessions: Sharpe and Sortino are "
                      "per session (daily), not annualised."]
    lines += ["", *_header("policy", columns)]
    lines += [_row(n, (fmt(report.metrics(n)[k], k) for k in columns)) for n in names]
    ci = report.to_dict()["ci95"]
    lines.append(_row("model 95% CI", (f"[{fmt(ci[k][0], k)}, {fmt(ci[k][1], k)}]"
                                       if ci.get(k) else "n/a" for k in columns)))
    lines += ["", cost_table(report, names), "", _levels_table(report, names)]
    return "\n".join(lines)


def _legend(report: EvaluationReport) -> str:
    return (f"`{MODEL}`: the policy sampling its actions from its probabilities, as it trades, "
            f"mean over {report.seeds} seeds (95% CI below). `{ARGMAX}`: the policy taking "
            "its most likely action at every bar (one deterministic run). `random` is also a "
            "mean over the same seeds; the other baselines are deterministic.")


def cost_table(report: EvaluationReport, names: Sequence[str] | None = None) -> str:
    """Per policy at the reference cost: trades, gross P&L (before commission and slippage),
    costs, gross edge and cost per trade, break-even cost multiple; then one plain sentence
    per policy that trades, saying whether its gross edge pays its costs."""
    names = list(names or [MODEL, ARGMAX, *report.baseline_names()])
    lines = [f"Costs at {report.reference} (commission + slippage; gross = before costs):", "",
             *_header("policy", COST_METRICS)]
    lines += [_row(n, (fmt(report.metrics(n).get(k), k) for k in COST_METRICS)) for n in names]
    verdicts = [f"- {n}: {v}" for n in names if (v := cost_verdict(report.metrics(n)))]
    return "\n".join([*lines, "", *verdicts] if verdicts else lines)


def cost_verdict(m: Metrics) -> str | None:
    """One sentence on whether a policy's gross edge per trade pays its cost per trade (None
    for a policy without trades or without costs)."""
    edge, cost = m.get("gross_edge_per_trade_usd"), m.get("cost_per_trade_usd")
    if edge is None or cost is None or cost <= 0:
        return None
    if edge < cost:
        worse = " (it loses even before costs)" if round(edge, 2) < 0 else ""
        return (f"gross edge {money(edge)} per trade < costs {money(cost)} per trade: "
                f"the policy cannot pay its costs{worse}")
    return (f"gross edge {money(edge)} per trade >= costs {money(cost)} per trade: it "
            f"breaks even at {fmt(m.get('break_even_cost_x'), 'break_even_cost_x')} costs")


def _levels_table(report: EvaluationReport, names: Sequence[str]) -> str:
    agents = list(names[:2])
    lines = ["Return at every cost level:", "",
             _row("costs", [*agents, "best baseline"]), "|---|---|---|---|"]
    for level in report.runs:
        best = max(report.baseline_names(),
                   key=lambda n: report.metrics(n, level)["total_return"] or -np.inf)
        ret = [fmt(report.metrics(n, level)["total_return"], "total_return") for n in agents]
        best_ret = fmt(report.metrics(best, level)["total_return"], "total_return")
        lines.append(_row(level, [*ret, f"{best} {best_ret}"]))
    return "\n".join(lines)


# A qualitative palette (matplotlib's tab10, colour-blind friendlier than the default cycle
# once styles differ too): the agent rows solid, every baseline its own dash pattern.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
BASELINE_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2)))


def curve_styles(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per curve, its matplotlib style: a palette colour each; the agent rows solid and
    thicker, the baselines thinner, each with its own dash pattern."""
    out: dict[str, dict[str, Any]] = {}
    dashed = 0
    for i, name in enumerate(names):
        agent = name in (MODEL, ARGMAX)
        out[name] = {"color": PALETTE[i % len(PALETTE)], "linewidth": 1.6 if agent else 1.0,
                     "linestyle": "-" if agent else BASELINE_STYLES[dashed % len(BASELINE_STYLES)]}
        dashed += not agent
    return out


def plot_label(name: str) -> str:
    """The legend label of a curve: runs with several seeds show their first."""
    return f"{name} (seed 0)" if name in (MODEL, "random") else name


def equity_figure(report: EvaluationReport) -> Figure:
    """Equity curves (agent seed 0, argmax, EVERY baseline) and drawdowns at the reference
    cost; distinct colours, and a distinct line style for each baseline."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    names = [MODEL, ARGMAX, *(n for n in report.baseline_names() if n in report.curves)]
    for name, style in curve_styles(names).items():
        values = np.asarray(report.curves[name], dtype=np.float64)
        top.plot(values, label=plot_label(name), **style)
        peak = np.maximum.accumulate(values)
        bottom.plot(-100.0 * (peak - values) / peak, **style)
    top.set_ylabel("portfolio value ($)")
    top.set_title(f"{report.model_id or report.kind}: {report.window}, costs {report.reference}")
    top.legend(fontsize=8, loc="best", ncol=2)
    bottom.set_ylabel("drawdown (%)")
    bottom.set_xlabel("decision step (1-minute bars)")
    fig.tight_layout()
    return fig


def equity_plot(report: EvaluationReport, path: Path) -> Path:
    """``equity_figure`` saved as a PNG at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    equity_figure(report).savefig(path, dpi=100)
    return path


_OPERATOR = re.compile(r"(>=|<=|==|!=|>|<)")


def gate_table_markdown(rows: Iterable[Mapping[str, Any] | Any]) -> str:
    """Gate criteria as a compact 4-column Markdown table (criterion, result, value,
    threshold) that fits a narrow panel. A row is a mapping with ``name``, ``passed``,
    ``value``, ``threshold`` and optionally ``rule`` (``Criterion.to_dict()``), or an object
    with ``to_dict()``. The threshold is prefixed by the rule's comparison operator; numbers
    are rounded (returns, named by ``total_return`` in the name or rule, in %); long text is
    abbreviated to ``GATE_TEXT_WIDTH`` characters."""
    lines = ["| criterion | result | value | threshold |", "|---|---|---|---|"]
    for raw in rows:
        row = raw if isinstance(raw, Mapping) else raw.to_dict()
        rule = str(row.get("rule") or "")
        percent = "total_return" in f"{row['name']} {rule}"
        op = _OPERATOR.search(rule)
        threshold = _gate_text(row.get("threshold"), percent)
        lines.append(_row(str(row["name"]), [
            "pass" if row["passed"] else "**FAIL**", _gate_text(row.get("value"), percent),
            f"{op.group(1)} {threshold}" if op else threshold]))
    return "\n".join(lines)


def _gate_text(value: Any, percent: bool) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        if percent:
            return _no_negative_zero(f"{100 * value:+.2f}%", signed=True)
        return f"{value:,.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"
    text = " ".join(str(value).split()).replace("|", "/")  # one line; no stray table cell
    return text if len(text) <= GATE_TEXT_WIDTH else text[:GATE_TEXT_WIDTH - 1].rstrip() + "…"


def write_artifacts(report: EvaluationReport, folder: Path) -> dict[str, Path]:
    """evaluation.json (the CLI's JSON), evaluation.md and equity.png in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "evaluation.json", "markdown": folder / "evaluation.md",
             "plot": folder / "equity.png"}
    paths["json"].write_text(json.dumps(report.summary(), indent=2, default=str))
    paths["markdown"].write_text(markdown_table(report) + "\n")
    equity_plot(report, paths["plot"])
    return paths
