"""The code location's entry point (``intraday_jules.definitions``): it loads the
``defs/<area>`` slices and applies what cuts across them once (the shared resources, the
Dagster warning filters, logging).

Settings are read when Dagster loads the definitions (the decorated function runs then), never
at import, so tests and tools can import this module without touching the environment.
"""

from __future__ import annotations

import warnings
from typing import Any

import dagster as dg

from intraday_jules.defs.common.resources import (
    bar_store_resource,
    market_data_resource,
    model_store_resource,
)
from intraday_jules.defs.features.definitions import build_features_defs
from intraday_jules.defs.ingestion.definitions import build_ingestion_defs
from intraday_jules.defs.models.definitions import build_models_defs
from intraday_jules.defs.quality.definitions import build_quality_defs
from intraday_jules.defs.sweeps.definitions import build_sweeps_defs
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


# Each defs/<area> slice (they import only defs.common, never each other).
SLICES = (build_ingestion_defs, build_quality_defs, build_features_defs, build_models_defs,
          build_trading_defs, build_sweeps_defs)


def shared_resources(settings: Settings) -> dict[str, dg.ConfigurableResource[Any]]:
    """The resources several slices use, bound once here rather than by whichever slice
    happens to come first; a slice binds only the resources no other slice uses."""
    bar_store = bar_store_resource(settings)
    return {"market_data": market_data_resource(settings), "bar_store": bar_store,
            "model_store": model_store_resource(settings, bar_store)}


def _merge(settings: Settings) -> dg.Definitions:
    return dg.Definitions.merge(*(build(settings) for build in SLICES),
                                dg.Definitions(resources=shared_resources(settings)))


@dg.definitions
def defs() -> dg.Definitions:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return build_definitions(settings)
