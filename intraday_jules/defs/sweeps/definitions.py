"""The sweeps slice: ``sweep_job``, ``sweep_job_celery`` and ``models/sweep_report``."""

from __future__ import annotations

import dagster as dg

from intraday_jules.defs.sweeps.assets import sweep_report_asset
from intraday_jules.defs.sweeps.jobs import sweep_graph, sweep_job_from
from intraday_jules.settings import Settings


def build_sweeps_defs(settings: Settings) -> dg.Definitions:
    graph = sweep_graph(settings)
    return dg.Definitions(assets=[sweep_report_asset(settings)],
                          jobs=[sweep_job_from(graph), sweep_job_from(graph, celery=True)])
