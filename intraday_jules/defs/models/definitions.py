"""The models slice: foundation, dual-ticker, evaluation and promoted-model assets and the
training job. ``model_store`` is shared with the trading slice (its sensor waits for a
promoted model), so ``intraday_jules.definitions`` binds it."""

from __future__ import annotations

import dagster as dg

from intraday_jules.defs.models.assets import (
    dual_model_asset,
    foundation_model_asset,
    model_evaluation,
    promoted_model_asset,
)
from intraday_jules.defs.models.jobs import train_models_job
from intraday_jules.settings import Settings


def build_models_defs(settings: Settings) -> dg.Definitions:
    """The training assets push their metrics where ``settings`` says (pushgateway_url)."""
    return dg.Definitions(
        assets=[foundation_model_asset(settings), dual_model_asset(settings), model_evaluation,
                promoted_model_asset(settings)],
        jobs=[train_models_job])
