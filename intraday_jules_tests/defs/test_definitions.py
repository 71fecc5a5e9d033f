"""Loads the code location and snapshots its graph, so a graph change shows up in review."""

import subprocess
import sys
from datetime import UTC, date, datetime

import dagster as dg
import pandas as pd

from intraday_jules.definitions import build_definitions
from intraday_jules.defs.common.partitions import partition_key
from intraday_jules.market_data.store import BarStore


def _defs(settings_for, **overrides):
    return build_definitions(settings_for(**overrides))


GRAPH = {  # asset -> its upstream assets: the lineage the Dagster UI shows
    "market_data/bars": [],
    "quality/bar_quality_report": ["market_data/bars"],
    "features/feature_table": ["market_data/bars"],
    "models/nvda_foundation_model": ["features/feature_table"],
    "models/dual_ticker_model": ["features/feature_table", "models/nvda_foundation_model"],
    "models/model_evaluation": ["features/feature_table", "models/dual_ticker_model"],
    "models/promoted_model": ["models/model_evaluation"],
    "models/sweep_report": [],
    "trading/session_report": ["models/promoted_model"],
    "trading/performance_report": ["trading/session_report"],
    "trading/session_reconciliation": ["trading/session_report"],
}
CHECKS = {
    "market_data/bars": ["contract_schema_valid", "newest_bar_fresh", "no_missing_minutes",
                         "no_missing_sessions", "no_price_jumps", "no_zero_volume_runs",
                         "ohlc_consistent", "price_scale_plausible", "sources_agree",
                         "timestamps_in_session", "timestamps_unique", "volume_nonnegative",
                         "volume_regime_stable", "zero_volume_share_low"],
    "features/feature_table": ["contract_schema_valid", "features_finite_after_warmup",
                               "keys_unique"],
    "models/promoted_model": ["challenger_passed_gate"],
    "trading/session_reconciliation": ["replay_matches_ledger"],
}
BLOCKING = {"market_data/bars": ["contract_schema_valid", "newest_bar_fresh",
                                 "no_missing_sessions", "no_price_jumps", "ohlc_consistent",
                                 "price_scale_plausible", "timestamps_in_session",
                                 "timestamps_unique", "volume_nonnegative"],
            "features/feature_table": ["contract_schema_valid", "features_finite_after_warmup",
                                       "keys_unique"],
            "trading/session_reconciliation": ["replay_matches_ledger"]}
JOBS = ["ingest_bars_job", "reconcile_broker_job", "report_quality_job", "report_session_job",
        "session_reconciliation_job", "sweep_job", "sweep_job_celery", "trade_session_job",
        "train_models_job"]
SCHEDULES = ["daily_bars_schedule", "end_of_session_report_schedule", "preopen_ingest_schedule",
             "preopen_reconcile_schedule"]
SENSORS = ["trading_session_sensor"]


def test_code_location_graph_snapshot(settings_for):
    defs = _defs(settings_for)
    graph = defs.resolve_asset_graph()
    lineage = {k.to_user_string(): sorted(p.to_user_string() for p in graph.get(k).parent_keys)
               for k in graph.get_all_asset_keys()}
    assert lineage == GRAPH
    checks: dict[str, list[str]] = {}
    blocking: dict[str, list[str]] = {}
    for key in graph.asset_check_keys:
        checks.setdefault(key.asset_key.to_user_string(), []).append(key.name)
        if graph.get_check_spec(key).blocking:
            blocking.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    assert {k: sorted(v) for k, v in checks.items()} == CHECKS
    assert {k: sorted(v) for k, v in blocking.items()} == BLOCKING
    jobs = sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    assert jobs == JOBS
    assert sorted(s.name for s in defs.schedules) == SCHEDULES
    assert sorted(s.name for s in defs.sensors) == SENSORS


def test_partitions_follow_the_xnys_calendar(settings_for):
    defs = _defs(settings_for)
    bars = defs.resolve_assets_def(dg.AssetKey(["market_data", "bars"]))
    keys = bars.partitions_def.get_partition_keys(
        current_time=datetime(2026, 1, 10, tzinfo=UTC))
    sessions = {k.split("|")[0] for k in keys}
    assert "2025-07-03" in sessions  # half day
    assert "2025-12-25" not in sessions  # Christmas
    assert "2025-01-09" not in sessions  # national day of mourning
    assert "2025-01-04" not in sessions  # Saturday
    assert {k.split("|")[1] for k in keys} == {"NVDA", "MSFT"}


def test_materializing_a_partition_three_times_leaves_identical_rows(settings_for, db_url):
    defs = _defs(settings_for, database_url=db_url)
    job = defs.resolve_job_def("ingest_bars_job")
    key = str(partition_key("2025-03-12", "MSFT"))
    snapshots, results = [], []
    with dg.DagsterInstance.ephemeral() as instance:
        for _ in range(3):
            result = job.execute_in_process(instance=instance, partition_key=key)
            assert result.success
            results.append(result)
            store = BarStore.open(db_url)
            snapshots.append(store.read(with_meta=True))
            store.close()
    for later in snapshots[1:]:
        pd.testing.assert_frame_equal(later, snapshots[0])
    assert len(snapshots[0]) == 390
    metadata = [r.asset_materializations_for_node("market_data__bars")[0].metadata
                for r in results]
    assert metadata[0]["rows_inserted"].value == 390
    assert metadata[2]["rows_unchanged"].value == 390
    assert metadata[2]["rows_written"].value == 0
    assert metadata[0]["source"].value == "simulated"
    assert metadata[0]["first_ts"].value == "2025-03-12T13:30:00+00:00"


def test_daily_schedule_ingests_each_symbol_after_the_close_and_skips_holidays(settings_for):
    defs = _defs(settings_for)
    schedule = defs.resolve_schedule_def("daily_bars_schedule")
    after_close = datetime(2025, 3, 12, 20, 30, tzinfo=UTC)  # 16:30 ET
    with dg.build_schedule_context(scheduled_execution_time=after_close,
                                   repository_def=defs.get_repository_def()) as context:
        requests = schedule.evaluate_tick(context).run_requests
    assert sorted(r.partition_key for r in requests) == ["2025-03-12|MSFT", "2025-03-12|NVDA"]
    holiday = datetime(2025, 12, 25, 21, 30, tzinfo=UTC)
    with dg.build_schedule_context(scheduled_execution_time=holiday,
                                   repository_def=defs.get_repository_def()) as context:
        data = schedule.evaluate_tick(context)
    assert not data.run_requests and "not an XNYS session" in data.skip_message


def test_dagster_cli_loads_the_code_location(tmp_path):
    env = {"DAGSTER_HOME": str(tmp_path), "INTRADAY_JULES_HOME": str(tmp_path / "home"),
           "PATH": "/usr/bin:/bin"}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m",
         "intraday_jules.definitions"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Validation successful" in proc.stdout + proc.stderr


def test_first_session_setting_moves_the_partition_start(settings_for):
    defs = _defs(settings_for, first_session=date(2025, 6, 2))
    bars = defs.resolve_assets_def(dg.AssetKey(["market_data", "bars"]))
    keys = bars.partitions_def.get_partition_keys(
        current_time=datetime(2025, 6, 10, tzinfo=UTC))
    assert min(k.split("|")[0] for k in keys) == "2025-06-02"
