"""Normalisation fit on the training window only, saved with the spec it belongs to.

Statistics computed over data the model is later evaluated on leak the test period into
training (its level and spread). So ``Normalizer.fit`` takes an explicit window
[train_start, train_end) and looks at no row outside it; the window is recorded in the
result. Warm-up rows are excluded too: their partial windows have a different distribution.

Method ``robust``: centre = median, scale = IQR / 1.349 (the standard deviation of a normal
with that IQR), so a few crash minutes do not set the scale; values are then clipped to
[-clip, clip]. A feature with no spread in the window gets scale 1 (centred, not stretched).

The serialised form carries the full spec and its version: a model directory that holds it
can be checked against the live spec (``check_spec``) without any other file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.domain.clock import as_utc
from intraday_jules.features.spec import DEFAULT_SPEC, FeatureSpec

IQR_TO_SIGMA = 1.349


class NormalizerError(ValueError):
    """Fitting or applying normalisation is impossible (empty window, spec mismatch)."""


@dataclass(frozen=True)
class Normalizer:
    """Per-feature ``center`` and ``scale`` (spec order), fit on [train_start, train_end)."""

    spec: FeatureSpec
    center: tuple[float, ...]
    scale: tuple[float, ...]
    clip: float
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    rows: int
    method: str = "robust"

    @property
    def spec_version(self) -> str:
        return self.spec.version

    @classmethod
    def fit(cls, features: pd.DataFrame, spec: FeatureSpec | None = None, *,
            train_start: Any, train_end: Any, clip: float = 5.0) -> Normalizer:
        """Statistics of the non-warm-up rows with train_start <= ts < train_end, only."""
        spec = DEFAULT_SPEC if spec is None else spec
        start, end = _utc(train_start), _utc(train_end)
        if not start < end:
            raise NormalizerError(f"empty training window [{start}, {end})")
        _check_columns(features, spec)
        ts = features.index.get_level_values("ts")
        rows = (ts >= start) & (ts < end) & ~features["warmup"].to_numpy(dtype=bool)
        values = features.loc[rows, list(spec.names)].to_numpy(dtype=np.float64)
        if len(values) == 0:
            raise NormalizerError(f"no non-warm-up rows in the training window [{start}, {end})")
        q25, median, q75 = np.nanpercentile(values, [25.0, 50.0, 75.0], axis=0)
        scale = [_scale(iqr / IQR_TO_SIGMA, col) for iqr, col in zip(q75 - q25, values.T,
                                                                    strict=True)]
        return cls(spec, tuple(float(x) for x in median), tuple(scale), float(clip), start,
                   end, len(values))

    def apply(self, features: pd.DataFrame) -> pd.DataFrame:
        """A new frame: (x - center) / scale clipped to [-clip, clip]; ``warmup`` kept. Pure."""
        _check_columns(features, self.spec)
        names = list(self.spec.names)
        x = features[names].to_numpy(dtype=np.float64)
        z = np.clip((x - np.asarray(self.center)) / np.asarray(self.scale), -self.clip, self.clip)
        out = pd.DataFrame({n: z[:, i] for i, n in enumerate(names)}, index=features.index)
        out["warmup"] = features["warmup"].to_numpy(dtype=bool)
        out.attrs["spec_version"] = self.spec.version
        return out

    def check_spec(self, live: FeatureSpec) -> None:
        """Refuse a live spec other than the one these statistics (and their model) used."""
        if live.version != self.spec.version:
            raise NormalizerError(f"feature spec mismatch: normaliser/model has"
                                  f" {self.spec.version}, live spec is {live.version}")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "spec_version": self.spec.version,
                "spec": self.spec.to_dict(), "names": list(self.spec.names),
                "center": list(self.center), "scale": list(self.scale), "clip": self.clip,
                "train_start": self.train_start.isoformat(),
                "train_end": self.train_end.isoformat(), "rows": self.rows}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Normalizer:
        """Rebuild; refuses a document whose spec no longer hashes to its recorded version."""
        spec = FeatureSpec.from_dict(data["spec"])
        if spec.version != data["spec_version"]:
            raise NormalizerError(f"normaliser document is inconsistent: its spec hashes to"
                                  f" {spec.version}, recorded {data['spec_version']}")
        center, scale = tuple(map(float, data["center"])), tuple(map(float, data["scale"]))
        if not len(center) == len(scale) == len(spec.names):
            raise NormalizerError(f"normaliser has {len(center)} centres and {len(scale)}"
                                  f" scales for {len(spec.names)} features")
        return cls(spec, center, scale, float(data["clip"]), _utc(data["train_start"]),
                   _utc(data["train_end"]), int(data["rows"]), str(data["method"]))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Normalizer:
        return cls.from_dict(json.loads(text))


def _scale(robust: float, column: np.ndarray) -> float:
    """IQR-based scale; the std where the IQR is 0 (a mostly constant feature); else 1."""
    if math.isfinite(robust) and robust > 0.0:
        return float(robust)
    std = float(np.nanstd(column))
    return std if math.isfinite(std) and std > 0.0 else 1.0


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    try:
        return pd.Timestamp(as_utc(ts, "training window bound"))
    except ValueError as exc:  # naive: the window's zone would be a guess
        raise NormalizerError(str(exc)) from None


def _check_columns(features: pd.DataFrame, spec: FeatureSpec) -> None:
    version = features.attrs.get("spec_version")
    if version is not None and version != spec.version:
        raise NormalizerError(f"features were built with spec {version}, expected {spec.version}")
    expected = [*spec.names, "warmup"]
    if list(features.columns) != expected:
        raise NormalizerError(f"feature columns {list(features.columns)} do not match spec"
                              f" {spec.version[:12]}: expected {expected}")
