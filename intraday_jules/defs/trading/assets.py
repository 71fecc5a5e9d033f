"""``trading/session_report``: one session's report rebuilt from the ledger and stored bars."""

import base64
from datetime import date
from typing import Any

import dagster as dg

from intraday_jules.defs.common.keys import PROMOTED_KEY
from intraday_jules.defs.common.partitions import session_partitions
from intraday_jules.defs.common.resources import BarStoreResource, LedgerResource
from intraday_jules.domain.calendar import session_window
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.settings import Settings
from intraday_jules.trading.report import SessionReport, build_session_report

REPORT_KEY = dg.AssetKey(["trading", "session_report"])


def report_metadata(report: SessionReport,
                    result_json: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report as materialization metadata (markdown, equity PNG, summary, result)."""
    png = base64.b64encode(report.png).decode("ascii")
    meta = {"report": dg.MetadataValue.md(report.markdown),
            "equity_png": dg.MetadataValue.md(f"![equity](data:image/png;base64,{png})"),
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
