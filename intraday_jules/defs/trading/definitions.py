"""Trading in Dagster: one run per session (ARCHITECTURE.md, "Why one run per session").

- ``trade_session_job``: one op that loops on every completed minute of a session (replay at
  full speed, or live on the wall clock) through ``trading.run_session``, then records the
  ``trading/session_report`` materialization for that session.
- ``trading_session_sensor``: launches it once per session (run_key = session date) when a
  promoted model exists and the session is open or about to open, and again if that run
  failed while the session is still open. Stopped by default: live trading is opt-in.
- ``trading/session_report`` (partitioned by session) rebuilt from the ledger, with its
  ``end_of_session_report_schedule``; ``preopen_ingest_schedule`` (the previous session's
  partitions) and ``preopen_reconcile_schedule`` (broker vs ledger, before the open).
"""

import base64
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from intraday_jules.defs.common.keys import INGEST_JOB_NAME, PROMOTED_KEY
from intraday_jules.defs.common.partitions import partition_key, session_partitions, tick_session
from intraday_jules.defs.common.resources import (
    BarStoreResource,
    MarketDataResource,
    ModelStoreResource,
)
from intraday_jules.domain.calendar import (
    is_session,
    previous_session,
    session_date_of,
    session_window,
)
from intraday_jules.settings import Settings

REPORT_KEY = dg.AssetKey(["trading", "session_report"])
TRADE_JOB_NAME = "trade_session_job"
REPORT_JOB_NAME = "report_session_job"
RECONCILE_JOB_NAME = "reconcile_broker_job"
SESSION_TAG = "intraday_jules/session"
OPEN_LEAD = timedelta(minutes=10)


class TradeSessionConfig(dg.Config):
    """session: YYYY-MM-DD; feed: replay (the configured source at full speed) | live (wall
    clock: the simulated market locally, IB's stream with the ibkr broker); policy: promoted
    | random | always-buy | always-sell."""

    session: str
    feed: str = "live"
    policy: str = "promoted"


def _report_metadata(report, result_json: dict | None = None) -> dict:  # type: ignore[no-untyped-def]
    png = base64.b64encode(report.png).decode("ascii")
    meta = {"report": dg.MetadataValue.md(report.markdown),
            "equity_png": dg.MetadataValue.md(f"![equity](data:image/png;base64,{png})"),
            "summary": dg.MetadataValue.json(report.summary)}
    if result_json is not None:
        meta["result"] = dg.MetadataValue.json(result_json)
    return meta


def _trade_op(settings: Settings) -> dg.OpDefinition:
    @dg.op(name="trade_session", tags={"intraday_jules/pool": "broker"})
    def trade_session(context: dg.OpExecutionContext, config: TradeSessionConfig,
                      market_data: MarketDataResource, model_store: ModelStoreResource):  # type: ignore[no-untyped-def]
        from intraday_jules.pipelines.trading import run_configured_session

        day = date.fromisoformat(config.session)
        result = run_configured_session(settings, day, feed_kind=config.feed,
                                        policy=config.policy, source=market_data.build(),
                                        log=context.log)
        payload = result.to_json()
        context.log.info("session %s: %s", day, result.summary_line())
        if result.report is not None:
            yield dg.AssetMaterialization(asset_key=REPORT_KEY, partition=day.isoformat(),
                                          metadata=_report_metadata(result.report, payload))
        yield dg.Output(payload)

    return trade_session


def _session_report_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(key=REPORT_KEY, partitions_def=session_partitions(settings), group_name="trading",
              deps=[PROMOTED_KEY], kinds={"python"},
              description="P&L, trades, fills vs modelled prices, risk events and the equity "
                          "curve of one session, rebuilt from the ledger.")
    def session_report(context: dg.AssetExecutionContext,
                       bar_store: BarStoreResource) -> dg.MaterializeResult:
        from intraday_jules.pipelines.trading import session_report_from_ledger

        report = session_report_from_ledger(bar_store.database_url,
                                            date.fromisoformat(context.partition_key),
                                            settings.symbols, {"source": "ledger"})
        return dg.MaterializeResult(metadata=_report_metadata(report))

    return session_report


def _reconcile_op(settings: Settings) -> dg.OpDefinition:
    @dg.op(name="reconcile_broker", tags={"intraday_jules/pool": "broker"})
    def reconcile_broker(context: dg.OpExecutionContext) -> dict:
        from intraday_jules.pipelines.trading import reconcile_configured_broker

        outcome = reconcile_configured_broker(settings)
        context.log.info("reconciliation: %s", outcome)
        return outcome

    return reconcile_broker


def _sensor(settings: Settings, job: dg.JobDefinition) -> dg.SensorDefinition:
    @dg.sensor(job=job, name="trading_session_sensor", minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.STOPPED,
               description="Launches trade_session_job once per XNYS session (run_key = "
                           "session date) when a promoted model exists; relaunches a failed "
                           "run while the session is open. Turn on to trade (opt-in).")
    def trading_session_sensor(context: dg.SensorEvaluationContext,
                               model_store: ModelStoreResource):  # type: ignore[no-untyped-def]
        return evaluate_trading_sensor(context, model_store, datetime.now(UTC))

    return trading_session_sensor


def evaluate_trading_sensor(context, model_store, now: datetime):  # type: ignore[no-untyped-def]
    """The sensor's decision, separate so tests can pass their own clock."""
    day = session_date_of(now)
    if not is_session(day):
        return dg.SkipReason(f"{day} is not an XNYS session")
    window = session_window(day)
    if not (window.open - OPEN_LEAD <= now < window.close):
        return dg.SkipReason(f"session {day} is not open or about to open")
    if model_store.open().champion_id() is None:
        return dg.SkipReason("no promoted model: run the training job (models/promoted_model)")
    runs = context.instance.get_runs(filters=dg.RunsFilter(job_name=TRADE_JOB_NAME,
                                                           tags={SESSION_TAG: day.isoformat()}))
    if runs and runs[0].status != dg.DagsterRunStatus.FAILURE:
        return dg.SkipReason(f"session {day} already has run {runs[0].run_id}")
    attempt = len(runs)
    run_key = day.isoformat() if attempt == 0 else f"{day.isoformat()}-restart-{attempt}"
    return dg.RunRequest(run_key=run_key, tags={SESSION_TAG: day.isoformat()},
                         run_config={"ops": {"trade_session": {"config": {
                             "session": day.isoformat(), "feed": "live",
                             "policy": "promoted"}}}})


def _schedules(settings: Settings, report_job, reconcile_job) -> list:  # type: ignore[no-untyped-def]
    @dg.schedule(job_name=INGEST_JOB_NAME, cron_schedule="30 8 * * 1-5",
                 execution_timezone="America/New_York", name="preopen_ingest_schedule",
                 description="Before the open: (re)ingest the previous session's partitions "
                             "(idempotent), so features and warm-up data are complete.")
    def preopen_ingest_schedule(context: dg.ScheduleEvaluationContext):  # type: ignore[no-untyped-def]
        day = tick_session(context)
        if isinstance(day, dg.SkipReason):
            return day
        prev = previous_session(day).isoformat()
        return [dg.RunRequest(run_key=f"preopen-{prev}-{s}", partition_key=partition_key(prev, s))
                for s in settings.symbols]

    @dg.schedule(job=reconcile_job, cron_schedule="20 9 * * 1-5",
                 execution_timezone="America/New_York", name="preopen_reconcile_schedule",
                 description="09:20 ET: reconcile broker positions with the ledger (a "
                             "mismatch latches HALTED with the difference recorded).")
    def preopen_reconcile_schedule(context: dg.ScheduleEvaluationContext):  # type: ignore[no-untyped-def]
        day = tick_session(context)
        if isinstance(day, dg.SkipReason):
            return day
        return dg.RunRequest(run_key=f"reconcile-{day}")

    @dg.schedule(job=report_job, cron_schedule="15 16 * * 1-5",
                 execution_timezone="America/New_York", name="end_of_session_report_schedule",
                 description="16:15 ET: the session's report from the ledger.")
    def end_of_session_report_schedule(context: dg.ScheduleEvaluationContext):  # type: ignore[no-untyped-def]
        day = tick_session(context)
        if isinstance(day, dg.SkipReason):
            return day
        return dg.RunRequest(run_key=f"report-{day}", partition_key=day.isoformat())

    return [preopen_ingest_schedule, preopen_reconcile_schedule, end_of_session_report_schedule]


def build_trading_defs(settings: Settings) -> dg.Definitions:
    trade_job = dg.JobDefinition(
        graph_def=dg.GraphDefinition(name=TRADE_JOB_NAME, node_defs=[_trade_op(settings)]),
        name=TRADE_JOB_NAME, tags={"intraday_jules/pool": "broker"},
        description="One trading session, looping in-process on every completed minute.")
    reconcile_job = dg.JobDefinition(
        graph_def=dg.GraphDefinition(name=RECONCILE_JOB_NAME,
                                     node_defs=[_reconcile_op(settings)]),
        name=RECONCILE_JOB_NAME, tags={"intraday_jules/pool": "broker"},
        description="Reconcile the broker's positions with the ledger.")
    report = _session_report_asset(settings)
    report_job = dg.define_asset_job(REPORT_JOB_NAME, selection=[REPORT_KEY],
                                     description="Rebuild a session's report from the ledger.")
    return dg.Definitions(assets=[report], jobs=[trade_job, reconcile_job, report_job],
                          sensors=[_sensor(settings, trade_job)],
                          schedules=_schedules(settings, report_job, reconcile_job))
