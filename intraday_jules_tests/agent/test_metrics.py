"""Metric definitions on hand-made trajectories with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from intraday_jules.agent.metrics import ci95, compute_metrics, mean_metrics
from intraday_jules.agent.rollout import Trajectory


def _trajectory(values: list[float], session: list[int], shares: list[int],
                flows: list[float], traded: list[float] | None = None,
                costs: list[float] | None = None) -> Trajectory:
    k = len(session)
    return Trajectory(
        values=np.asarray(values, dtype=np.float64), session=np.asarray(session),
        bar=np.arange(k), actions=np.zeros(k, dtype=np.int64),
        shares=np.asarray(shares, dtype=np.int64).reshape(k, 1),
        trades=np.array([int(f != 0) for f in flows]),
        traded=np.asarray(traded if traded is not None else [abs(f) for f in flows]),
        costs=np.zeros(k) if costs is None else np.asarray(costs, dtype=np.float64),
        cash_flows=np.asarray(flows, dtype=np.float64).reshape(k, 1),
        session_dates=tuple(range(max(session) + 1)))


def test_returns_drawdown_sharpe_sortino_calmar_follow_their_documented_definitions() -> None:
    # three sessions of two steps: +100, -50, +25 dollars on $10,000
    traj = _trajectory(values=[10_000, 10_060, 10_100, 10_080, 10_050, 10_070, 10_075],
                       session=[0, 0, 1, 1, 2, 2], shares=[0] * 6, flows=[0.0] * 6)
    m = compute_metrics(traj)
    days = np.array([100 / 10_000, -50 / 10_100, 25 / 10_050])
    assert m["total_return"] == pytest.approx(0.0075)
    assert m["pnl_usd"] == pytest.approx(75.0)
    assert m["sharpe_per_session"] == pytest.approx(days.mean() / days.std(ddof=1))
    downside = math.sqrt(np.mean(np.minimum(days, 0) ** 2))
    assert m["sortino_per_session"] == pytest.approx(days.mean() / downside)
    assert m["sharpe"] is None and m["sortino"] is None  # 3 sessions: not annualised
    assert m["max_drawdown_usd"] == pytest.approx(50.0)
    assert m["worst_daily_pnl_usd"] == pytest.approx(-50.0)  # the daily loss halt's unit
    assert m["max_drawdown_pct"] == pytest.approx(100 * 50 / 10_100)
    assert m["calmar"] is None  # annualised: not on 3 sessions
    assert m["trades_per_day"] == 0.0 and m["exposure"] == 0.0 and m["hit_rate"] is None


def test_undefined_ratios_are_zero_for_a_flat_book_and_null_without_downside() -> None:
    flat = compute_metrics(_trajectory([10_000] * 5, [0, 0, 1, 1], [0] * 4, [0.0] * 4))
    assert flat["sharpe_per_session"] == flat["sortino_per_session"] == 0.0
    rising = compute_metrics(_trajectory([10_000, 10_010, 10_020, 10_040, 10_050],
                                         [0, 0, 1, 1], [0] * 4, [0.0] * 4))
    assert rising["sortino_per_session"] is None
    # Calmar on 20 sessions: 0.0 flat, null without a drawdown to divide by
    flat20 = _trajectory([10_000.0] * 21, list(range(20)), [0] * 20, [0.0] * 20)
    assert compute_metrics(flat20)["calmar"] == 0.0
    rising20 = _trajectory([10_000.0 + 10 * i for i in range(21)], list(range(20)), [0] * 20,
                           [0.0] * 20)
    assert compute_metrics(rising20)["calmar"] is None


def _alternating_sessions(n: int) -> Trajectory:
    """n one-step sessions alternating +$20, -$10 on $10,000 (exact daily returns)."""
    values = [10_000.0]
    for i in range(n):
        values.append(values[-1] + (20.0 if i % 2 == 0 else -10.0))
    return _trajectory(values, list(range(n)), [0] * n, [0.0] * n)


def test_sharpe_and_sortino_are_annualised_from_20_sessions_and_per_session_below() -> None:
    for n in (19, 20):
        traj = _alternating_sessions(n)
        start = np.asarray(traj.values[:-1])
        days = np.diff(traj.values) / start
        per = days.mean() / days.std(ddof=1)
        per_down = days.mean() / math.sqrt(np.mean(np.minimum(days, 0) ** 2))
        m = compute_metrics(traj)
        assert m["sessions"] == n
        assert m["sharpe_per_session"] == pytest.approx(per)
        assert m["sortino_per_session"] == pytest.approx(per_down)
        if n < 20:
            assert m["sharpe"] is None and m["sortino"] is None and m["calmar"] is None
        else:
            drawdown = 10.0 / max(traj.values[: int(np.argmin(np.diff(traj.values))) + 1])
            assert m["calmar"] == pytest.approx(days.mean() * 252 / drawdown)
            assert m["sharpe"] == pytest.approx(per * math.sqrt(252))
            assert m["sortino"] == pytest.approx(per_down * math.sqrt(252))
    # the same rule on a subset of sessions: 20 sessions annualised, its first 5 not
    assert compute_metrics(_alternating_sessions(20), np.arange(5))["sharpe"] is None


def test_hand_checked_costs_give_gross_pnl_edge_cost_per_trade_and_break_even() -> None:
    # buy 10 at the 100.00 open, filled at 100.05 (slippage $0.50) + $1.00 commission; sell 10
    # at the 101.00 open, filled at 100.95 (slippage $0.50) + $1.00: costs $3.00 over 2 fills.
    # net = 10 x (100.95 - 100.05) - 2 = $7.00; gross = 10 x (101 - 100) = $10.00 = 7 + 3.
    traj = _trajectory(values=[10_000, 10_003.5, 10_007], session=[0, 0], shares=[10, 0],
                       flows=[-1001.5, 1008.5], costs=[1.5, 1.5])
    m = compute_metrics(traj)
    assert m["pnl_usd"] == pytest.approx(7.0)
    assert m["trades"] == 2.0
    assert m["costs_usd"] == pytest.approx(3.0)
    assert m["gross_pnl_usd"] == pytest.approx(10.0)
    assert m["gross_edge_per_trade_usd"] == pytest.approx(5.0)
    assert m["cost_per_trade_usd"] == pytest.approx(1.5)
    assert m["break_even_cost_x"] == pytest.approx(10.0 / 3.0)  # net 0 at 3.33x the costs


def test_a_policy_that_loses_to_costs_breaks_even_below_1x_and_no_trades_is_null() -> None:
    # gross +$0.24 over 2 fills, costs $2.10: net -$1.86; break-even at 0.24 / 2.10 of costs
    lossy = compute_metrics(_trajectory(values=[10_000, 9_999, 9_998.14], session=[0, 0],
                                        shares=[5, 0], flows=[-501.05, 500.19],
                                        costs=[1.05, 1.05]))
    assert lossy["gross_pnl_usd"] == pytest.approx(0.24)
    assert lossy["gross_edge_per_trade_usd"] == pytest.approx(0.12)
    assert lossy["cost_per_trade_usd"] == pytest.approx(1.05)
    assert lossy["break_even_cost_x"] == pytest.approx(0.24 / 2.10)
    flat = compute_metrics(_trajectory([10_000] * 3, [0, 0], [0, 0], [0.0, 0.0]))
    assert flat["trades"] == 0.0 and flat["gross_pnl_usd"] == 0.0
    assert flat["gross_edge_per_trade_usd"] is None and flat["cost_per_trade_usd"] is None
    assert flat["break_even_cost_x"] is None


def test_dollar_drawdown_spans_sessions_and_the_worst_day_is_the_smallest_session_pnl() -> None:
    # two losing sessions (-$10, -$40): the fall from the $10,020 peak is $70, no day lost $50
    traj = _trajectory(values=[10_000, 10_020, 9_990, 9_970, 9_950, 9_990, 10_010],
                       session=[0, 0, 1, 1, 2, 2], shares=[0] * 6, flows=[0.0] * 6)
    m = compute_metrics(traj)
    assert m["max_drawdown_usd"] == pytest.approx(70.0)
    assert m["worst_daily_pnl_usd"] == pytest.approx(-40.0)
    assert compute_metrics(traj, np.array([2]))["worst_daily_pnl_usd"] == pytest.approx(60.0)


def test_hit_rate_counts_round_trips_including_one_through_a_sign_flip() -> None:
    # long 10 (cost 1000), flip to short 10 at 105 (+2100 in: half closes the long), then flat
    traj = _trajectory(values=[10_000] * 5, session=[0, 0, 0, 0], shares=[10, -10, -10, 0],
                       flows=[-1000.0, 2100.0, 0.0, -1080.0])
    assert compute_metrics(traj)["hit_rate"] == pytest.approx(0.5)  # long +50, short -30
    assert compute_metrics(traj)["exposure"] == pytest.approx(0.75)
    assert compute_metrics(traj)["turnover"] == pytest.approx(4180 / 10_000)


def test_ci95_is_the_student_t_interval_of_the_mean_over_seeds() -> None:
    runs = [{"x": 1.0, "y": None}, {"x": 2.0, "y": 5.0}, {"x": 3.0, "y": None}]
    half = 4.303 * 1.0 / math.sqrt(3)
    assert ci95(runs)["x"] == pytest.approx([2.0 - half, 2.0 + half])
    assert ci95(runs)["y"] == [5.0, 5.0]
    assert mean_metrics(runs) == {"x": 2.0, "y": 5.0}
