"""Turn a contract's parsed YAML into a ``Contract``, refusing anything it does not understand.

Every error names the file and the dotted place in it (``checks.no_price_jumps.params.sigma``),
so a typo in a tolerance fails loudly instead of silently falling back to a default.
"""

from __future__ import annotations

from typing import Any

from intraday_jules.quality.contracts import (
    BEHAVIOUR_CHECKS,
    COLUMN_TYPES,
    ROW_LEVEL_CHECKS,
    RULE_OPS,
    CheckSpec,
    ColumnSpec,
    Contract,
    ContractError,
    FeatureColumns,
    Rule,
    RuleOp,
)
from intraday_jules.quality.results import Severity

_TOP_KEYS = {"contract", "version", "table", "description", "columns", "extra_columns", "keys",
             "rules", "checks", "quarantine", "feature_columns"}


class _Where:
    """Carries the origin for error messages."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, place: str, problem: str) -> ContractError:
        return ContractError(f"{self.origin}: {place}: {problem}")

    def mapping(self, value: Any, place: str, allowed: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(place, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(set(map(str, value)) - allowed) if allowed is not None else []
        if unknown:
            raise self.fail(place, f"unknown key(s) {unknown}; allowed: {sorted(allowed or [])}")
        return value

    def names(self, value: Any, place: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail(place, f"expected a non-empty list of column names, got {value!r}")
        return tuple(value)


def build_contract(data: Any, origin: str) -> Contract:
    w = _Where(origin)
    top = w.mapping(data, "top level", _TOP_KEYS)
    for key in ("contract", "table", "columns", "keys", "checks"):
        if key not in top:
            raise w.fail("top level", f"missing required key {key!r}")
    columns = _columns(w, top["columns"])
    column_names = {c.name for c in columns}
    keys = w.mapping(top["keys"], "keys", {"columns", "check"})
    key_columns = w.names(keys.get("columns"), "keys.columns")
    _known_columns(w, key_columns, column_names, "keys.columns")
    key_check = str(keys.get("check", "keys_unique"))
    rules = _rules(w, top.get("rules", []), column_names)
    features = _features(w, top.get("feature_columns"))
    quarantine = w.mapping(top.get("quarantine", {}), "quarantine", {"allowed", "table"})
    allowed = bool(quarantine.get("allowed", False))
    derived = {key_check, *(r.check for r in rules), *([features.check] if features else [])}
    checks = _checks(w, top["checks"], derived, allowed)
    undeclared = sorted(derived - set(checks))
    if undeclared:
        raise w.fail("checks", f"no severity declared for check(s) {undeclared} used by keys,"
                               " rules or feature_columns")
    return Contract(
        name=str(top["contract"]), version=int(top.get("version", 1)), table=str(top["table"]),
        columns=columns, keys=key_columns, key_check=key_check, checks=checks, rules=rules,
        extra_columns=bool(top.get("extra_columns", False)), quarantine_allowed=allowed,
        quarantine_table=quarantine.get("table"), feature_columns=features,
        description=str(top.get("description", "")).strip(), origin=origin,
    )


def _columns(w: _Where, raw: Any) -> tuple[ColumnSpec, ...]:
    specs = []
    for name, value in w.mapping(raw, "columns").items():
        place = f"columns.{name}"
        col = w.mapping(value, place, {"type", "required", "nullable", "description"})
        kind = col.get("type")
        if kind not in COLUMN_TYPES:
            raise w.fail(f"{place}.type", f"unknown type {kind!r}; known: {list(COLUMN_TYPES)}")
        specs.append(ColumnSpec(str(name), kind, bool(col.get("required", True)),
                                bool(col.get("nullable", False)), str(col.get("description", ""))))
    if not specs:
        raise w.fail("columns", "a contract needs at least one column")
    return tuple(specs)


def _known_columns(w: _Where, names: tuple[str, ...], known: set[str], place: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise w.fail(place, f"column(s) {unknown} are not declared under columns")


def _rules(w: _Where, raw: Any, columns: set[str]) -> tuple[Rule, ...]:
    if not isinstance(raw, list):
        raise w.fail("rules", f"expected a list of rules, got {type(raw).__name__}")
    rules = []
    for i, value in enumerate(raw):
        place = f"rules[{i}]"
        item = w.mapping(value, place, {"check", "columns", *RULE_OPS})
        ops = [op for op in RULE_OPS if op in item]
        if len(ops) != 1 or "check" not in item:
            raise w.fail(place, f"a rule needs 'check' and exactly one of {list(RULE_OPS)}")
        op: RuleOp = ops[0]  # type: ignore[assignment]  # one of RULE_OPS, checked above
        if op == "ordered":
            cols, value_ = w.names(item["ordered"], f"{place}.ordered"), None
            if len(cols) < 2:
                raise w.fail(f"{place}.ordered", "needs at least two columns")
        else:
            cols = w.names(item.get("columns"), f"{place}.columns")
            value_ = item[op]
            if isinstance(value_, bool) or not isinstance(value_, int | float):
                raise w.fail(f"{place}.{op}", f"expected a number, got {value_!r}")
        _known_columns(w, cols, columns, place)
        rules.append(Rule(str(item["check"]), op, cols, None if value_ is None else float(value_)))
    return tuple(rules)


def _features(w: _Where, raw: Any) -> FeatureColumns | None:
    if raw is None:
        return None
    item = w.mapping(raw, "feature_columns", {"type", "count", "warmup_bars", "check"})
    if item.get("type", "float") != "float":
        raise w.fail("feature_columns.type", "feature columns must be float")
    for key in ("count", "warmup_bars"):
        value = item.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise w.fail(f"feature_columns.{key}", f"expected an integer >= 0, got {value!r}")
    return FeatureColumns("float", item.get("count"), int(item.get("warmup_bars") or 0),
                          str(item.get("check", "features_finite_after_warmup")))


def _checks(w: _Where, raw: Any, derived: set[str], allowed: bool) -> dict[str, CheckSpec]:
    out: dict[str, CheckSpec] = {}
    for name, value in w.mapping(raw, "checks").items():
        place = f"checks.{name}"
        item = {"severity": value} if isinstance(value, str) else value
        item = w.mapping(item, place, {"severity", "quarantine", "params", "description"})
        severity = str(item.get("severity", "")).upper()
        if severity not in Severity.__members__:
            raise w.fail(f"{place}.severity",
                         f"expected ERROR or WARN, got {item.get('severity')!r}")
        if name not in BEHAVIOUR_CHECKS and name not in derived:
            raise w.fail(place, f"unknown check; known checks: {sorted(BEHAVIOUR_CHECKS)}"
                                " plus those named by keys, rules and feature_columns")
        quarantine = bool(item.get("quarantine", False))
        if quarantine and not allowed:
            raise w.fail(f"{place}.quarantine", "quarantine.allowed is false for this contract")
        if quarantine and name in BEHAVIOUR_CHECKS and name not in ROW_LEVEL_CHECKS:
            raise w.fail(f"{place}.quarantine", "this check finds absent or aggregate problems;"
                                                " it has no rows to quarantine")
        params = _params(w, name, item.get("params", {}), f"{place}.params")
        out[str(name)] = CheckSpec(str(name), Severity(severity), quarantine, params,
                                   str(item.get("description", "")).strip())
    return out


def _params(w: _Where, check: str, raw: Any, place: str) -> dict[str, Any]:
    defaults = BEHAVIOUR_CHECKS.get(check, {})
    params = w.mapping(raw, place, set(defaults))
    for key, value in params.items():
        expected = type(defaults[key])
        ok = not isinstance(value, bool) and (
            isinstance(value, int) if expected is int else isinstance(value, int | float))
        if not ok or value < 0:
            kind = "an integer" if expected is int else "a number"
            raise w.fail(f"{place}.{key}", f"expected {kind} >= 0, got {value!r}")
    return dict(params)
