"""``ingest_bars_job``: bars and then their features, for one (session, symbol) partition."""

from __future__ import annotations

import dagster as dg

from intraday_jules.defs.common.keys import BARS_KEY, FEATURES_KEY, INGEST_JOB_NAME

# The features are selected by key, not imported, so the slices stay independent.
ingest_bars_job = dg.define_asset_job(
    INGEST_JOB_NAME, selection=[BARS_KEY, FEATURES_KEY],
    description="Ingest and check bars for one (session, symbol), then build its features "
                "(skipped when a blocking check fails).")
