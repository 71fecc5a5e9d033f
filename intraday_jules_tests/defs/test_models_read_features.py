"""The model assets train on the rows features/feature_table stored, not on features rebuilt
from bars: with the rows there the foundation trains; with one train partition's rows gone it
refuses, naming the partition to materialise."""

import dagster as dg
import sqlalchemy as sa

from intraday_jules.definitions import build_definitions
from intraday_jules.defs.common.partitions import partition_key
from intraday_jules.defs.models.assets import FOUNDATION_KEY
from intraday_jules.market_data.store import BarStore

#: 5 sessions (each ingested through the real quality checks: ~5 s a partition): train
#: 03-10, embargo, validation 03-12, embargo, test 03-14.
SESSIONS = ("2025-03-10", "2025-03-11", "2025-03-12", "2025-03-13", "2025-03-14")
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _foundation(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={FOUNDATION_KEY})
    return job.execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET)


def test_the_foundation_asset_reads_the_stored_feature_rows(settings_for):
    settings = settings_for(foundation_steps=1)
    defs = build_definitions(settings)
    ingest = defs.resolve_job_def("ingest_bars_job")  # bars, their checks, then features
    with dg.DagsterInstance.ephemeral() as instance:
        for day in SESSIONS:
            for symbol in ("NVDA", "MSFT"):
                result = ingest.execute_in_process(
                    instance=instance, partition_key=str(partition_key(day, symbol)),
                    run_config=QUIET)
                assert result.success
        trained = _foundation(defs, instance)
        assert trained.success
        meta = trained.asset_materializations_for_node("models__nvda_foundation_model")[0]
        assert meta.metadata["train_window"].value == "2025-03-10..2025-03-10"
        store = BarStore.open(settings.database_url)
        with store.engine.begin() as conn:  # the bars stay; one train partition's rows go
            conn.execute(sa.text("DELETE FROM features WHERE symbol = 'MSFT' AND ts >= "
                                 "'2025-03-10' AND ts < '2025-03-11'"))
        assert store.count("MSFT") == 390 * len(SESSIONS)
        store.close()
        refused = _foundation(defs, instance)
    assert not refused.success
    failure = next(e for e in refused.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert "the features table does not cover the bars" in message
    assert "materialise features/feature_table for partitions 2025-03-10|MSFT first" in message
