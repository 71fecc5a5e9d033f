"""``market_data/bars``: one partition per (XNYS session, symbol), its data-quality checks
(from ``data_contracts/market_data.yaml``; ERROR checks are blocking) and the daily schedule."""

from datetime import UTC, date, datetime

import dagster as dg

from intraday_jules.defs.partitions import (
    SESSION_DIMENSION,
    SYMBOL_DIMENSION,
    bars_partitions,
    partition_key,
    tick_session,
)
from intraday_jules.defs.resources import (
    BarStoreResource,
    MarketDataResource,
    bar_store_resource,
    market_data_resource,
)
from intraday_jules.domain.calendar import session_window
from intraday_jules.market_data.ingest import PartitionIngest, QualityGate, ingest_partition
from intraday_jules.observability.pipeline_push import push_partition_quality
from intraday_jules.quality import CheckResult, Severity, load_contract
from intraday_jules.settings import Settings

BARS_KEY = dg.AssetKey(["market_data", "bars"])
FEATURES_KEY = dg.AssetKey(["features", "feature_table"])
INGEST_JOB_NAME = "ingest_bars_job"
MAX_FAILURES_IN_METADATA = 20


def bars_check_specs() -> list[dg.AssetCheckSpec]:
    """One check per contract check; ERROR checks block downstream assets in the run."""
    contract = load_contract("market_data")
    return [dg.AssetCheckSpec(name, asset=BARS_KEY, blocking=spec.severity == Severity.ERROR,
                              description=f"{spec.severity}: {name} (data_contracts/"
                                          "market_data.yaml)")
            for name, spec in contract.checks.items()]


def check_result(result: CheckResult) -> dg.AssetCheckResult:
    """A quality CheckResult as a Dagster check result, offending rows in its metadata.

    Dagster has no "skipped" outcome for a check that ran: a check that could not judge
    reports ``passed=True`` with ``status: skipped`` and ``skipped_reason`` in its metadata
    (and the reason as its description)."""
    failures = [f.to_dict() for f in result.failures[:MAX_FAILURES_IN_METADATA]]
    return dg.AssetCheckResult(
        check_name=result.name, asset_key=BARS_KEY, passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR if result.severity == Severity.ERROR
        else dg.AssetCheckSeverity.WARN,
        description=f"SKIPPED: {result.skipped_reason}" if result.skipped else None,
        metadata={"failures": result.failure_count, "rows_checked": result.rows_checked,
                  "note": result.note or "", "offending": dg.MetadataValue.json(failures),
                  "status": str(result.status), "skipped_reason": result.skipped_reason or ""})


def materialize_result(result: PartitionIngest) -> dg.MaterializeResult:
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


def _bars_asset(settings: Settings) -> dg.AssetsDefinition:
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
        gate = QualityGate(clock=lambda: datetime.now(UTC), cross_source=cross,
                           run_id=context.run.run_id, known_symbols=tuple(settings.symbols))
        try:
            result = ingest_partition(source, store, symbol, session,
                                      extended_hours=market_data.extended_hours, gate=gate)
        finally:
            source.close()
            store.close()
            if cross is not None:
                cross.close()
        push_partition_quality(  # alert DataQualityErrors (docker/prometheus/alerts.yml)
            settings.pushgateway_url, deployment=settings.deployment, symbol=symbol,
            outcomes=[(c.name, c.severity, c.passed) for c in
                      (result.report.checks if result.report else [])])
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


def _daily_schedule(settings: Settings, job: object) -> dg.ScheduleDefinition:
    @dg.schedule(job=job, cron_schedule="30 16 * * 1-5",  # type: ignore[arg-type]
                 execution_timezone="America/New_York", name="daily_bars_schedule",
                 description="After the close (16:30 ET), ingest today's session for every "
                             "symbol; skips exchange holidays.")
    def daily_bars_schedule(context: dg.ScheduleEvaluationContext):  # type: ignore[no-untyped-def]
        day = tick_session(context)
        if isinstance(day, dg.SkipReason):
            return day
        if context.scheduled_execution_time < session_window(day).close:
            return dg.SkipReason(f"session {day.isoformat()} has not closed yet")
        return [dg.RunRequest(run_key=f"bars-{day.isoformat()}-{symbol}",
                              partition_key=partition_key(day.isoformat(), symbol))
                for symbol in settings.symbols]

    return daily_bars_schedule


def build_ingestion_defs(settings: Settings) -> dg.Definitions:
    bars = _bars_asset(settings)
    job = dg.define_asset_job(
        INGEST_JOB_NAME, selection=[BARS_KEY, FEATURES_KEY],
        description="Ingest and check bars for one (session, symbol), then build its features "
                    "(skipped when a blocking check fails).")
    return dg.Definitions(
        assets=[bars],
        jobs=[job],
        schedules=[_daily_schedule(settings, job)],
        resources={"market_data": market_data_resource(settings),
                   "bar_store": bar_store_resource(settings)},
    )
