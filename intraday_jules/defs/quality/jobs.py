"""``report_quality_job``: render one session's data-quality report on demand."""

from __future__ import annotations

import dagster as dg

from intraday_jules.defs.quality.assets import REPORT_KEY

REPORT_JOB_NAME = "report_quality_job"

report_quality_job = dg.define_asset_job(REPORT_JOB_NAME, selection=[REPORT_KEY],
                                         description="Render a session's data-quality report.")
