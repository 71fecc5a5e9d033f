"""``train_models_job``: foundation, transfer, evaluation and promotion gate, in one run."""

from __future__ import annotations

import dagster as dg

from intraday_jules.defs.common.keys import PROMOTED_KEY
from intraday_jules.defs.models.assets import DUAL_KEY, EVALUATION_KEY, FOUNDATION_KEY

TRAIN_JOB_NAME = "train_models_job"

train_models_job = dg.define_asset_job(
    TRAIN_JOB_NAME, selection=[FOUNDATION_KEY, DUAL_KEY, EVALUATION_KEY, PROMOTED_KEY],
    description="Train the foundation, transfer it, evaluate, and run the promotion gate.")
