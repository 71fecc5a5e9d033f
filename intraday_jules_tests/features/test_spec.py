"""FeatureSpec: 12 ordered definitions, a content hash that is stable and sensitive."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from intraday_jules.features import DEFAULT_SPEC, FeatureSpec, FeatureSpecError, default_spec
from intraday_jules.features.spec import FeatureDef

REPO_ROOT = Path(__file__).resolve().parents[2]
# Pinned on purpose: a change here invalidates every stored feature and trained model.
# Update it only together with a deliberate spec change (and say so in the change note).
PINNED_VERSION = "bae377d35be0f11cce60eb70c8dc003ebe4dcdb3efb2ef5d12e8eb14be105f9f"


def test_default_spec_has_twelve_features_and_the_seed_lookback() -> None:
    assert len(DEFAULT_SPEC.names) == 12
    assert DEFAULT_SPEC.lookback == 50
    assert DEFAULT_SPEC.names == (
        "ret_1", "ret_5", "ret_15", "ret_50", "rv_15", "rv_50", "rsi_14", "ema_trend",
        "vwap_dist", "volume_z", "hl_range", "session_time")


def test_default_spec_version_is_pinned() -> None:
    assert DEFAULT_SPEC.version == PINNED_VERSION


@pytest.mark.parametrize("hash_seed", ["0", "12345"])
def test_version_is_the_same_in_another_process(hash_seed: str) -> None:
    code = "from intraday_jules.features import DEFAULT_SPEC; print(DEFAULT_SPEC.version)"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env, cwd=REPO_ROOT)
    assert out.stdout.strip() == DEFAULT_SPEC.version


def test_rebuilding_the_spec_gives_the_same_version() -> None:
    assert default_spec().version == DEFAULT_SPEC.version
    assert FeatureSpec.from_dict(DEFAULT_SPEC.to_dict()).version == DEFAULT_SPEC.version


def _replace_feature(spec: FeatureSpec, index: int, **changes: object) -> FeatureSpec:
    features = list(spec.features)
    features[index] = dataclasses.replace(features[index], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(spec, features=tuple(features))


MUTATIONS: dict[str, Callable[[FeatureSpec], FeatureSpec]] = {
    "window": lambda s: _replace_feature(s, 1, window=6),
    "name": lambda s: _replace_feature(s, 0, name="r1"),
    "kind": lambda s: _replace_feature(s, 10, kind="session_time"),
    "formula": lambda s: _replace_feature(s, 2, formula=s.features[2].formula + " "),
    "range": lambda s: _replace_feature(s, 4, range="[0, 1]"),
    "param": lambda s: _replace_feature(s, 7, params=(("fast", 10), ("slow", 26))),
    "order": lambda s: dataclasses.replace(s, features=(s.features[1], s.features[0],
                                                         *s.features[2:])),
    "dropped": lambda s: dataclasses.replace(s, features=s.features[:-1]),
    "lookback": lambda s: dataclasses.replace(s, lookback=60),
    "hours": lambda s: dataclasses.replace(s, hours="extended"),
    "session_rule": lambda s: dataclasses.replace(s, session_rule="across sessions"),
    "implementation": lambda s: dataclasses.replace(s, implementation=2),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_changing_any_definition_changes_the_version(mutation: str) -> None:
    changed = MUTATIONS[mutation](DEFAULT_SPEC)
    assert changed.version != DEFAULT_SPEC.version


@pytest.mark.parametrize(("features", "lookback", "problem"), [
    ((), 50, "at least one"),
    ((FeatureDef("a", "hl_range", 0, "f", "r"), FeatureDef("a", "hl_range", 0, "f", "r")), 50,
     "duplicated"),
    ((FeatureDef("warmup", "hl_range", 0, "f", "r"),), 50, "reserved"),
    ((FeatureDef("a", "magic", 0, "f", "r"),), 50, "unknown kind"),
    ((FeatureDef("a", "log_return", 60, "f", "r"),), 50, "lookback=50"),
    ((FeatureDef("a", "log_return", 0, "f", "r"),), 50, "window 0"),
])
def test_malformed_specs_are_refused(features: tuple[FeatureDef, ...], lookback: int,
                                     problem: str) -> None:
    with pytest.raises(FeatureSpecError, match=problem):
        FeatureSpec(features=features, lookback=lookback)
