"""The code location's entry point (``intraday_jules.definitions``).

Settings are read when Dagster loads the definitions (the decorated function runs then), never
at import, so tests and tools can import this module without touching the environment.
"""

from __future__ import annotations

import warnings

import dagster as dg

from intraday_jules.defs.common.resources import bar_store_resource
from intraday_jules.defs.features.definitions import build_features_defs
from intraday_jules.defs.ingestion.definitions import build_ingestion_defs
from intraday_jules.defs.models.definitions import build_training_defs
from intraday_jules.defs.quality.definitions import build_quality_defs
from intraday_jules.defs.trading.definitions import build_trading_defs
from intraday_jules.observability.logging import configure_logging
from intraday_jules.settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """All assets, checks, jobs, schedules and sensors for one resolved configuration."""
    with warnings.catch_warnings():
        # MultiToSingleDimensionPartitionMapping is marked beta in Dagster 1.13; we rely on it
        # deliberately (session report over session x symbol bars) and pin Dagster.
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _merge(settings)


def _merge(settings: Settings) -> dg.Definitions:
    return dg.Definitions.merge(
        build_ingestion_defs(settings),
        build_quality_defs(settings),
        build_features_defs(settings),
        build_training_defs(settings, bar_store_resource(settings)),
        build_trading_defs(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return build_definitions(settings)
