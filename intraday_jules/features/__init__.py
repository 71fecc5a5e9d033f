"""Causal features per (symbol, bar): the spec, the one build, normalisation, storage, audit.

``build_features`` (vectorised) and ``streaming.SegmentFeatures`` (one bar at a time) are the
one formula of each feature in its batch and streaming form, proven bit-identical by test;
training and evaluation build in batch, the trading loop and ``LivePolicy`` stream
(``SessionStreams``). ``FeatureSpec.version`` (a content hash) identifies the exact features a
model uses.
"""

from intraday_jules.features.build import FeatureInputError, build_features
from intraday_jules.features.spec import (
    DEFAULT_SPEC,
    FeatureDef,
    FeatureSpec,
    FeatureSpecError,
    default_spec,
)
from intraday_jules.features.streaming import (
    MIRRORED_IMPLEMENTATION,
    OutOfOrder,
    SegmentFeatures,
    SessionStreams,
    streams,
)

__all__ = [
    "DEFAULT_SPEC",
    "MIRRORED_IMPLEMENTATION",
    "FeatureDef",
    "FeatureInputError",
    "FeatureSpec",
    "FeatureSpecError",
    "OutOfOrder",
    "SegmentFeatures",
    "SessionStreams",
    "build_features",
    "default_spec",
    "streams",
]
