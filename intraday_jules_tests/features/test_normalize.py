"""Normalisation: fit on the training window only, pure apply, serialisable with its spec."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from intraday_jules.features import DEFAULT_SPEC, build_features
from intraday_jules.features.normalize import Normalizer, NormalizerError
from intraday_jules.features.spec import FeatureSpec

TRAIN = (pd.Timestamp("2025-01-02", tz="UTC"), pd.Timestamp("2025-02-01", tz="UTC"))
NAMES = list(DEFAULT_SPEC.names)


@pytest.fixture(scope="module")
def features(rth_bars: pd.DataFrame) -> pd.DataFrame:
    return build_features(rth_bars)


def _fit(frame: pd.DataFrame) -> Normalizer:
    return Normalizer.fit(frame, train_start=TRAIN[0], train_end=TRAIN[1])


def test_test_window_data_does_not_change_the_statistics(features: pd.DataFrame) -> None:
    ts = features.index.get_level_values("ts")
    test_rows = ts >= TRAIN[1]
    wrecked = features.copy()
    wrecked.loc[test_rows, NAMES] = wrecked.loc[test_rows, NAMES] * 1000.0 + 7.0

    assert _fit(wrecked).to_dict() == _fit(features).to_dict()
    assert _fit(features[~test_rows]).to_dict() == _fit(features).to_dict()


def test_statistics_change_when_training_data_changes(features: pd.DataFrame) -> None:
    """The previous test would pass for a fit that ignored its input; this one would not."""
    ts = features.index.get_level_values("ts")
    changed = features.copy()
    changed.loc[ts < TRAIN[1], NAMES] *= 2.0
    assert _fit(changed).scale != _fit(features).scale


def test_warmup_rows_are_not_fit_on(features: pd.DataFrame) -> None:
    wrecked = features.copy()
    wrecked.loc[wrecked["warmup"], NAMES] = 1e6
    fitted = _fit(features)
    assert _fit(wrecked).to_dict() == fitted.to_dict()
    in_window = (features.index.get_level_values("ts") < TRAIN[1]) & ~features["warmup"]
    assert fitted.rows == int(in_window.sum())
    assert fitted.center == pytest.approx(features.loc[in_window, NAMES].median().tolist())


def test_apply_centres_scales_clips_and_leaves_its_input_alone(features: pd.DataFrame) -> None:
    before = features.copy()
    norm = _fit(features)
    out = norm.apply(features)

    pd.testing.assert_frame_equal(features, before)
    assert list(out.columns) == [*NAMES, "warmup"] and out.index.equals(features.index)
    assert np.abs(out[NAMES].to_numpy()).max() <= norm.clip
    train = (features.index.get_level_values("ts") < TRAIN[1]) & ~features["warmup"]
    medians = out.loc[train, NAMES].median()
    assert np.allclose(medians[[n for n in NAMES if n != "rsi_14"]], 0.0, atol=1e-9)


def test_round_trip_through_json_keeps_spec_and_statistics(features: pd.DataFrame) -> None:
    norm = _fit(features)
    again = Normalizer.from_json(norm.to_json())

    assert again == norm
    assert again.spec_version == DEFAULT_SPEC.version
    assert again.to_dict()["train_end"] == TRAIN[1].isoformat()
    pd.testing.assert_frame_equal(again.apply(features), norm.apply(features), check_exact=True)


def test_a_document_whose_spec_was_edited_is_refused(features: pd.DataFrame) -> None:
    data = _fit(features).to_dict()
    data["spec"]["lookback"] = 60
    with pytest.raises(NormalizerError, match="inconsistent"):
        Normalizer.from_dict(data)


def test_a_different_live_spec_is_refused_naming_both_versions(features: pd.DataFrame) -> None:
    norm = _fit(features)
    other = FeatureSpec(DEFAULT_SPEC.features, implementation=2)
    with pytest.raises(NormalizerError) as info:
        norm.check_spec(other)
    assert DEFAULT_SPEC.version in str(info.value) and other.version in str(info.value)
    norm.check_spec(DEFAULT_SPEC)


@pytest.mark.parametrize(("start", "end", "problem"), [
    (TRAIN[1], TRAIN[0], "empty training window"),
    ("2030-01-01T00:00Z", "2030-02-01T00:00Z", "no non-warm-up rows"),
    ("2025-01-02", "2025-02-01", "naive"),
])
def test_an_unusable_training_window_is_refused(features: pd.DataFrame, start: object,
                                                end: object, problem: str) -> None:
    with pytest.raises(NormalizerError, match=problem):
        Normalizer.fit(features, train_start=start, train_end=end)


def test_features_of_another_spec_are_refused(features: pd.DataFrame) -> None:
    renamed = features.rename(columns={"ret_1": "r1"})
    with pytest.raises(NormalizerError, match="do not match"):
        _fit(renamed)
