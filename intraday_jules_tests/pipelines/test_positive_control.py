"""The positive control: the CLI at its default budgets (the CI smoke) promotes the planted
market's model and refuses the destroyed market's; the pieces it is made of, fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from intraday_jules.features import DEFAULT_SPEC
from intraday_jules.features.store import read_feature_frame
from intraday_jules.market_data.simulated import SimulatedSource
from intraday_jules.market_data.store import BarStore
from intraday_jules.pipelines.positive_control import (
    ControlBudgets,
    MarketVerdict,
    PositiveControlResult,
    ingest_with_features,
    usable_bars,
)

CLI = [sys.executable, "-m", "intraday_jules.cli"]
MARKET_KEYS = {"pnl_usd", "dsr", "pbo", "promoted", "model_id", "criteria"}


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INTRADAY_JULES_HOME": str(home), "INTRADAY_JULES_DEPLOYMENT": "ci"}
    return subprocess.run([*CLI, "positive-control", *args], env=env, capture_output=True,
                          text=True, timeout=2400)


def test_cli_promotes_the_planted_model_and_refuses_the_destroyed_one(tmp_path: Path) -> None:
    proc = run(["--json"], tmp_path / "home")
    out = json.loads(proc.stdout)
    planted, destroyed = out["planted"], out["destroyed"]
    detail = json.dumps({m: {k: out[m][k] for k in ("pnl_usd", "failed_criteria")}
                         for m in ("planted", "destroyed")})
    assert proc.returncode == 0, f"{proc.stderr[-2000:]}\n{detail}"
    assert out["passed"] is True and out["wrong_verdicts"] == []
    assert set(planted) >= MARKET_KEYS and set(destroyed) >= MARKET_KEYS
    assert planted["promoted"] is True and destroyed["promoted"] is False
    assert planted["pnl_usd"] > 0
    assert planted["model_id"] != destroyed["model_id"]
    assert {c["name"] for c in planted["criteria"]} >= {
        "beats_flat", "beats_buy_and_hold", "cpcv_median_pnl_usd", "cpcv_beats_buy_and_hold",
        "deflated_sharpe", "pbo"}
    assert all(c["passed"] for c in planted["criteria"])
    # the control's models come from no sweep: a DSR against one trial, PBO not applicable
    assert planted["dsr"] >= 0.95 and planted["pbo"] == "n/a: the model has no study"
    # each market ran in its own database and model store: no shared champion
    home = tmp_path / "home" / "positive_control"
    assert (home / "planted" / "control.db").exists() and (home / "destroyed" / "control.db"
                                                            ).exists()


def test_an_untrained_pipeline_fails_the_control_and_says_which_verdict(tmp_path: Path) -> None:
    # 64 steps learn nothing: the planted model trades at random, loses to costs, is refused
    proc = run(["--json", "--foundation-steps", "64", "--dual-steps", "64",
                "--evaluation-seeds", "1", "--cpcv-foundation-steps", "64",
                "--cpcv-dual-steps", "64"], tmp_path / "home")
    assert proc.returncode == 1
    out = json.loads(proc.stdout)  # still the one result object
    assert out["passed"] is False and out["planted"]["promoted"] is False
    assert "beats_flat" in out["planted"]["failed_criteria"]
    assert "planted market" in proc.stderr and "expected promoted" in proc.stderr
    assert "destroyed market" not in proc.stderr


def _verdict(market: str, promoted: bool, criteria: tuple[dict, ...] = ()) -> MarketVerdict:
    return MarketVerdict(market, f"dual-{market}", f"foundation-{market}", 12.5, promoted,
                         criteria, 38, (), 1.0)


def test_passed_only_when_planted_is_promoted_and_destroyed_refused() -> None:
    budgets = ControlBudgets(1, 1)
    ok = PositiveControlResult(_verdict("planted", True), _verdict("destroyed", False),
                               budgets, 0, 7)
    assert ok.passed and ok.wrong_verdicts() == []
    refused = ({"name": "beats_buy_and_hold", "passed": False, "value": 0.01,
                "threshold": 0.02, "rule": ">"},)
    both_wrong = PositiveControlResult(_verdict("planted", False, refused),
                                       _verdict("destroyed", True), budgets, 0, 7)
    assert not both_wrong.passed
    planted_line, destroyed_line = both_wrong.wrong_verdicts()
    assert "planted market" in planted_line and "beats_buy_and_hold" in planted_line
    assert "destroyed market" in destroyed_line and "promoted" in destroyed_line
    payload = both_wrong.to_dict()
    assert payload["passed"] is False and len(payload["wrong_verdicts"]) == 2


def test_dsr_and_pbo_come_from_the_gate_criteria_by_name_else_null() -> None:
    plain = _verdict("planted", True).to_dict()
    assert plain["dsr"] is None and plain["pbo"] is None
    extended = _verdict("planted", True, (
        {"name": "deflated_sharpe", "passed": True, "value": 0.97, "threshold": 0.95,
         "rule": ">="},
        {"name": "pbo", "passed": True, "value": 0.2, "threshold": 0.5, "rule": "<="},
    )).to_dict()
    assert extended["dsr"] == 0.97 and extended["pbo"] == 0.2


def test_budgets_are_refused_below_one() -> None:
    with pytest.raises(ValueError, match="dual_steps must be >= 1"):
        ControlBudgets(1, 0)


def test_ingest_stores_features_and_leaves_blocked_sessions_out(tmp_path: Path) -> None:
    store = BarStore.open(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        # 2025-01-31: the simulated NVDA session has a one-bar jump the contract blocks
        ingested = ingest_with_features(SimulatedSource(seed=7, pattern="planted"), store,
                                        (date(2025, 1, 30), date(2025, 2, 3)))
        assert ingested.sessions == (date(2025, 1, 30), date(2025, 2, 3))
        (blocked,) = ingested.blocked
        assert "2025-01-31|NVDA" in blocked and "no_price_jumps" in blocked
        bars = usable_bars(store, ingested.sessions)
        assert set(bars["source"]) == {"simulated-planted"}
        rows = read_feature_frame(store.engine, DEFAULT_SPEC, bars,
                                  symbols=("NVDA", "MSFT"), origin="test")
        assert len(rows) == len(bars)
    finally:
        store.close()


def test_cli_defaults_are_the_pipelines_budgets() -> None:
    from intraday_jules.cli.positive_control_cmd import (
        DEFAULT_CPCV_STEPS,
        DEFAULT_DUAL_STEPS,
        DEFAULT_FOUNDATION_STEPS,
    )

    budgets = ControlBudgets()
    assert budgets.cpcv_foundation_steps == budgets.cpcv_dual_steps == DEFAULT_CPCV_STEPS
    assert budgets.foundation_steps == DEFAULT_FOUNDATION_STEPS
    assert budgets.dual_steps == DEFAULT_DUAL_STEPS
