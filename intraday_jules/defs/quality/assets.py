"""``quality/bar_quality_report``: the latest checks of every symbol of a session, as a Markdown
table and a PNG of missing / zero-volume minutes, readable in the Dagster UI without SQL."""

import base64
from datetime import date

import dagster as dg

from intraday_jules.defs.common.keys import BARS_KEY
from intraday_jules.defs.common.partitions import SESSION_DIMENSION, session_partitions
from intraday_jules.defs.common.resources import BarStoreResource
from intraday_jules.domain.calendar import partition_key_for
from intraday_jules.quality import (
    combine_reports,
    load_latest_reports,
    report_markdown,
    report_png,
)
from intraday_jules.settings import Settings

REPORT_KEY = dg.AssetKey(["quality", "bar_quality_report"])


def bar_quality_report_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=REPORT_KEY, partitions_def=session_partitions(settings),
        deps=[dg.AssetDep(BARS_KEY, partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
            partition_dimension_name=SESSION_DIMENSION))],
        group_name="quality", kinds={"python"},
        description="Latest data-quality report of a session (every symbol): check table, "
                    "worst examples, PNG of missing and zero-volume minutes.")
    def bar_quality_report(context: dg.AssetExecutionContext,
                           bar_store: BarStoreResource) -> dg.MaterializeResult:
        session = date.fromisoformat(context.partition_key)
        keys = [partition_key_for(session, symbol) for symbol in settings.symbols]
        store = bar_store.open()
        try:
            found = load_latest_reports(store.engine, keys)
        finally:
            store.close()
        missing = [k for k in keys if k not in found]
        if not found:
            raise dg.Failure(f"session {session}: no quality report for {', '.join(keys)}; "
                             "materialize market_data/bars for it first")
        report = combine_reports(found[k] for k in keys if k in found)
        png = base64.b64encode(report_png(report)).decode("ascii")
        blocking = [c.name for c in report.checks if c.blocking]
        return dg.MaterializeResult(metadata={
            "report": dg.MetadataValue.md(report_markdown(report)),
            "minutes_png": dg.MetadataValue.md(f"![missing and zero-volume minutes]"
                                               f"(data:image/png;base64,{png})"),
            "checks": len(report.checks),
            "failed_checks": ", ".join(c.name for c in report.failed) or "none",
            "blocking_failed": ", ".join(blocking) or "none",
            "partitions_without_report": ", ".join(missing) or "none",
        })

    return bar_quality_report
