"""FeatureSpec: the ordered feature definitions, and the content hash that is their version.

A model is only valid for the exact features it was trained on. So the spec is data, not code
comments: every definition (kind, window, parameters, formula text), the warm-up length, the
hours used and the session rule go into one canonical JSON document, and its sha256 is the
spec's ``version``. A model saved with one version is refused by a live system running another.
Change a window and the version changes; change only whitespace in this file and it does not.

``implementation`` is bumped by hand when the code behind a kind changes its numbers without
any parameter changing (a bug fix), so that stored features and models of the old code are not
silently mixed with new ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

Hours = Literal["regular", "extended"]

#: Kinds of computation ``build_features`` knows; a spec naming any other kind is refused.
KINDS: tuple[str, ...] = (
    "log_return", "realized_vol", "rsi", "ema_trend", "vwap_distance", "volume_zscore",
    "hl_range", "session_time",
)
#: Kinds whose ``window`` is a count of bars that must fit inside the warm-up.
WINDOWED_KINDS: frozenset[str] = frozenset({"log_return", "realized_vol", "rsi", "volume_zscore"})

SESSION_RULE = (
    "Every window is computed within one (symbol, session); a session is the America/New_York "
    "date of the bar. Nothing crosses a session boundary: the overnight gap is never a return, "
    "and before a window is full it uses the bars the session has so far (a k-bar return before "
    "bar k is the return since the session's first open). Windows count bars, not minutes."
)
DEFAULT_LOOKBACK = 50  # the seed's warm-up length


class FeatureSpecError(ValueError):
    """A spec is malformed (unknown kind, duplicate name, window longer than the warm-up)."""


@dataclass(frozen=True, slots=True)
class FeatureDef:
    """One feature: ``name`` (its column), ``kind`` (which computation), ``window`` in bars
    (0 when none), ``params`` (the kind's other parameters), and the human ``formula`` and
    value ``range`` shown in the docs. All of it is hashed into the spec version."""

    name: str
    kind: str
    window: int
    formula: str
    range: str
    params: tuple[tuple[str, int | float | str], ...] = ()

    def param(self, key: str) -> Any:
        """A parameter by name; KeyError naming the feature if it is missing."""
        for name, value in self.params:
            if name == key:
                return value
        raise KeyError(f"feature {self.name!r} ({self.kind}) has no parameter {key!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "window": self.window,
                "params": dict(self.params), "formula": self.formula, "range": self.range}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureDef:
        params = tuple(sorted(dict(data.get("params", {})).items()))
        return cls(name=str(data["name"]), kind=str(data["kind"]), window=int(data["window"]),
                   formula=str(data["formula"]), range=str(data["range"]), params=params)


@dataclass(frozen=True)
class FeatureSpec:
    """Ordered feature definitions plus warm-up (``lookback``), hours and session rule.

    ``lookback``: the first ``lookback`` bars of each (symbol, session) are warm-up: their
    features are finite but use partial windows, so consumers (env, evaluation) skip them.
    ``hours``: ``regular`` keeps only bars inside the XNYS regular session (half days
    included); ``extended`` keeps 04:00-20:00 ET. Bars outside are dropped, never an error.
    """

    features: tuple[FeatureDef, ...]
    lookback: int = DEFAULT_LOOKBACK
    hours: Hours = "regular"
    session_rule: str = SESSION_RULE
    implementation: int = 1

    def __post_init__(self) -> None:
        _check_spec(self)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def to_dict(self) -> dict[str, Any]:
        return {"features": [f.to_dict() for f in self.features], "lookback": self.lookback,
                "hours": self.hours, "session_rule": self.session_rule,
                "implementation": self.implementation}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        return cls(features=tuple(FeatureDef.from_dict(f) for f in data["features"]),
                   lookback=int(data["lookback"]), hours=data["hours"],
                   session_rule=str(data["session_rule"]),
                   implementation=int(data["implementation"]))

    def canonical_json(self) -> str:
        return canonical_json(self.to_dict())

    @cached_property
    def version(self) -> str:
        """sha256 hex of ``canonical_json()``: the spec's identity in tables and models."""
        return canonical_hash(self.to_dict())


def canonical_json(document: Mapping[str, Any]) -> str:
    """Sorted keys, no whitespace, ASCII: the same bytes in every process and platform."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def canonical_hash(document: Mapping[str, Any]) -> str:
    """sha256 hex of ``canonical_json(document)``: a spec's identity (features, execution)."""
    return hashlib.sha256(canonical_json(document).encode("ascii")).hexdigest()


def _check_spec(spec: FeatureSpec) -> None:
    if not spec.features:
        raise FeatureSpecError("a FeatureSpec needs at least one feature")
    if spec.lookback < 1:
        raise FeatureSpecError(f"lookback must be >= 1, got {spec.lookback}")
    if spec.hours not in ("regular", "extended"):
        raise FeatureSpecError(f"hours must be 'regular' or 'extended', got {spec.hours!r}")
    seen: set[str] = set()
    for f in spec.features:
        if f.name in seen or f.name in ("symbol", "ts", "warmup"):
            raise FeatureSpecError(f"feature name {f.name!r} is duplicated or reserved")
        seen.add(f.name)
        if f.kind not in KINDS:
            raise FeatureSpecError(f"feature {f.name!r}: unknown kind {f.kind!r}; known: {KINDS}")
        if f.kind in WINDOWED_KINDS and not 1 <= f.window <= spec.lookback:
            raise FeatureSpecError(
                f"feature {f.name!r}: window {f.window} must be in [1, lookback={spec.lookback}]"
                " so that every window is full once warm-up ends")


def _f(name: str, kind: str, window: int, formula: str, range_: str,
       **params: int | float | str) -> FeatureDef:
    return FeatureDef(name, kind, window, formula, range_, tuple(sorted(params.items())))


def default_spec() -> FeatureSpec:
    """The 12 features every model and the live system use (see docs/features.md)."""
    r = "log(c_t / c_{t-1}); c_{-1} := o_0 (first bar: its own open)"
    return FeatureSpec(features=(
        _f("ret_1", "log_return", 1, r, "(-inf, inf)"),
        _f("ret_5", "log_return", 5, "log(c_t / c_{t-5}); before bar 5: log(c_t / o_0)",
           "(-inf, inf)"),
        _f("ret_15", "log_return", 15, "log(c_t / c_{t-15}); before bar 15: log(c_t / o_0)",
           "(-inf, inf)"),
        _f("ret_50", "log_return", 50, "log(c_t / c_{t-50}); before bar 50: log(c_t / o_0)",
           "(-inf, inf)"),
        _f("rv_15", "realized_vol", 15, "sqrt(mean(ret_1^2) over the last min(15, n) bars)",
           "[0, inf)"),
        _f("rv_50", "realized_vol", 50, "sqrt(mean(ret_1^2) over the last min(50, n) bars)",
           "[0, inf)"),
        _f("rsi_14", "rsi", 14, "(G - L) / (G + L), G/L = sum of ret_1 gains/losses over the"
           " last min(14, n) bars; 0 when G + L = 0 (= (RSI - 50) / 50, simple average)",
           "[-1, 1]"),
        _f("ema_trend", "ema_trend", 26, "EMA_12(log c) - EMA_26(log c); EMA_s: y_0 = x_0,"
           " y_t = y_{t-1} + a (x_t - y_{t-1}), a = 2 / (s + 1)", "(-inf, inf)",
           fast=12, slow=26),
        _f("vwap_dist", "vwap_distance", 0, "log(c_t / VWAP_t), VWAP_t = sum(tp v) / sum(v)"
           " since the session's first bar, tp = (h + l + c) / 3; 0 while sum(v) = 0",
           "(-inf, inf)"),
        _f("volume_z", "volume_zscore", 50, "(x_t - mean(x)) / std(x), x = log(1 + v), over"
           " the last min(50, n) bars (population std); 0 when var(x) <= 1e-8",
           "[-7, 7] (|z| <= sqrt(n - 1))",
           min_var=1e-8),
        _f("hl_range", "hl_range", 0, "log(h_t / l_t)", "[0, inf)"),
        _f("session_time", "session_time", 0, "(ts - open) / (close - open), the XNYS regular"
           " session of the bar's date (half days: close 13:00 ET)", "[0, 1)"),
    ))


DEFAULT_SPEC: FeatureSpec = default_spec()
