"""A sweep's search space: a YAML file of named dimensions, each mapped onto one field of
``TrainingConfig`` / ``TradingEnvConfig`` (or onto the training window's length).

The file (``sweeps/default.yaml`` documents every dimension)::

    dimensions:
      reward: {choices: [pnl, penalised, dsr]}
      learning_rate: {low: 1.0e-4, high: 1.0e-3, log: true}
      n_steps: {choices: [32, 64, 128]}

A dimension is either categorical (``choices``) or a range (``low``, ``high``, optional
``log``, and ``step`` for integer dimensions). Names are the keys of ``DIMENSIONS``; an
unknown name, a bad range or a choice outside a dimension's allowed values is refused with
``SearchSpaceError`` naming the file and the dimension. A dimension whose config field does
not exist in this version of the code is refused too (naming the missing field), never
silently ignored: a sweep must search what it says it searches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

import optuna
import yaml

from intraday_jules.agent.config import TrainingConfig
from intraday_jules.env import TradingEnvConfig

Target = Literal["training", "env", "window"]
#: the sweep-level dimension that is no config field: how many of the train window's most
#: recent sessions a trial trains on
WINDOW_FIELD = "train_sessions"


class SearchSpaceError(ValueError):
    """A search-space file that cannot be used: names the file, the dimension and why."""


@dataclass(frozen=True)
class DimensionRule:
    """Where a dimension goes and which values it may take."""

    target: Target
    field: str
    kind: type  # int, float or str
    allowed: tuple[Any, ...] | None = None  # the only legal values (None: any in range)
    minimum: float | None = None  # values must be >= minimum
    maximum: float | None = None  # values must be <= maximum
    positive: bool = False  # values must be > 0


DIMENSIONS: dict[str, DimensionRule] = {
    "reward": DimensionRule("env", "reward", str, ("pnl", "penalised", "dsr")),
    "decision_interval": DimensionRule("env", "decision_interval_minutes", int, (1, 5, 15)),
    "curriculum": DimensionRule("training", "curriculum", str,
                                ("none", "cost_ramp", "nvda_first")),
    "lstm_size": DimensionRule("training", "lstm_hidden_size", int, minimum=1),
    "learning_rate": DimensionRule("training", "learning_rate", float, positive=True),
    "ent_coef": DimensionRule("training", "ent_coef", float, minimum=0.0),
    "n_steps": DimensionRule("training", "n_steps", int, minimum=1),
    "gamma": DimensionRule("training", "gamma", float, maximum=1.0, positive=True),
    "train_sessions": DimensionRule("window", WINDOW_FIELD, int, minimum=1),
}
RANGE_KEYS = frozenset({"low", "high", "log", "step"})


@dataclass(frozen=True)
class Dimension:
    """One searched dimension: categorical ``choices`` or a [low, high] range."""

    name: str
    rule: DimensionRule
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: int | None = None

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        assert self.low is not None  # a range, see _range
        assert self.high is not None
        if self.rule.kind is int:
            return trial.suggest_int(self.name, int(self.low), int(self.high),
                                     step=self.step or 1, log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)


@dataclass(frozen=True)
class SearchSpace:
    """The dimensions of one YAML file, in file order."""

    path: Path
    dimensions: tuple[Dimension, ...]

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        return {d.name: d.suggest(trial) for d in self.dimensions}


def load_space(path: Path | str) -> SearchSpace:
    """Read and check a search-space YAML file (``SearchSpaceError`` on any problem)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SearchSpaceError(f"search space {path}: no such file") from None
    except yaml.YAMLError as exc:
        raise SearchSpaceError(f"search space {path}: not valid YAML: {exc}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("dimensions"), Mapping):
        raise SearchSpaceError(f"search space {path}: expected a mapping with a "
                               "'dimensions' mapping at the top")
    extra = sorted(set(doc) - {"dimensions", "description"})
    if extra:
        raise SearchSpaceError(f"search space {path}: unknown top-level key(s) {extra}; "
                               "expected 'dimensions' (and optionally 'description')")
    if not doc["dimensions"]:
        raise SearchSpaceError(f"search space {path}: 'dimensions' is empty")
    dims = tuple(parse_dimension(path, str(name), spec)
                 for name, spec in doc["dimensions"].items())
    return SearchSpace(path, dims)


def parse_dimension(path: Path, name: str, spec: Any) -> Dimension:
    where = f"search space {path}: dimension {name!r}"
    rule = DIMENSIONS.get(name)
    if rule is None:
        raise SearchSpaceError(f"{where} is unknown; known dimensions: "
                               f"{', '.join(DIMENSIONS)}")
    _require_field(where, rule)
    if not isinstance(spec, Mapping):
        raise SearchSpaceError(f"{where}: expected a mapping with 'choices' or 'low'/'high', "
                               f"got {spec!r}")
    if "choices" in spec:
        if set(spec) != {"choices"}:
            raise SearchSpaceError(f"{where}: 'choices' cannot be combined with "
                                   f"{sorted(set(spec) - {'choices'})}")
        return Dimension(name, rule, choices=_choices(where, rule, spec["choices"]))
    return _range(where, name, rule, spec)


def _require_field(where: str, rule: DimensionRule) -> None:
    """Refuse a dimension whose config field this version of the code does not have."""
    if rule.target == "window":
        return
    owner = TradingEnvConfig if rule.target == "env" else TrainingConfig
    if rule.field not in {f.name for f in fields(owner)}:
        raise SearchSpaceError(f"{where} sets {owner.__name__}.{rule.field}, a field this "
                               "version of IntradayJules does not have; remove the dimension "
                               "or update the code")


def _choices(where: str, rule: DimensionRule, raw: Any) -> tuple[Any, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise SearchSpaceError(f"{where}: 'choices' must be a non-empty list, got {raw!r}")
    values = tuple(_value(where, rule, v) for v in raw)
    if len(set(values)) != len(values):
        raise SearchSpaceError(f"{where}: 'choices' repeats a value: {list(values)}")
    return values


def _value(where: str, rule: DimensionRule, value: Any) -> Any:
    """One value, of the dimension's type and inside its allowed set/bounds."""
    ok_type = (isinstance(value, str) if rule.kind is str else
               isinstance(value, int) and not isinstance(value, bool) if rule.kind is int else
               isinstance(value, int | float) and not isinstance(value, bool))
    if not ok_type:
        raise SearchSpaceError(f"{where}: {value!r} is not a{'n' if rule.kind is int else ''} "
                               f"{rule.kind.__name__}")
    if rule.allowed is not None and value not in rule.allowed:
        raise SearchSpaceError(f"{where}: {value!r} is not one of "
                               f"{', '.join(map(str, rule.allowed))}")
    if rule.kind is not str:
        if rule.positive and not value > 0:
            raise SearchSpaceError(f"{where}: {value!r} must be > 0")
        if rule.minimum is not None and not value >= rule.minimum:
            raise SearchSpaceError(f"{where}: {value!r} must be >= {rule.minimum:g}")
        if rule.maximum is not None and not value <= rule.maximum:
            raise SearchSpaceError(f"{where}: {value!r} must be <= {rule.maximum:g}")
    return float(value) if rule.kind is float else value


def _range(where: str, name: str, rule: DimensionRule, spec: Mapping[str, Any]) -> Dimension:
    if rule.allowed is not None:
        raise SearchSpaceError(f"{where}: takes 'choices' from "
                               f"{', '.join(map(str, rule.allowed))}, not a range")
    extra = sorted(set(spec) - RANGE_KEYS)
    if extra or not {"low", "high"} <= set(spec):
        raise SearchSpaceError(f"{where}: a range needs 'low' and 'high' (and optionally "
                               f"'log', 'step'); got keys {sorted(spec)}")
    low, high = _value(where, rule, spec["low"]), _value(where, rule, spec["high"])
    if not low < high:
        raise SearchSpaceError(f"{where}: low {low!r} must be below high {high!r}")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise SearchSpaceError(f"{where}: 'log' must be true or false, got {log!r}")
    if log and not low > 0:
        raise SearchSpaceError(f"{where}: a log range needs low > 0, got {low!r}")
    step = spec.get("step")
    if step is not None and (rule.kind is not int or not isinstance(step, int) or step < 1
                             or log):
        raise SearchSpaceError(f"{where}: 'step' must be a positive integer, on an integer "
                               f"dimension without 'log'; got {step!r}")
    if math.isinf(float(high)):
        raise SearchSpaceError(f"{where}: high must be finite")
    return Dimension(name, rule, low=low, high=high, log=log, step=step)


@dataclass(frozen=True)
class TrialSettings:
    """What one trial's params change: the training config and the train window length."""

    config: TrainingConfig
    train_sessions: int | None


def apply_params(params: Mapping[str, Any], base: TrainingConfig) -> TrialSettings:
    """``base`` with a trial's ``params`` (dimension name -> value) applied."""
    training: dict[str, Any] = {}
    env: dict[str, Any] = {}
    sessions: int | None = None
    for name, value in params.items():
        rule = DIMENSIONS.get(name)
        if rule is None:
            raise SearchSpaceError(f"trial parameter {name!r} is no known dimension")
        _require_field(f"trial parameter {name!r}", rule)
        if rule.target == "window":
            sessions = int(value)
        else:
            (env if rule.target == "env" else training)[rule.field] = value
    config = replace(base, **training, env=replace(base.env, **env))
    return TrialSettings(config, sessions)
