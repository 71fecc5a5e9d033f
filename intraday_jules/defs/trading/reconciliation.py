"""``trading/session_reconciliation`` [session]: the shadow replay of a traded session against
the ledger (``pipelines.session_reconciliation``), with the BLOCKING check
``replay_matches_ledger`` that fails on any decision or order mismatch (mismatches in its
metadata). The trade job records both after every session traded by a model; the asset job
``session_reconciliation_job`` rebuilds them on demand."""

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from intraday_jules.defs.common.partitions import session_partitions
from intraday_jules.defs.common.resources import (
    BarStoreResource,
    LedgerResource,
    ModelStoreResource,
)
from intraday_jules.defs.trading.assets import REPORT_KEY
from intraday_jules.settings import Settings

if TYPE_CHECKING:
    from intraday_jules.pipelines.session_reconciliation import SessionReconciliation

RECONCILIATION_KEY = dg.AssetKey(["trading", "session_reconciliation"])
RECONCILIATION_CHECK = "replay_matches_ledger"
RECONCILIATION_JOB_NAME = "session_reconciliation_job"

reconciliation_check_spec = dg.AssetCheckSpec(
    RECONCILIATION_CHECK, asset=RECONCILIATION_KEY, blocking=True,
    description="The shadow replay takes the same action on every decision bar and sends the "
                "same policy orders as the ledger records.")


def reconcile(session: date, ledger: LedgerResource, bar_store: BarStoreResource,
              models_dir: Path) -> "SessionReconciliation":
    """The session's reconciliation from the configured ledger, bars and models."""
    from intraday_jules.pipelines.session_reconciliation import reconcile_session

    opened, store = ledger.open(), bar_store.open()
    try:
        return reconcile_session(session, ledger=opened, store=store, models_dir=models_dir)
    finally:
        store.close()
        opened.engine.dispose()


def reconciliation_metadata(result: "SessionReconciliation") -> dict[str, Any]:
    payload = result.to_json()
    return {"verdict": payload["verdict"], "model_id": payload["model_id"],
            "decisions": payload["decisions"],
            "decision_mismatches": payload["decision_mismatches"],
            "orders": payload["orders"], "order_mismatches": payload["order_mismatches"],
            "fills": payload["fills"], "shortfall_usd": payload["shortfall_usd"],
            "shortfall_bps": payload["shortfall_bps"],
            "reconciliation": dg.MetadataValue.json(payload)}


def reconciliation_check_result(result: "SessionReconciliation") -> dg.AssetCheckResult:
    payload = result.to_json()
    return dg.AssetCheckResult(
        check_name=RECONCILIATION_CHECK, asset_key=RECONCILIATION_KEY,
        passed=result.verdict == "match",
        metadata={"decision_mismatches": payload["decision_mismatches"],
                  "order_mismatches": payload["order_mismatches"],
                  "mismatches": dg.MetadataValue.json(payload["mismatches"])})


def reconciliation_check_evaluation(result: "SessionReconciliation") -> dg.AssetCheckEvaluation:
    """The check's result as an event the trade job's op logs (it is not an asset step)."""
    checked = reconciliation_check_result(result)
    return dg.AssetCheckEvaluation(
        asset_key=RECONCILIATION_KEY, check_name=RECONCILIATION_CHECK, passed=checked.passed,
        metadata=checked.metadata, blocking=True, partition=result.session.isoformat())


def session_reconciliation_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(key=RECONCILIATION_KEY, partitions_def=session_partitions(settings),
              group_name="trading", deps=[REPORT_KEY], kinds={"python"},
              check_specs=[reconciliation_check_spec],
              description="Shadow replay of the session through the evaluation path with its "
                          "model, compared with the ledger: decisions, orders, fills "
                          "(implementation shortfall in $ and bps).")
    def session_reconciliation(context: dg.AssetExecutionContext, ledger: LedgerResource,
                               bar_store: BarStoreResource,
                               model_store: ModelStoreResource) -> dg.MaterializeResult:
        from intraday_jules.pipelines.session_reconciliation import ReconciliationError

        day = date.fromisoformat(context.partition_key)
        try:
            result = reconcile(day, ledger, bar_store, Path(model_store.models_dir))
        except ReconciliationError as exc:
            raise dg.Failure(description=str(exc)) from None
        return dg.MaterializeResult(metadata=reconciliation_metadata(result),
                                    check_results=[reconciliation_check_result(result)])

    return session_reconciliation


def reconciliation_job() -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(RECONCILIATION_JOB_NAME, selection=[RECONCILIATION_KEY],
                               description="Shadow-replay a session and compare with the "
                                           "ledger (the blocking check fails on a mismatch).")
