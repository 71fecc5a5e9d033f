"""The quality slice: the ``quality/bar_quality_report`` asset and its job (the checks
themselves run with the bars they check, in the ingestion slice)."""

from __future__ import annotations

import dagster as dg

from intraday_jules.defs.quality.assets import bar_quality_report_asset
from intraday_jules.defs.quality.jobs import report_quality_job
from intraday_jules.settings import Settings


def build_quality_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[bar_quality_report_asset(settings)], jobs=[report_quality_job])
