"""``run_cpcv``: the recipe retrained per split on simulated sessions (tiny budgets), paths
recombined, deterministic for a seed; the path arithmetic on hand-made session curves."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from intraday_jules.agent import training
from intraday_jules.agent.cpcv import CpcvPlanError, session_splits
from intraday_jules.domain.calendar import NEW_YORK, sessions_in_range
from intraday_jules.env import MarketArrays
from intraday_jules.pipelines.cpcv import CpcvReport, distribution, path_metrics, run_cpcv
from intraday_jules_tests.agent.conftest import synthetic_bars, tiny_config

STATS = {"median", "p05", "p95", "per_path"}


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return synthetic_bars(n_sessions=9, bars_per_session=100, seed=7)


@pytest.fixture(scope="module")
def report(bars: pd.DataFrame) -> CpcvReport:
    return run_cpcv(bars, tiny_config(), foundation_steps=256, dual_steps=256, seed=1, seeds=2,
                    n_groups=3, n_test_groups=2)


def test_run_cpcv_reports_the_distribution_over_every_path(report: CpcvReport) -> None:
    out = report.to_dict()
    assert (out["paths"], out["groups"], out["test_groups"], out["splits"]) == (2, 3, 2, 3)
    assert (out["embargo_sessions"], out["purge_sessions"], out["sessions"]) == (1, 0, 9)
    for key in ("pnl_usd", "sharpe_per_session", "max_drawdown_usd", "buy_and_hold_pnl_usd"):
        assert set(out[key]) == STATS and len(out[key]["per_path"]) == 2
        assert out[key]["p05"] <= out[key]["median"] <= out[key]["p95"]
    assert set(out["baselines_pnl_usd"]) == {"buy_and_hold_nvda", "buy_and_hold_msft",
                                             "fifty_fifty"}
    assert all(d >= 0 for d in out["max_drawdown_usd"]["per_path"])


def test_buy_and_hold_is_the_same_on_every_path(report: CpcvReport) -> None:
    # a deterministic rule does not depend on the training split: every path covers every
    # session exactly once, so every path must add up to the same P&L
    for name, per_path in report.to_dict()["baselines_pnl_usd"].items():
        assert per_path[0] == pytest.approx(per_path[1], abs=1e-6), name
    best = report.to_dict()["buy_and_hold_pnl_usd"]["per_path"]
    assert best == [max(v[p] for v in report.to_dict()["baselines_pnl_usd"].values())
                    for p in range(2)]


def test_run_cpcv_is_deterministic_for_a_seed(bars: pd.DataFrame, report: CpcvReport) -> None:
    again = run_cpcv(bars, tiny_config(), foundation_steps=256, dual_steps=256, seed=1,
                     seeds=2, n_groups=3, n_test_groups=2)
    assert again.to_dict() == report.to_dict()


def test_run_cpcv_trains_each_split_on_its_training_sessions_only(
        bars: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[set[date]] = []
    real = training.make_training_env

    def spy(arrays: MarketArrays, *args: object, **kwargs: object) -> object:
        ts = pd.DatetimeIndex(arrays.ts).tz_localize("UTC").tz_convert(NEW_YORK)
        seen.append(set(ts.date))
        return real(arrays, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(training, "make_training_env", spy)
    report = run_cpcv(bars, tiny_config(), foundation_steps=32, dual_steps=32, seeds=1,
                      n_groups=3, n_test_groups=2)
    splits = report.plan.splits
    assert len(seen) == 2 * len(splits)  # foundation, then dual, per split
    for i, split in enumerate(splits):
        for trained in seen[2 * i:2 * i + 2]:
            assert trained == set(split.train)
            assert not trained & set(split.test_sessions)


def test_run_cpcv_refuses_too_few_sessions_before_training(bars: pd.DataFrame) -> None:
    with pytest.raises(CpcvPlanError, match="9 sessions are too few for 6 groups"):
        run_cpcv(bars, tiny_config(), foundation_steps=64, dual_steps=64)


def test_path_metrics_chain_each_groups_sessions_from_the_split_that_tested_it() -> None:
    days = sessions_in_range(date(2025, 3, 3), date(2025, 3, 31))[:9]
    plan = session_splits(days, n_groups=3, n_test_groups=2)
    # split s gives every session it tests a P&L of (s + 1) $ reached at its last bar, with
    # a dip of -3 $ in the middle; one run (seed)
    results = [{"model": {d: np.array([[0.0, -3.0, s.index + 1.0]])
                          for d in s.test_sessions}} for s in plan.splits]
    for path in range(plan.n_paths):
        chosen = plan.path_splits(path)
        expected = sum(3 * (s + 1.0) for s in chosen)  # three sessions per group
        got = path_metrics(plan, results, "model", path, initial_cash=10_000.0)
        assert got.pnl_usd == pytest.approx(expected)
        # the worst fall: the first session's dip from the start (3 $), unless a later
        # session dips further below an earlier peak: each dip is 3 $ below its session start
        assert got.max_drawdown_usd == pytest.approx(3.0)
        assert got.sharpe_per_session is not None and got.sharpe_per_session > 0


def test_distribution_takes_percentiles_over_defined_values() -> None:
    out = distribution([1.0, None, 3.0])
    assert out == {"median": 2.0, "p05": 1.1, "p95": 2.9, "per_path": [1.0, None, 3.0]}
    assert distribution([None])["median"] is None
    assert math.isclose(distribution([5.0])["p95"], 5.0)
