"""The evaluation asset's headline metadata: what the Dagster UI shows beside the table."""

from __future__ import annotations

from intraday_jules.defs.models.assets import evaluation_headline


def test_headline_is_rounded_with_returns_in_percent_and_a_null_short_window_sharpe() -> None:
    model = {"total_return": -0.0012345, "pnl_usd": -12.3456, "sharpe": None,
             "sharpe_per_session": -0.45678, "max_drawdown_pct": 1.23456,
             "break_even_cost_x": 0.114285}
    assert evaluation_headline(model) == {
        "total_return_pct": -0.12, "pnl_usd": -12.35, "sharpe": None,
        "sharpe_per_session": -0.46, "max_drawdown_pct": 1.23, "break_even_cost_x": 0.11}


def test_an_annualised_sharpe_is_shown_when_the_window_allows_it() -> None:
    model = {"total_return": 0.02, "pnl_usd": 200.0, "sharpe": 1.23456,
             "sharpe_per_session": 0.0778, "max_drawdown_pct": 0.5, "break_even_cost_x": None}
    headline = evaluation_headline(model)
    assert headline["sharpe"] == 1.23 and headline["total_return_pct"] == 2.0
    assert headline["break_even_cost_x"] is None
