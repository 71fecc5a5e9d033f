"""``market_data/bars``: one partition per (XNYS session, symbol), plus its daily schedule."""

from datetime import date

import dagster as dg

from intraday_jules.defs.partitions import (
    SESSION_DIMENSION,
    SYMBOL_DIMENSION,
    bars_partitions,
    partition_key,
)
from intraday_jules.defs.resources import (
    BarStoreResource,
    MarketDataResource,
    bar_store_resource,
    market_data_resource,
)
from intraday_jules.domain.calendar import is_session, session_window
from intraday_jules.market_data.ingest import ingest_partition
from intraday_jules.settings import Settings

BARS_KEY = dg.AssetKey(["market_data", "bars"])
INGEST_JOB_NAME = "ingest_bars_job"


def _bars_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=BARS_KEY,
        partitions_def=bars_partitions(settings),
        group_name="market_data",
        kinds={"python", "sql"},
        description="1-minute OHLCV bars per (XNYS session, symbol), upserted idempotently into "
                    "market_data with per-row provenance (source).",
    )
    def bars(context: dg.AssetExecutionContext, market_data: MarketDataResource,
             bar_store: BarStoreResource) -> dg.MaterializeResult:
        keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
        session = date.fromisoformat(keys[SESSION_DIMENSION])
        symbol = keys[SYMBOL_DIMENSION]
        source, store = market_data.build(), bar_store.open()
        try:
            result = ingest_partition(source, store, symbol, session,
                                      extended_hours=market_data.extended_hours)
        finally:
            source.close()
            store.close()
        return dg.MaterializeResult(metadata={
            "rows": result.rows,
            "rows_written": result.written,
            "rows_inserted": result.inserted,
            "rows_updated": result.updated,
            "rows_unchanged": result.unchanged,
            "first_ts": result.first_ts.isoformat() if result.first_ts else None,
            "last_ts": result.last_ts.isoformat() if result.last_ts else None,
            "source": ",".join(result.sources),
            "backend": result.backend,
            "attempts": dg.MetadataValue.json([
                {"source": a.source, "rows_used": a.rows_used, "missing_after": a.missing_after,
                 "error": a.error} for a in result.attempts]),
        })

    return bars


def _daily_schedule(settings: Settings, job: object) -> dg.ScheduleDefinition:
    @dg.schedule(job=job, cron_schedule="30 16 * * 1-5",  # type: ignore[arg-type]
                 execution_timezone="America/New_York", name="daily_bars_schedule",
                 description="After the close (16:30 ET), ingest today's session for every "
                             "symbol; skips exchange holidays.")
    def daily_bars_schedule(context: dg.ScheduleEvaluationContext):  # type: ignore[no-untyped-def]
        now = context.scheduled_execution_time
        day = now.date()
        if not is_session(day):
            return dg.SkipReason(f"{day.isoformat()} is not an XNYS session")
        if now < session_window(day).close:
            return dg.SkipReason(f"session {day.isoformat()} has not closed yet")
        return [dg.RunRequest(run_key=f"bars-{day.isoformat()}-{symbol}",
                              partition_key=partition_key(day.isoformat(), symbol))
                for symbol in settings.symbols]

    return daily_bars_schedule


def build_ingestion_defs(settings: Settings) -> dg.Definitions:
    bars = _bars_asset(settings)
    job = dg.define_asset_job(INGEST_JOB_NAME, selection=[BARS_KEY],
                              description="Ingest bars for one (session, symbol) partition.")
    return dg.Definitions(
        assets=[bars],
        jobs=[job],
        schedules=[_daily_schedule(settings, job)],
        resources={"market_data": market_data_resource(settings),
                   "bar_store": bar_store_resource(settings)},
    )
