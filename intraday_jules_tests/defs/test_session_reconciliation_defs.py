"""``trading/session_reconciliation`` [session] and its blocking check: recorded by the trade
job after a session traded by ``model:ID``, rebuilt by ``session_reconciliation_job``, and
failing (with the mismatch in its metadata) once an order of the ledger was changed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from intraday_jules.db.engine import create_db_engine
from intraday_jules.db.migrate import upgrade_to_head
from intraday_jules.definitions import build_definitions
from intraday_jules.defs.trading.jobs import TRADE_JOB_NAME
from intraday_jules.defs.trading.reconciliation import (
    RECONCILIATION_CHECK,
    RECONCILIATION_JOB_NAME,
    RECONCILIATION_KEY,
)
from intraday_jules_tests.reconcile_support import SESSION, save_model, tampered_copy, tiny_dual

pytest.importorskip("sb3_contrib")
DAY = SESSION.isoformat()
QUIET = {"console": {"config": {"log_level": "ERROR"}}}


def settings_at(settings_for: Any, replay_file: Path, db: Path) -> Any:
    return settings_for(market_sources=("replay",), replay_path=replay_file,
                        database_url=f"sqlite:///{db}", max_position_usd=Decimal(900),
                        daily_loss_limit_usd=Decimal(100_000),
                        drawdown_limit_usd=Decimal(100_000))


def check_evaluations(result: Any) -> list[Any]:
    return [e.event_specific_data for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"]


def reconcile_job(settings: Any, instance: dg.DagsterInstance) -> Any:
    job = build_definitions(settings).resolve_job_def(RECONCILIATION_JOB_NAME)
    return job.execute_in_process(instance=instance, partition_key=DAY,
                                  run_config={"loggers": QUIET}, raise_on_error=False)


def test_the_trade_job_records_the_reconciliation_and_a_tampered_ledger_fails_the_check(
        settings_for: Any, sim_regular_minute_file: Path, tmp_path: Path) -> None:
    settings = settings_at(settings_for, sim_regular_minute_file, tmp_path / "job.db")
    engine = create_db_engine(settings.database_url)
    upgrade_to_head(engine)
    model_id = save_model(tiny_dual(sim_regular_minute_file), engine, settings.models_dir)
    engine.dispose()
    with dg.DagsterInstance.ephemeral() as instance:
        traded = build_definitions(settings).resolve_job_def(TRADE_JOB_NAME).execute_in_process(
            instance=instance, run_config={"loggers": QUIET, "ops": {"trade_session": {
                "config": {"session": DAY, "feed": "replay", "policy": f"model:{model_id}"}}}})
        assert traded.success
        recorded = [e.event_specific_data.materialization for e in traded.all_events
                    if e.event_type_value == "ASSET_MATERIALIZATION"
                    and e.asset_key == RECONCILIATION_KEY]
        [materialization] = recorded
        assert materialization.partition == DAY
        assert materialization.metadata["verdict"].value == "match"
        assert materialization.metadata["orders"].value > 0
        [evaluation] = check_evaluations(traded)
        assert evaluation.check_name == RECONCILIATION_CHECK and evaluation.passed

        rebuilt = reconcile_job(settings, instance)
        assert rebuilt.success
        [evaluation] = check_evaluations(rebuilt)
        assert evaluation.passed and evaluation.blocking

    tampered = tampered_copy(tmp_path / "job.db", tmp_path / "tampered.db",
                             "UPDATE orders SET quantity = quantity + 1 WHERE id = (SELECT "
                             "min(id) FROM orders WHERE origin = 'POLICY')")
    bad = settings_at(settings_for, sim_regular_minute_file, tampered)
    with dg.DagsterInstance.ephemeral() as instance:
        failed = reconcile_job(bad, instance)
    [evaluation] = check_evaluations(failed)
    assert not evaluation.passed and evaluation.blocking
    assert evaluation.metadata["order_mismatches"].value == 1
    [mismatch] = evaluation.metadata["mismatches"].value
    assert set(mismatch) == {"ts", "symbol", "live", "replay"}
