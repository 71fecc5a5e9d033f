"""``trading/session_report``: one session's report rebuilt from the ledger and stored bars;
``trading/performance_report``: the seed's targets over every session since the targets' start
(materialized by the trade job after each session, and on demand)."""

import base64
from datetime import date
from typing import Any

import dagster as dg

from intraday_jules.defs.common.keys import PROMOTED_KEY
from intraday_jules.defs.common.partitions import session_partitions
from intraday_jules.defs.common.resources import BarStoreResource, LedgerResource
from intraday_jules.domain.calendar import session_window
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.pipelines.performance import push_targets, track_targets
from intraday_jules.settings import Settings
from intraday_jules.trading.performance_report import PerformanceReport
from intraday_jules.trading.report import SessionReport, build_session_report

REPORT_KEY = dg.AssetKey(["trading", "session_report"])
PERFORMANCE_KEY = dg.AssetKey(["trading", "performance_report"])


def _png_markdown(label: str, png: bytes) -> dg.MetadataValue:
    """A PNG inline in Markdown metadata (a data URI), so the UI shows it without files."""
    data = base64.b64encode(png).decode("ascii")
    return dg.MetadataValue.md(f"![{label}](data:image/png;base64,{data})")


def report_metadata(report: SessionReport,
                    result_json: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report as materialization metadata (markdown, equity PNG, summary, result)."""
    meta = {"report": dg.MetadataValue.md(report.markdown),
            "equity_png": _png_markdown("equity", report.png),
            "summary": dg.MetadataValue.json(report.summary)}
    if result_json is not None:
        meta["result"] = dg.MetadataValue.json(result_json)
    return meta


def session_report_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(key=REPORT_KEY, partitions_def=session_partitions(settings), group_name="trading",
              deps=[PROMOTED_KEY], kinds={"python"},
              description="P&L, trades, fills vs modelled prices, risk events and the equity "
                          "curve of one session, rebuilt from the ledger.")
    def session_report(context: dg.AssetExecutionContext, ledger: LedgerResource,
                       bar_store: BarStoreResource) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        window = session_window(day)
        opened, store = ledger.open(), bar_store.open()
        try:
            bars = store.read(list(settings.symbols), window.open, window.close)
            report = build_session_report(opened.session_ledger(day), bars, ExecutionModel(),
                                          {"session": day.isoformat(), "source": "ledger"})
        finally:
            store.close()
            opened.engine.dispose()
        return dg.MaterializeResult(metadata=report_metadata(report))

    return session_report


def performance_metadata(report: PerformanceReport) -> dict[str, Any]:
    """Targets met or not, the daily P&L table (in ``report``) and the equity/drawdown PNG."""
    summary = report.summary
    return {"report": dg.MetadataValue.md(report.markdown),
            "equity_png": _png_markdown("equity and drawdown", report.png),
            "targets": dg.MetadataValue.json(summary["targets"]),
            "targets_met": dg.MetadataValue.json(summary["targets_met"]),
            "sessions": dg.MetadataValue.int(summary["sessions"]),
            "daily": dg.MetadataValue.json({"sessions": list(report.daily)})}


def rebuild_performance(settings: Settings, ledger: LedgerResource) -> dict[str, Any]:
    """The performance report from the ledger as metadata; its targets pushed to Grafana."""
    opened = ledger.open()
    try:
        tracked = track_targets(opened, settings)
    finally:
        opened.engine.dispose()
    push_targets(tracked, settings)
    return performance_metadata(tracked.report())


def performance_report_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(key=PERFORMANCE_KEY, group_name="trading", deps=[REPORT_KEY], kinds={"python"},
              description="The seed's targets since INTRADAY_JULES_TARGETS_START: cumulative "
                          "paper P&L vs $1,000, max drawdown vs 2%, uptime vs 99% (met or "
                          "not), the daily P&L table and the equity/drawdown chart.")
    def performance_report(ledger: LedgerResource) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=rebuild_performance(settings, ledger))

    return performance_report
