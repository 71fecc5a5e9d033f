"""The readable report: rounding and units, costs in plain words, every baseline in the plot,
and the compact gate table. Reports are built by hand, with figures chosen to check rounding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from intraday_jules.agent.data import DateWindow
from intraday_jules.agent.evaluation import ARGMAX, MODEL, EvaluationReport
from intraday_jules.agent.metrics import METRICS, Metrics
from intraday_jules.agent.report import (
    GATE_TEXT_WIDTH,
    cost_verdict,
    curve_styles,
    equity_figure,
    fmt,
    gate_table_markdown,
    markdown_table,
    write_artifacts,
)

BASELINES = ("flat", "buy_and_hold_nvda", "buy_and_hold_msft", "fifty_fifty", "random",
             "momentum")


def _metrics(sessions: int, **values: float | None) -> Metrics:
    out: Metrics = {**dict.fromkeys(METRICS, 0.0), "sessions": float(sessions)}
    for name in ("sharpe", "sortino", "hit_rate", "gross_edge_per_trade_usd",
                 "cost_per_trade_usd", "break_even_cost_x"):
        out[name] = None
    out.update(values)
    return out


def _report(sessions: int = 3, model: Metrics | None = None) -> EvaluationReport:
    model = model or _metrics(
        sessions, total_return=0.0012345, pnl_usd=1234.567, sharpe_per_session=0.12345,
        max_drawdown_pct=1.23456, exposure=0.5, trades=10.0, gross_pnl_usd=1.2,
        costs_usd=10.5, gross_edge_per_trade_usd=0.12, cost_per_trade_usd=1.05,
        break_even_cost_x=1.2 / 10.5)
    argmax = _metrics(sessions, total_return=-0.0002, pnl_usd=-3.456, trades=4.0,
                      gross_pnl_usd=16.0, costs_usd=4.0, gross_edge_per_trade_usd=4.0,
                      cost_per_trade_usd=1.0, break_even_cost_x=4.0)
    level = {MODEL: [model, model], ARGMAX: [argmax],
             **{n: [_metrics(sessions, total_return=0.001 * i)]
                for i, n in enumerate(BASELINES)}}
    steps = np.linspace(10_000.0, 10_050.0, 6)
    curves = {n: steps + 3.0 * i for i, n in enumerate([MODEL, ARGMAX, *BASELINES])}
    window = DateWindow(date(2025, 2, 5), date(2025, 2, 7))
    return EvaluationReport(
        model_id="m1", kind="dual", window=window, folds=[window], dropped=[], seeds=2,
        action_mode="sample", reference="1x", execution={}, runs={"0x": level, "1x": level},
        fold_metrics=[], curves=curves)


def test_table_rounds_money_to_cents_ratios_to_2_decimals_and_shows_returns_in_percent(
) -> None:
    table = markdown_table(_report())
    model_row = next(line for line in table.splitlines() if line.startswith("| model |"))
    cells = [c.strip() for c in model_row.strip("|").split("|")]
    # return (fraction 0.0012345 -> %), P&L, Sharpe / session, Sortino / session, max DD
    assert cells[1:6] == ["+0.12%", "$1,234.57", "0.12", "0.00", "1.23%"]
    assert "| model_argmax | -0.02% | -$3.46 |" in table
    assert "walk-forward folds" in table and "| model 95% CI |" in table


def test_figures_that_round_to_zero_never_show_a_minus_sign() -> None:
    assert fmt(-0.004, "pnl_usd") == "$0.00" and fmt(-0.006, "pnl_usd") == "-$0.01"
    assert fmt(-0.00001, "total_return") == "+0.00%" and fmt(-0.0001, "total_return") == "-0.01%"
    assert fmt(-0.003, "break_even_cost_x") == "0.00x" and fmt(-0.003, "calmar") == "0.00"
    assert fmt(None, "sharpe") == "n/a"


def test_a_short_window_shows_sharpe_per_session_and_says_so() -> None:
    short, long = markdown_table(_report(3)), markdown_table(_report(20))
    assert "Sharpe / session" in short and "Sharpe (ann.)" not in short
    assert "Fewer than 20 sessions" in short
    assert "Sharpe (ann.)" in long and "Fewer than 20 sessions" not in long


def test_the_report_explains_model_and_model_argmax() -> None:
    table = markdown_table(_report())
    assert "`model`: the policy sampling its actions" in table
    assert "mean over 2 seeds" in table
    assert "`model_argmax`: the policy taking its most likely action at every bar" in table


def test_costs_table_and_plain_words_when_the_gross_edge_cannot_pay_the_costs() -> None:
    table = markdown_table(_report())
    assert ("- model: gross edge $0.12 per trade < costs $1.05 per trade: the policy cannot "
            "pay its costs") in table
    assert ("- model_argmax: gross edge $4.00 per trade >= costs $1.00 per trade: it breaks "
            "even at 4.00x costs") in table
    assert "| model | 10 | $1.20 | $10.50 | $0.12 | $1.05 | 0.11x |" in table
    assert "- flat:" not in table  # no trades: nothing to say
    losing = _metrics(3, gross_edge_per_trade_usd=-0.5, cost_per_trade_usd=1.0)
    assert cost_verdict(losing) == ("gross edge -$0.50 per trade < costs $1.00 per trade: the "
                                    "policy cannot pay its costs (it loses even before costs)")


def test_the_equity_plot_draws_every_baseline_with_distinct_colours_and_styles(
        tmp_path: Path) -> None:
    report = _report()
    fig = equity_figure(report)
    top = fig.axes[0]
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert labels == ["model (seed 0)", ARGMAX, *(f"{n} (seed 0)" if n == "random" else n
                                                  for n in BASELINES)]
    lines = top.get_lines()
    assert len({line.get_color() for line in lines}) == len(lines)
    styles = curve_styles([MODEL, ARGMAX, *BASELINES])
    assert [line.get_color() for line in lines] == [s["color"] for s in styles.values()]
    dashes = [styles[n]["linestyle"] for n in BASELINES]
    assert "-" not in dashes and len(set(dashes)) == len(BASELINES)
    paths = write_artifacts(report, tmp_path / "eval")
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class _Criterion:
    name: str
    passed: bool
    value: Any
    threshold: Any
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "value": self.value,
                "threshold": self.threshold, "rule": self.rule}


def test_gate_table_is_four_compact_columns_with_rounded_values() -> None:
    long = "max position $1000, max order $1000, shorts allowed, 1-minute decisions"
    rows: list[Any] = [
        {"name": "beats_flat", "passed": False, "value": -0.0012345, "threshold": 0.0,
         "rule": "total_return > flat's"},
        _Criterion("max_drawdown", True, 1.23456, 2.0, "max_drawdown_pct <="),
        {"name": "dsr", "passed": False, "value": 0.0012, "threshold": 0.95,
         "rule": "probability >="},
        {"name": "execution_spec_honoured", "passed": True, "value": "honoured | all",
         "threshold": long, "rule": "spec within limits"},
        {"name": "pbo", "passed": False, "value": None, "threshold": 0.5, "rule": "<="},
    ]
    table = gate_table_markdown(rows).splitlines()
    assert table[:2] == ["| criterion | result | value | threshold |", "|---|---|---|---|"]
    assert table[2] == "| beats_flat | **FAIL** | -0.12% | > +0.00% |"
    assert table[3] == "| max_drawdown | pass | 1.23 | <= 2.00 |"
    assert table[4] == "| dsr | **FAIL** | 0.0012 | >= 0.95 |"
    spec = [c.strip() for c in table[5].strip("|").split("|")]
    assert spec[2] == "honoured / all" and len(spec) == 4
    assert spec[3].endswith("…") and len(spec[3]) == GATE_TEXT_WIDTH
    assert table[6] == "| pbo | **FAIL** | n/a | <= 0.50 |"
    assert all(line.count("|") == 5 for line in table)


@pytest.mark.parametrize("value", [0.5, 2])
def test_gate_table_accepts_integers_and_plain_floats(value: float) -> None:
    row = {"name": "x", "passed": True, "value": value, "threshold": 1, "rule": ">"}
    assert gate_table_markdown([row]).splitlines()[2] == f"| x | pass | {value:.2f} | > 1.00 |"
