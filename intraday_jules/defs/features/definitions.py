"""The features slice: the ``features/feature_table`` asset and its checks (it runs in the
ingestion slice's ``ingest_bars_job``, which selects it by key)."""

from __future__ import annotations

import dagster as dg

from intraday_jules.defs.features.assets import feature_table_asset
from intraday_jules.settings import Settings


def build_features_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[feature_table_asset(settings)])
