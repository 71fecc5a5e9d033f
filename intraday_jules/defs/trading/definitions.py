"""Trading in Dagster: one run per session (the sensor relaunches it if it fails while open).

- ``trade_session_job`` (``jobs.py``): one op that loops on every completed minute of a
  session (replay at full speed, or live on the wall clock) through ``trading.run_session``,
  then records the ``trading/session_report`` materialization for that session and the
  ``trading/performance_report`` one (the seed's targets, pushed to Grafana too).
- ``trading_session_sensor`` (``sensors.py``): launches it once per session when a promoted
  model exists. Stopped by default: live trading is opt-in.
- ``trading/session_reconciliation`` (``reconciliation.py``, partitioned by session): the
  shadow replay of a session traded by a model against the ledger, with the blocking check
  ``replay_matches_ledger``; the trade job records it after the session, and
  ``session_reconciliation_job`` rebuilds it.
- ``trading/session_report`` (``assets.py``, partitioned by session) rebuilt from the ledger,
  with its ``end_of_session_report_schedule``; ``preopen_ingest_schedule`` and
  ``preopen_reconcile_schedule`` (``schedules.py``).
- the ledger, risk engine and broker resources (``resources.py``).
"""

import dagster as dg

from intraday_jules.defs.trading.assets import performance_report_asset, session_report_asset
from intraday_jules.defs.trading.jobs import reconcile_job, report_job, trade_job
from intraday_jules.defs.trading.reconciliation import (
    reconciliation_job,
    session_reconciliation_asset,
)
from intraday_jules.defs.trading.resources import trading_resources
from intraday_jules.defs.trading.schedules import trading_schedules
from intraday_jules.defs.trading.sensors import trading_session_sensor
from intraday_jules.settings import Settings


def build_trading_defs(settings: Settings) -> dg.Definitions:
    trade, reconcile, report = trade_job(settings), reconcile_job(), report_job()
    return dg.Definitions(assets=[session_report_asset(settings),
                                  performance_report_asset(settings),
                                  session_reconciliation_asset(settings)],
                          jobs=[trade, reconcile, report, reconciliation_job()],
                          sensors=[trading_session_sensor(trade)],
                          schedules=trading_schedules(settings, report, reconcile),
                          resources=trading_resources(settings))
