"""Human-readable evaluation artefacts: a Markdown table and an equity + drawdown PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from intraday_jules.agent.evaluation import ARGMAX, MODEL, EvaluationReport

TABLE_METRICS = ("total_return", "pnl_usd", "sharpe", "sortino", "max_drawdown_pct", "calmar",
                 "turnover", "trades_per_day", "exposure", "hit_rate")
PLOTTED_BASELINES = ("flat", "buy_and_hold_nvda", "buy_and_hold_msft", "fifty_fifty",
                     "momentum")


def _fmt(value: float | None, name: str) -> str:
    if value is None:
        return "n/a"
    if name == "total_return":
        return f"{100 * value:+.3f}%"
    if name in ("exposure", "hit_rate"):
        return f"{100 * value:.1f}%"
    return f"{value:,.2f}"


def markdown_table(report: EvaluationReport) -> str:
    """Agent vs baselines at the reference cost (with the 95% CI of the agent), then the
    agent's total return at every cost level."""
    ci = report.to_dict()["ci95"]
    header = "| policy | " + " | ".join(TABLE_METRICS) + " |"
    lines = [f"Window {report.window} ({len(report.folds)} walk-forward folds), "
             f"{report.seeds} seeds, costs {report.reference}", "", header,
             "|" + "---|" * (len(TABLE_METRICS) + 1)]
    names = [MODEL, ARGMAX, *report.baseline_names()]
    for name in names:
        m = report.metrics(name)
        lines.append(f"| {name} | " + " | ".join(_fmt(m[k], k) for k in TABLE_METRICS) + " |")
    lo_hi = [f"[{_fmt(ci[k][0], k)}, {_fmt(ci[k][1], k)}]" if ci.get(k) else "n/a"
             for k in TABLE_METRICS]
    lines.append("| model 95% CI | " + " | ".join(lo_hi) + " |")
    lines += ["", "| costs | " + " | ".join(f"{n} total_return" for n in names[:2]) +
              " | best baseline |", "|---|---|---|---|"]
    for level in report.runs:
        best = max(report.baseline_names(),
                   key=lambda n: report.metrics(n, level)["total_return"] or -np.inf)
        lines.append(f"| {level} | " + " | ".join(
            _fmt(report.metrics(n, level)["total_return"], "total_return") for n in names[:2])
            + f" | {best} {_fmt(report.metrics(best, level)['total_return'], 'total_return')} |")
    return "\n".join(lines)


def equity_plot(report: EvaluationReport, path: Path) -> Path:
    """Equity curves (agent seed 0, argmax, baselines) and drawdowns at the reference cost."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    names = [MODEL, ARGMAX, *(n for n in PLOTTED_BASELINES if n in report.curves)]
    for name in names:
        values = report.curves[name]
        label = f"{name} (seed 0)" if name == MODEL else name
        top.plot(values, label=label, linewidth=1.4 if name in (MODEL, ARGMAX) else 0.9)
        peak = np.maximum.accumulate(values)
        bottom.plot(-100.0 * (peak - values) / peak, linewidth=0.9)
    top.set_ylabel("portfolio value ($)")
    top.set_title(f"{report.model_id or report.kind}: {report.window}, costs {report.reference}")
    top.legend(fontsize=8, loc="best")
    bottom.set_ylabel("drawdown (%)")
    bottom.set_xlabel("decision step (1-minute bars)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_artifacts(report: EvaluationReport, folder: Path) -> dict[str, Path]:
    """evaluation.json (the CLI's JSON), evaluation.md and equity.png in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "evaluation.json", "markdown": folder / "evaluation.md",
             "plot": folder / "equity.png"}
    paths["json"].write_text(json.dumps(report.summary(), indent=2, default=str))
    paths["markdown"].write_text(markdown_table(report) + "\n")
    equity_plot(report, paths["plot"])
    return paths
