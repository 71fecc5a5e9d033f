"""trade_session_job, the trading sensor and the session report, wired as in the code location."""

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime

import dagster as dg
import pytest

from intraday_jules.agent import ModelStore
from intraday_jules.agent.promotion import Criterion, GateReport
from intraday_jules.agent.registry import MODELS
from intraday_jules.db.engine import create_db_engine
from intraday_jules.definitions import build_definitions
from intraday_jules.defs.trading.jobs import SESSION_TAG, TRADE_JOB_NAME
from intraday_jules.defs.trading.sensors import evaluate_trading_sensor
from intraday_jules.ledger import Ledger

SESSION = "2025-02-03"
QUIET = {"console": {"config": {"log_level": "ERROR"}}}
DECIDED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def replay_settings(settings_for, sim_minute_file, tmp_path):
    """Replay of the simulated stand-in for the recorded minute file (no ../shared needed)."""
    return settings_for(market_sources=("replay",), replay_path=sim_minute_file,
                        database_url=f"sqlite:///{tmp_path / 'job.db'}")


def _trade(defs, instance, policy="random", feed="replay"):
    job = defs.resolve_job_def(TRADE_JOB_NAME)
    return job.execute_in_process(instance=instance, run_config={
        "ops": {"trade_session": {"config": {"session": SESSION, "feed": feed,
                                             "policy": policy}}},
        "loggers": QUIET})


def test_a_replayed_session_gives_the_same_ledger_through_the_job_and_the_cli(
        replay_settings, tmp_path):
    defs = build_definitions(replay_settings)
    with dg.DagsterInstance.ephemeral() as instance:
        result = _trade(defs, instance)
        assert result.success
        events = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
    assert events[0].asset_key == dg.AssetKey(["trading", "session_report"])
    output = result.output_for_node("trade_session")
    assert output["session"] == SESSION and output["fills"] > 0
    job_ledger = Ledger.connect(replay_settings.database_url).session_ledger(date(2025, 2, 3))
    cli_db = tmp_path / "cli.db"
    env = {**os.environ, "INTRADAY_JULES_HOME": str(tmp_path / "cli-home"),
           "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{cli_db}"}
    proc = subprocess.run([sys.executable, "-m", "intraday_jules.cli", "trade", "--session",
                           SESSION, "--source", "replay", "--replay-path",
                           str(replay_settings.replay_path), "--broker", "simulated",
                           "--policy", "random", "--json"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["fills"] == output["fills"]
    cli_ledger = Ledger.connect(f"sqlite:///{cli_db}").session_ledger(date(2025, 2, 3))
    assert cli_ledger == job_ledger


def test_session_report_asset_rebuilds_the_report_from_the_ledger(replay_settings):
    defs = build_definitions(replay_settings)
    with dg.DagsterInstance.ephemeral() as instance:
        assert _trade(defs, instance, policy="always-buy").success
        job = defs.resolve_job_def("report_session_job")
        result = job.execute_in_process(instance=instance, partition_key=SESSION,
                                        run_config={"loggers": QUIET})
    meta = result.asset_materializations_for_node("trading__session_report")[0].metadata
    assert "![equity]" in meta["equity_png"].value
    assert meta["summary"].value["session"] == SESSION


class _Store:
    def __init__(self, champion):
        self.champion = champion

    def open(self):
        return self

    def champion_id(self):
        return self.champion

    def promotion_history(self):
        return []


def test_sensor_launches_once_per_open_session_when_a_model_is_promoted():
    open_time = datetime(2025, 2, 3, 15, 0, tzinfo=UTC)  # 10:00 ET
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance)
        request = evaluate_trading_sensor(context, _Store("dual-1"), open_time)
        assert isinstance(request, dg.RunRequest)
        assert request.run_key == SESSION and request.tags[SESSION_TAG] == SESSION
        assert "no promoted model" in evaluate_trading_sensor(
            context, _Store(None), open_time).skip_message
        closed = datetime(2025, 2, 3, 22, 0, tzinfo=UTC)
        assert "not open" in evaluate_trading_sensor(context, _Store("x"), closed).skip_message
        holiday = datetime(2025, 12, 25, 15, 0, tzinfo=UTC)
        assert "not an XNYS session" in evaluate_trading_sensor(
            context, _Store("x"), holiday).skip_message


class _RealStore:
    """The model store resource's interface over a real ModelStore (SQLite)."""

    def __init__(self, store):
        self.store = store

    def open(self):
        return self.store


def _registered(store, model_id):
    """A registry row for ``model_id`` (the gate reads rows; no weights needed here)."""
    with store.engine.begin() as conn:
        conn.execute(MODELS.insert().values(
            id=model_id, kind="dual", parent_id=None, symbols="NVDA,MSFT",
            window_start=date(2025, 2, 5), window_end=date(2025, 2, 14), seed=0,
            spec_version="v", status="evaluated", created_at=DECIDED, metrics={},
            path=str(store.model_dir(model_id))))


def test_sensor_skip_reason_names_the_gates_rejection_when_training_ran(tmp_path):
    store = ModelStore(tmp_path / "models", create_db_engine(f"sqlite:///{tmp_path / 'm.db'}"),
                       clock=lambda: DECIDED)
    open_time = datetime(2025, 2, 3, 15, 0, tzinfo=UTC)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance)
        assert evaluate_trading_sensor(context, _RealStore(store), open_time).skip_message == (
            "no promoted model: run the training job (models/promoted_model)")
        _registered(store, "dual-1")
        gate = GateReport("dual-1", None, False, (
            Criterion("beats_flat", False, -0.01, 0.0, "total_return > flat's"),
            Criterion("beats_buy_and_hold", False, -0.01, 0.004, "total_return > best of "
                      "['buy_and_hold_nvda']"),
            Criterion("max_drawdown", True, 1.5, 2.0, "max_drawdown_pct <="),
            Criterion("feature_spec_matches", True, "v", "v", "FeatureSpec hash ==")))
        store.record_decision("dual-1", "rejected", gate.summary(), gate.to_dict())
        assert evaluate_trading_sensor(context, _RealStore(store), open_time).skip_message == (
            "no promoted model: the promotion gate rejected dual-1 (2026-11-26 12:00 UTC): "
            "beats_flat: FAIL: -0.01 total_return > flat's 0.0; beats_buy_and_hold: FAIL: "
            "-0.01 total_return > best of ['buy_and_hold_nvda'] 0.004. Nothing trades until "
            "a model passes the gate (see models/promoted_model's gate metadata)")
        store.record_decision("dual-1", "promoted", "passed on new data")
        assert isinstance(evaluate_trading_sensor(context, _RealStore(store), open_time),
                          dg.RunRequest)


def test_sensor_relaunches_a_failed_session_run_but_not_a_running_one(replay_settings):
    defs = build_definitions(replay_settings)
    job = defs.resolve_job_def(TRADE_JOB_NAME)
    open_time = datetime(2025, 2, 3, 15, 0, tzinfo=UTC)
    with dg.DagsterInstance.ephemeral() as instance:
        run = instance.create_run_for_job(job, tags={SESSION_TAG: SESSION},
                                          run_config={"ops": {"trade_session": {"config": {
                                              "session": SESSION}}}})
        instance.report_run_failed(run)
        context = dg.build_sensor_context(instance=instance)
        again = evaluate_trading_sensor(context, _Store("dual-1"), open_time)
        assert isinstance(again, dg.RunRequest) and again.run_key == f"{SESSION}-restart-1"
        ok = instance.create_run_for_job(job, tags={SESSION_TAG: SESSION},
                                         run_config={"ops": {"trade_session": {"config": {
                                             "session": SESSION}}}})
        instance.handle_run_event(ok.run_id, dg.DagsterEvent(
            event_type_value="PIPELINE_START", job_name=TRADE_JOB_NAME))
        skipped = evaluate_trading_sensor(context, _Store("dual-1"), open_time)
        assert isinstance(skipped, dg.SkipReason)


def test_session_schedules_request_the_right_partitions_and_skip_holidays(replay_settings):
    defs = build_definitions(replay_settings)
    repo = defs.get_repository_def()

    def tick(name, when):
        schedule = defs.resolve_schedule_def(name)
        with dg.build_schedule_context(scheduled_execution_time=when,
                                       repository_def=repo) as context:
            return schedule.evaluate_tick(context)

    report = tick("end_of_session_report_schedule", datetime(2025, 2, 3, 21, 15, tzinfo=UTC))
    assert [r.partition_key for r in report.run_requests] == [SESSION]
    preopen = tick("preopen_ingest_schedule", datetime(2025, 2, 3, 13, 30, tzinfo=UTC))
    assert sorted(r.partition_key for r in preopen.run_requests) == [
        "2025-01-31|MSFT", "2025-01-31|NVDA"]  # the previous session, every symbol
    for name in ("end_of_session_report_schedule", "preopen_ingest_schedule",
                 "preopen_reconcile_schedule"):
        holiday = tick(name, datetime(2025, 12, 25, 14, 20, tzinfo=UTC))
        assert not holiday.run_requests and "not an XNYS session" in holiday.skip_message
