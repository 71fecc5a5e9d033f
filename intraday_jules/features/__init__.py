"""Causal features per (symbol, bar): the spec, the one build, normalisation, storage, audit.

``build_features`` is the single implementation used by training, evaluation and live
trading; ``FeatureSpec.version`` (a content hash) identifies the exact features a model uses.
"""

from intraday_jules.features.build import FeatureInputError, build_features
from intraday_jules.features.spec import (
    DEFAULT_SPEC,
    FeatureDef,
    FeatureSpec,
    FeatureSpecError,
    default_spec,
)

__all__ = [
    "DEFAULT_SPEC",
    "FeatureDef",
    "FeatureInputError",
    "FeatureSpec",
    "FeatureSpecError",
    "build_features",
    "default_spec",
]
