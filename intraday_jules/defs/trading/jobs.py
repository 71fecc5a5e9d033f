"""Trading's jobs: one session in one run (``trade_session_job``), broker reconciliation, and
the session report's asset job.

The ops only wire: the ledger, the risk engine and the broker come in as resources, and
``pipelines`` runs the session with what they build.
"""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from intraday_jules.defs.common.resources import (
    BarStoreResource,
    BrokerResource,
    LedgerResource,
    MarketDataResource,
    ModelStoreResource,
    RiskEngineResource,
)
from intraday_jules.defs.trading.assets import (
    PERFORMANCE_KEY,
    REPORT_KEY,
    rebuild_performance,
    report_metadata,
)
from intraday_jules.defs.trading.reconciliation import (
    RECONCILIATION_KEY,
    reconcile,
    reconciliation_check_evaluation,
    reconciliation_metadata,
)
from intraday_jules.pipelines.trading_parts import PushTarget
from intraday_jules.settings import Settings
from intraday_jules.trading.config import SessionConfig

TRADE_JOB_NAME = "trade_session_job"
REPORT_JOB_NAME = "report_session_job"
RECONCILE_JOB_NAME = "reconcile_broker_job"
SESSION_TAG = "intraday_jules/session"
POOL_TAG = {"intraday_jules/pool": "broker"}


class TradeSessionConfig(dg.Config):
    """session: YYYY-MM-DD; feed: replay (the configured source at full speed) | live (wall
    clock: the simulated market locally, IB's stream with the ibkr broker); policy: promoted
    | model:ID (simulated broker only) | random | always-buy | always-sell."""

    session: str
    feed: str = "live"
    policy: str = "promoted"


def _trade_op(settings: Settings) -> dg.OpDefinition:
    @dg.op(name="trade_session", tags=POOL_TAG)
    def trade_session(context: dg.OpExecutionContext, config: TradeSessionConfig,  # type: ignore[no-untyped-def]
                      market_data: MarketDataResource, model_store: ModelStoreResource,
                      ledger: LedgerResource, risk_engine: RiskEngineResource,
                      broker: BrokerResource, bar_store: BarStoreResource):
        from intraday_jules.pipelines.trading import run_configured_session

        day = date.fromisoformat(config.session)
        result = run_configured_session(
            SessionConfig(day, symbols=settings.symbols), feed_kind=config.feed,
            policy=config.policy, source=market_data.build(), ledger=ledger, risk=risk_engine,
            broker=broker, models_dir=Path(model_store.models_dir),
            push=PushTarget.from_settings(settings), log=context.log)
        payload = result.to_json()
        context.log.info("session %s: %s", day, result.summary_line())
        if result.report is not None:
            yield dg.AssetMaterialization(asset_key=REPORT_KEY, partition=day.isoformat(),
                                          metadata=report_metadata(result.report, payload))
        if config.policy == "promoted" or config.policy.startswith("model:"):
            yield from _reconciliation(context, day, ledger, bar_store, model_store)
        try:
            performance = rebuild_performance(settings, ledger)
        except Exception as exc:  # derived from the ledger: rebuild it later, never fail the run
            context.log.error("performance report not rebuilt after session %s: %s: %s", day,
                              type(exc).__name__, exc)
        else:
            yield dg.AssetMaterialization(asset_key=PERFORMANCE_KEY, metadata=performance)
        yield dg.Output(payload)

    return trade_session


def _reconciliation(context: dg.OpExecutionContext, day: date, ledger: LedgerResource,
                    bar_store: BarStoreResource,
                    model_store: ModelStoreResource) -> Iterator[dg.AssetMaterialization]:
    """The session's shadow replay and its blocking check, recorded after the session; a
    session that cannot be replayed (its model failed to load) is logged, never a failure."""
    try:
        result = reconcile(day, ledger, bar_store, Path(model_store.models_dir))
    except Exception as exc:  # derived from the ledger: rebuild it later, never fail the run
        context.log.error("session %s not reconciled: %s: %s", day, type(exc).__name__, exc)
        return
    context.log.info("session %s reconciliation: %s", day, result.verdict)
    yield dg.AssetMaterialization(asset_key=RECONCILIATION_KEY, partition=day.isoformat(),
                                  metadata=reconciliation_metadata(result))
    # log_event takes check evaluations at run time; its annotation lags (dagster 1.13)
    context.log_event(reconciliation_check_evaluation(result))  # type: ignore[arg-type]


@dg.op(name="reconcile_broker", tags=POOL_TAG)
def reconcile_broker(context: dg.OpExecutionContext, ledger: LedgerResource,
                     risk_engine: RiskEngineResource, broker: BrokerResource) -> dict:  # type: ignore[type-arg]
    from intraday_jules.pipelines.reconciliation import reconcile_configured_broker

    outcome = reconcile_configured_broker(ledger, risk_engine, broker)
    context.log.info("reconciliation: %s", outcome)
    return outcome


def trade_job(settings: Settings) -> dg.JobDefinition:
    return dg.JobDefinition(
        graph_def=dg.GraphDefinition(name=TRADE_JOB_NAME, node_defs=[_trade_op(settings)]),
        name=TRADE_JOB_NAME, tags=POOL_TAG,
        description="One trading session, looping in-process on every completed minute.")


def reconcile_job() -> dg.JobDefinition:
    return dg.JobDefinition(
        graph_def=dg.GraphDefinition(name=RECONCILE_JOB_NAME, node_defs=[reconcile_broker]),
        name=RECONCILE_JOB_NAME, tags=POOL_TAG,
        description="Reconcile the broker's positions with the ledger.")


def report_job() -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(REPORT_JOB_NAME, selection=[REPORT_KEY],
                               description="Rebuild a session's report from the ledger.")
