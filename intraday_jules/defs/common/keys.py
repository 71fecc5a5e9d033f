"""Asset keys and job names that more than one ``defs/<area>`` slice refers to."""

from __future__ import annotations

import dagster as dg

BARS_KEY = dg.AssetKey(["market_data", "bars"])


FEATURES_KEY = dg.AssetKey(["features", "feature_table"])


INGEST_JOB_NAME = "ingest_bars_job"


PROMOTED_KEY = dg.AssetKey(["models", "promoted_model"])
