"""Data contracts: one YAML file per table in ``data_contracts/``, loaded and validated here.

A contract is the single statement of what a table must look like: columns and types, keys,
value rules, and which named checks run with which severity, tolerances and quarantine policy.
Both executors read it: the vectorised pandas checks and the Great Expectations suite
(``quality.gx``), so no rule is written twice. A contract that does not parse or does not make
sense raises ``ContractError`` naming the file, the place in it and the problem, before any data
is touched. ``docs/data_quality.md`` describes the format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from intraday_jules.quality.results import Severity

#: The repository's contract folder (``data_contracts/`` next to the package).
CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "data_contracts"

ColumnType = Literal["string", "float", "integer", "timestamp_utc"]
#: Contract type -> the pandas dtype names it accepts (the GX type name is the first).
COLUMN_TYPES: dict[str, tuple[str, ...]] = {
    "string": ("str", "object"),
    "float": ("float64",),
    "integer": ("int64",),
    "timestamp_utc": ("Timestamp",),
    "boolean": ("bool",),
}
RuleOp = Literal["greater_than", "at_least", "less_than", "at_most", "ordered"]
RULE_OPS: tuple[str, ...] = ("greater_than", "at_least", "less_than", "at_most", "ordered")
SCHEMA_CHECK = "contract_schema_valid"

#: Checks implemented in code, with every tolerance they accept and its default. A contract
#: may set only these parameters; the default's type is the type it must have.
BEHAVIOUR_CHECKS: dict[str, dict[str, Any]] = {
    SCHEMA_CHECK: {},
    "timestamps_in_session": {},
    "no_missing_minutes": {"max_missing_per_session": 0},
    "no_missing_sessions": {"min_session_coverage": 0.9},
    "no_zero_volume_runs": {"max_run_bars": 10},
    "zero_volume_share_low": {"max_share": 0.05, "min_bars": 30},
    "no_price_jumps": {"sigma": 10.0, "min_move_pct": 1.0, "window_bars": 60,
                       "volume_confirm_ratio": 3.0, "strong_volume_ratio": 10.0,
                       "revert_fraction": 0.75, "split_tolerance_pct": 3.0},
    "newest_bar_fresh": {"max_age_minutes": 5.0},
    "price_scale_plausible": {"max_ratio_to_history": 3.0, "history_max_age_days": 31,
                              "money_decimals": 4},
    "sources_agree": {"close_bps": 25.0, "volume_ratio_min": 0.4, "volume_ratio_max": 2.5},
    "volume_regime_stable": {"ratio": 10.0, "lookback_sessions": 10, "min_sessions": 5},
}
#: Checks whose failures are rows that exist (so can be moved to quarantine).
ROW_LEVEL_CHECKS = frozenset({SCHEMA_CHECK, "timestamps_in_session", "no_price_jumps",
                              "no_zero_volume_runs", "price_scale_plausible"})


class ContractError(ValueError):
    """A contract file is unreadable or inconsistent; the message names file, place, problem."""


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    name: str
    type: ColumnType
    required: bool = True
    nullable: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """A row-wise value rule belonging to a named check.

    ``greater_than``/``at_least``/``less_than``/``at_most``: every listed column compared with
    ``value``. ``ordered``: the listed columns are non-decreasing left to right on every row
    (``[low, open, high]`` means low <= open <= high).
    """

    check: str
    op: RuleOp
    columns: tuple[str, ...]
    value: float | None = None


@dataclass(frozen=True, slots=True)
class CheckSpec:
    name: str
    severity: Severity
    quarantine: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True, slots=True)
class FeatureColumns:
    """Columns not named in ``columns`` are features: float, finite after ``warmup_bars``."""

    type: ColumnType = "float"
    count: int | None = None
    warmup_bars: int = 0
    check: str = "features_finite_after_warmup"


@dataclass(frozen=True)
class Contract:
    """A parsed, validated contract. ``checks`` keeps the file's order (reports use it)."""

    name: str
    version: int
    table: str
    columns: tuple[ColumnSpec, ...]
    keys: tuple[str, ...]
    key_check: str
    checks: dict[str, CheckSpec]
    rules: tuple[Rule, ...] = ()
    extra_columns: bool = False
    quarantine_allowed: bool = False
    quarantine_table: str | None = None
    feature_columns: FeatureColumns | None = None
    description: str = ""
    origin: str = "<contract>"

    def check(self, name: str) -> CheckSpec | None:
        """The contract's settings for ``name``, or None if the contract does not run it."""
        return self.checks.get(name)

    def params(self, name: str) -> dict[str, Any]:
        """Tolerances for a behaviour check: code defaults overlaid with the contract's."""
        spec = self.checks.get(name)
        return {**BEHAVIOUR_CHECKS.get(name, {}), **(dict(spec.params) if spec else {})}

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)

    def rules_for(self, check: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.check == check)


def contract_path(name: str, directory: Path | None = None) -> Path:
    """Where the contract called ``name`` lives (``data_contracts/<name>.yaml`` by default)."""
    return (directory or CONTRACTS_DIR) / f"{name}.yaml"


def load_contract(source: str | Path) -> Contract:
    """Load a contract from a path, or by bare name from ``data_contracts/``."""
    path = Path(source)
    if isinstance(source, str) and path.suffix == "" and "/" not in source:
        path = contract_path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContractError(f"{path}: cannot read contract: {exc.strerror or exc}") from None
    return parse_contract(text, origin=str(path))


def parse_contract(text: str, origin: str = "<contract>") -> Contract:
    """Parse contract YAML; any problem raises ``ContractError`` naming ``origin``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContractError(f"{origin}: not valid YAML{where}: {problem}") from None
    from intraday_jules.quality._contract_schema import build_contract

    return build_contract(data, origin)
