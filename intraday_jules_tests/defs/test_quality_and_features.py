"""Asset checks on market_data/bars, the quality report asset, and the blocking gate in front
of features/feature_table, on SQLite and on PostgreSQL."""

import dagster as dg
import sqlalchemy as sa

from intraday_jules.definitions import build_definitions
from intraday_jules.defs.common.partitions import partition_key
from intraday_jules.features import DEFAULT_SPEC
from intraday_jules.features.store import read_features
from intraday_jules.market_data.store import BarStore
from intraday_jules_tests.builders import session_bars, write_csv

BARS = dg.AssetKey(["market_data", "bars"])
FEATURES = dg.AssetKey(["features", "feature_table"])
REPORT = dg.AssetKey(["quality", "bar_quality_report"])
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _materialize(defs, keys, partition, instance, raise_on_error=True):
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(keys))
    return job.execute_in_process(partition_key=partition, instance=instance,
                                  raise_on_error=raise_on_error, run_config=QUIET)


def test_checks_report_and_features_for_a_clean_partition(settings_for, db_url):
    defs = build_definitions(settings_for(database_url=db_url))
    key = str(partition_key("2025-03-12", "NVDA"))
    with dg.DagsterInstance.ephemeral() as instance:
        result = _materialize(defs, [BARS, FEATURES], key, instance)
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks["ohlc_consistent"] and checks["no_missing_sessions"]
        assert checks["features_finite_after_warmup"]
        job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection={REPORT})
        report = job.execute_in_process(partition_key="2025-03-12", instance=instance,
                                        run_config=QUIET)
    meta = report.asset_materializations_for_node("quality__bar_quality_report")[0].metadata
    assert "no_price_jumps" in meta["report"].value
    assert meta["minutes_png"].value.startswith("![missing")
    assert "2025-03-12|MSFT" in meta["partitions_without_report"].value
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    features = read_features(engine, DEFAULT_SPEC.version, symbols=["NVDA"])
    engine.dispose()
    assert len(features) == 390
    assert list(features.columns[:12]) == list(DEFAULT_SPEC.names)


def test_a_partition_failing_a_blocking_check_gets_no_features(settings_for, tmp_path, db_url):
    bars = session_bars("NVDA", n=200, source=None)  # 200 of 390 minutes: a truncated session
    path = tmp_path / "truncated.csv"
    write_csv(path, bars)
    settings = settings_for(database_url=db_url, market_sources=("replay",), replay_path=path)
    defs = build_definitions(settings)
    key = str(partition_key("2025-01-03", "NVDA"))
    with dg.DagsterInstance.ephemeral() as instance:
        ingest = _materialize(defs, [BARS], key, instance, raise_on_error=False)
        assert not ingest.success  # a failed blocking check fails the step, data kept
        checks = {e.check_name: e for e in ingest.get_asset_check_evaluations()}
        assert not checks["no_missing_sessions"].passed
        assert checks["no_missing_sessions"].severity == dg.AssetCheckSeverity.ERROR
        result = _materialize(defs, [FEATURES], key, instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert "2025-01-03|NVDA" in message and "no_missing_sessions" in message
    store = BarStore.open(db_url)
    assert store.count("NVDA") == 200  # the bars are kept and visible; only gated downstream
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM features")).scalar() == 0
    store.close()


def test_blocking_check_stops_downstream_in_the_same_run(settings_for, tmp_path):
    path = tmp_path / "truncated.csv"
    write_csv(path, session_bars("NVDA", n=100, source=None))
    settings = settings_for(market_sources=("replay",), replay_path=path)
    defs = build_definitions(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        result = _materialize(defs, [BARS, FEATURES], str(partition_key("2025-01-03", "NVDA")),
                              instance, raise_on_error=False)
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {BARS}


def test_a_bad_tick_goes_to_quarantine_with_its_reason(settings_for, tmp_path):
    from intraday_jules.quality import read_quarantine

    bars = session_bars("NVDA", source=None)
    bars.loc[200, ["high", "close"]] = [121.0, 120.0]  # one-bar spike that reverts
    bars.loc[201, ["open", "high"]] = [120.0, 120.0]
    path = tmp_path / "spike.csv"
    write_csv(path, bars)
    settings = settings_for(market_sources=("replay",), replay_path=path)
    defs = build_definitions(settings)
    key = str(partition_key("2025-01-03", "NVDA"))
    with dg.DagsterInstance.ephemeral() as instance:
        result = _materialize(defs, [BARS, FEATURES], key, instance)
    meta = result.asset_materializations_for_node("market_data__bars")[0].metadata
    assert meta["rows_quarantined"].value >= 1
    store = BarStore.open(settings.database_url)
    quarantined = read_quarantine(store.engine, key)
    assert "no_price_jumps" in set(quarantined["check_name"])
    assert quarantined["reason"].str.contains("no_price_jumps").all()
    kept = store.read(["NVDA"])
    assert bars["ts"].iloc[200] not in set(kept["ts"])
    assert len(kept) == 390 - len(quarantined)
    store.close()
    assert FEATURES in {e.asset_key for e in result.get_asset_materialization_events()}
