"""A session trades a model under the model's ExecutionSpec, and refuses (recorded, nothing
sent) a model whose spec the session's risk limits cannot honour."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from intraday_jules.db.engine import create_db_engine
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.pipelines.trading import for_model, run_replay_session
from intraday_jules.pipelines.trading_parts import PushTarget
from intraday_jules.risk import RiskLimits
from intraday_jules.trading import SessionConfig
from intraday_jules.trading.replay import build_replay_session
from intraday_jules_tests.trading.conftest import NO_REPORT, SESSION, ledger_json, minute

pytest.importorskip("sb3_contrib")


def _store_model(url: str, models: Path, source: ReplaySource, **env: Any) -> str:
    """An untrained dual model with ``env`` rules, saved and promoted in ``url``'s store."""
    from intraday_jules.agent import ModelStore
    from intraday_jules_tests.trading.test_promoted import untrained_live_policy

    bundle = untrained_live_policy(source).bundle
    config = replace(bundle.config, env=replace(bundle.config.env, **env))
    store = ModelStore(models, create_db_engine(url))
    store.save(replace(bundle, config=config, execution=None), model_id="dual-spec")
    store.record_decision("dual-spec", "promoted", "test")
    return "dual-spec"


def _trade(url: str, models: Path, source: ReplaySource, limits: RiskLimits,
           tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    run_replay_session(SessionConfig(SESSION), database_url=url, source=source,
                       policy="promoted", limits=limits, journal=tmp_path / "broker.jsonl",
                       models_dir=models, push=PushTarget())
    return ledger_json(url)


def test_a_model_needing_shorts_is_refused_when_the_limits_forbid_them_and_nothing_is_sent(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    url, models = f"sqlite:///{tmp_path / 's.db'}", tmp_path / "models"
    _store_model(url, models, replay_source, allow_short=True)
    ledger = _trade(url, models, replay_source, RiskLimits(), tmp_path)
    [event] = ledger["risk_events"]
    assert event["kind"] == "MODEL_LOAD_FAILED" and event["state"] == "REDUCING"
    assert "ExecutionSpecMismatch" in event["reason"] and "dual-spec" in event["reason"]
    assert "long/short (allow_short=True)" in event["reason"]  # the model's side
    assert "forbid shorts (allow_short=False)" in event["reason"]  # the limits' side
    assert ledger["orders"] == [] and ledger["fills"] == []


def test_a_model_whose_cap_exceeds_the_risk_engines_max_position_is_refused(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    url, models = f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "models"
    _store_model(url, models, replay_source, max_position_notional=2000.0)
    ledger = _trade(url, models, replay_source, RiskLimits(), tmp_path)
    [event] = ledger["risk_events"]
    assert event["kind"] == "MODEL_LOAD_FAILED"
    assert "cap $2000.0" in event["reason"] and "max position per asset $1000" in event["reason"]
    assert ledger["orders"] == []


def test_the_session_sizes_the_models_orders_with_the_models_own_rules(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    url, models = f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "models"
    _store_model(url, models, replay_source, step_notional=500.0, max_position_notional=500.0)
    engine = create_db_engine(url)
    config, loader = for_model(SessionConfig(SESSION), "promoted", models, engine,
                               RiskLimits(), seed=0)
    assert loader is not None and config.rules(Decimal("1000")).step_notional == 500.0
    assert config.rules(Decimal("1000")).allow_short is False
    assert for_model(SessionConfig(SESSION), "random", models, engine, RiskLimits(), 0) == (
        SessionConfig(SESSION), None)
    build_replay_session(config, database_url=url, source=replay_source, policy="promoted",
                         promoted=loader, until=minute(90), extras=NO_REPORT).run()
    engine.dispose()
    ledger = ledger_json(url)
    assert "MODEL_LOAD_FAILED" not in {e["kind"] for e in ledger["risk_events"]}
    policy_orders = [o for o in ledger["orders"] if o["origin"] == "POLICY"]
    assert policy_orders, "the untrained model should trade"
    for order in policy_orders:  # $500 steps and cap, not the session default's $1,000
        assert order["quantity"] * Decimal(order["reference_price"]) <= Decimal("500")
