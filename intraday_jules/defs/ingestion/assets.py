"""``market_data/bars``: one partition per (XNYS session, symbol), ingested through
``pipelines.ingest`` (fetch -> checks -> quarantine -> store) and upserted idempotently."""

from datetime import date

import dagster as dg

from intraday_jules.defs.common.keys import BARS_KEY
from intraday_jules.defs.common.partitions import (
    SESSION_DIMENSION,
    SYMBOL_DIMENSION,
    bars_partitions,
)
from intraday_jules.defs.common.resources import BarStoreResource, MarketDataResource
from intraday_jules.defs.ingestion.checks import bars_check_specs, check_result
from intraday_jules.domain.clock import system_clock
from intraday_jules.pipelines.ingest import (
    PartitionIngest,
    QualityGate,
    ingest_partition,
    push_ingest_metrics,
)
from intraday_jules.settings import Settings


def materialize_result(result: PartitionIngest) -> dg.MaterializeResult:
    """The ingest outcome as asset metadata (counts, provenance, attempts) plus its checks."""
    checks = [check_result(c) for c in result.report.checks] if result.report else []
    return dg.MaterializeResult(
        metadata={
            "rows": result.rows, "rows_written": result.written,
            "rows_inserted": result.inserted, "rows_updated": result.updated,
            "rows_unchanged": result.unchanged, "rows_quarantined": result.quarantined,
            "first_ts": result.first_ts.isoformat() if result.first_ts else None,
            "last_ts": result.last_ts.isoformat() if result.last_ts else None,
            "source": ",".join(result.sources), "backend": result.backend,
            "blocking_checks_failed": ",".join(result.blocking_failed) or "none",
            "rows_skipped": result.skipped_rows,
            "skipped": dg.MetadataValue.json(result.skipped or {"rows": 0}),
            "attempts": dg.MetadataValue.json([
                {"source": a.source, "rows_used": a.rows_used, "missing_after": a.missing_after,
                 "error": a.error} for a in result.attempts]),
        },
        check_results=checks)


def bars_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=BARS_KEY,
        partitions_def=bars_partitions(settings),
        group_name="market_data",
        kinds={"python", "sql"},
        check_specs=bars_check_specs(),
        description="1-minute OHLCV bars per (XNYS session, symbol), upserted idempotently into "
                    "market_data with per-row provenance (source), gated by the market_data "
                    "contract's checks.",
    )
    def bars(context: dg.AssetExecutionContext, market_data: MarketDataResource,
             bar_store: BarStoreResource) -> dg.MaterializeResult:
        keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
        session = date.fromisoformat(keys[SESSION_DIMENSION])
        symbol = keys[SYMBOL_DIMENSION]
        source, store = market_data.build(), bar_store.open()
        cross = market_data.build_cross_source()
        gate = QualityGate(clock=system_clock, cross_source=cross,
                           run_id=context.run.run_id, known_symbols=tuple(settings.symbols))
        try:
            result = ingest_partition(source, store, symbol, session,
                                      extended_hours=market_data.extended_hours, gate=gate)
        finally:
            source.close()
            store.close()
            if cross is not None:
                cross.close()
        # the dashboard's Pipeline row and alert DataQualityErrors (docker/prometheus/)
        push_ingest_metrics(settings.pushgateway_url, settings.deployment, [result])
        if result.skipped_rows:
            context.log.warning("partition %s: %d source row(s) not ingested: %s",
                                context.partition_key, result.skipped_rows,
                                result.skipped.get("symbols"))
        if result.blocking_failed:
            context.log.warning("partition %s failed blocking checks %s: downstream assets "
                                "will not run on it", context.partition_key,
                                result.blocking_failed)
        return materialize_result(result)

    return bars
