"""A model trained to decide every 5 minutes trades every 5 minutes: the trading loop takes its
decision bars from the model's ExecutionSpec (one ``SessionSchedule`` with the env), and the
session reconciles with the evaluation path as ``match``."""

from __future__ import annotations

from pathlib import Path

import pytest

from intraday_jules.db import create_db_engine, upgrade_to_head
from intraday_jules.env.schedule import session_open_us
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.pipelines.session_reconciliation import reconcile_at
from intraday_jules.pipelines.trading import run_replay_session
from intraday_jules.pipelines.trading_parts import PushTarget
from intraday_jules.trading import SessionConfig
from intraday_jules.trading.config import micros
from intraday_jules_tests.reconcile_support import SESSION, no_halt_limits, save_model, tiny_dual

pytest.importorskip("sb3_contrib")
INTERVAL = 5
MINUTE_US = 60_000_000


def test_a_five_minute_model_decides_on_its_schedule_and_reconciles(
        sim_regular_minute_file: Path, tmp_path: Path) -> None:
    url, models = f"sqlite:///{tmp_path / 'traded.db'}", tmp_path / "models"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    bundle = tiny_dual(sim_regular_minute_file, INTERVAL)
    assert bundle.execution.decision_interval_minutes == INTERVAL
    model_id = save_model(bundle, engine, models)
    engine.dispose()
    # the trade command's path: a model policy trades under its ExecutionSpec (for_model)
    run_replay_session(
        SessionConfig(SESSION), database_url=url, source=ReplaySource(sim_regular_minute_file),
        policy=f"model:{model_id}", limits=no_halt_limits(), journal=tmp_path / "broker.jsonl",
        models_dir=models, push=PushTarget(), seed=4)

    schedule = bundle.execution.session_schedule(SESSION)
    ledger = Ledger.connect(url)
    try:
        decided = [micros(d.ts) for d in ledger.decisions(SESSION) if d.detail.get("actions")]
    finally:
        ledger.engine.dispose()
    assert len(decided) > 20
    off_grid = [ts for ts in decided if (ts - session_open_us(SESSION)) % (INTERVAL * MINUTE_US)
                and ts != schedule.flatten_us]
    assert off_grid == [], f"decisions off the {INTERVAL}-minute grid: {off_grid[:5]}"
    result = reconcile_at(SESSION, database_url=url, models_dir=models)
    assert result.decisions == len(decided)
    assert result.verdict == "match", result.mismatches[:5]

