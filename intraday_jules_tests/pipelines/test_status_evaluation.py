"""``status``'s champion line: the recorded evaluation's headline figures, readable, with a
null Sharpe on a window too short to annualise."""

from __future__ import annotations

from intraday_jules.cli.status_cmd import _model_text
from intraday_jules.pipelines.status import champion_evaluation

RECORDED = {"window": {"start": "2025-02-05", "end": "2025-02-07"}, "model": {
    "total_return": -0.0012345, "pnl_usd": -12.35, "sharpe": None,
    "sharpe_per_session": -0.4567, "max_drawdown_pct": 1.23456, "calmar": 3.0}}


def test_champion_evaluation_reads_the_models_row_of_the_recorded_summary() -> None:
    assert champion_evaluation(RECORDED) == {
        "total_return": -0.0012345, "sharpe": None, "sharpe_per_session": -0.4567,
        "max_drawdown_pct": 1.23456}
    assert champion_evaluation({"model": {"total_return": 0.01}}) == {"total_return": 0.01}
    assert champion_evaluation({}) == {}


def test_status_shows_returns_in_percent_and_a_null_sharpe_as_n_a() -> None:
    text = _model_text({"champion": "d-1", "kind": "dual", "trained_on": "2025-01-02..",
                        "spec_version": "abc", "evaluation": champion_evaluation(RECORDED)})
    assert text.endswith("validation: total_return -0.12%, sharpe n/a, "
                         "sharpe_per_session -0.46, max_drawdown_pct 1.23%")
