"""The benchmark's plain reference computes the same 12 formulas as build_features."""

from __future__ import annotations

import numpy as np

from benchmarks.features import reference_features, synthetic_bars
from intraday_jules.features import DEFAULT_SPEC, build_features


def test_benchmark_reference_agrees_with_build_features_on_synthetic_sessions() -> None:
    bars = synthetic_bars(20_000, seed=5)
    ours = build_features(bars)

    assert len(ours) == len(bars) >= 20_000
    reference = reference_features(bars)
    for name, column in zip(DEFAULT_SPEC.names, reference, strict=True):
        np.testing.assert_allclose(ours[name].to_numpy(), column, rtol=1e-9, atol=1e-12,
                                   err_msg=name)
