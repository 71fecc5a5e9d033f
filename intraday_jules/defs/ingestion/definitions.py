"""The ingestion slice: the ``market_data/bars`` asset and its checks, its job and schedule.

Its resources (``market_data``, ``bar_store``) are shared by other slices, so
``intraday_jules.definitions`` binds them once."""

from __future__ import annotations

import dagster as dg

from intraday_jules.defs.ingestion.assets import bars_asset
from intraday_jules.defs.ingestion.jobs import ingest_bars_job
from intraday_jules.defs.ingestion.schedules import daily_schedule
from intraday_jules.settings import Settings


def build_ingestion_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[bars_asset(settings)], jobs=[ingest_bars_job],
                          schedules=[daily_schedule(settings)])
