"""Great Expectations 1.x suites built from a contract, run on a pandas frame.

The suite is derived, never written by hand: columns -> column set, types and not-null; keys ->
compound uniqueness; value rules -> between / column-pair expectations. Each expectation
carries ``meta={"check": <contract check name>}``, so its result folds back into the
``CheckResult`` of that check. Validation uses an ephemeral, in-memory context with progress
bars and analytics off (GX prints tqdm bars otherwise), and a whole-dataframe batch.

Not expressible in GX and left to the pandas checks: UTC-ness of ``ts`` (GX names tz-aware
columns only as ``Timestamp``), finite features after a per-session warm-up, and the
calendar and time-series checks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date
from typing import Any

import pandas as pd

from intraday_jules.domain.calendar import session_date_of
from intraday_jules.quality.contracts import COLUMN_TYPES, SCHEMA_CHECK, Contract, Rule
from intraday_jules.quality.results import CheckResult, Failure

#: Failures kept per check from GX's partial unexpected lists.
GX_EXAMPLES = 20


def _gx() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def _expectations_module() -> Any:
    """``great_expectations.expectations`` (typed Any: GX does not export these names)."""
    import importlib

    _gx()
    return importlib.import_module("great_expectations.expectations")


def build_suite(contract: Contract, columns: Iterable[str] | None = None,
                context: Any = None) -> Any:
    """The contract's ``ExpectationSuite``. ``columns`` (a frame's columns) decides which
    optional and feature columns it covers; without it, only declared required columns.
    GX binds a suite to the current data context, so one is made (ephemeral) if not given."""
    gx = _gx()
    context = context or _context()
    suite = context.suites.add(gx.ExpectationSuite(name=f"{contract.name}_v{contract.version}"))
    for expectation in _expectations(contract, list(columns) if columns is not None else None):
        suite.add_expectation(expectation)
    return suite


def _expectations(contract: Contract, columns: list[str] | None) -> list[Any]:
    gxe = _expectations_module()
    out: list[Any] = []
    if SCHEMA_CHECK in contract.checks:
        out += _schema_expectations(contract, columns)
    if contract.key_check in contract.checks:
        out.append(gxe.ExpectCompoundColumnsToBeUnique(
            column_list=list(contract.keys), meta={"check": contract.key_check}))
    for rule in contract.rules:
        out += _rule_expectations(rule)
    return out


def _schema_expectations(contract: Contract, columns: list[str] | None) -> list[Any]:
    gxe = _expectations_module()
    present = set(columns) if columns is not None else set()
    declared = [c for c in contract.columns if c.required or c.name in present]
    meta = {"check": SCHEMA_CHECK}
    names = [c.name for c in declared]
    features = [c for c in (columns or []) if c not in {d.name for d in contract.columns}]
    spec = contract.feature_columns
    out: list[Any] = [gxe.ExpectTableColumnsToMatchSet(
        column_set=names + (features if spec else []),
        exact_match=not (contract.extra_columns and spec is None), meta=meta)]
    if spec is not None and spec.count is not None:
        out.append(gxe.ExpectTableColumnCountToEqual(
            value=len([n for n in names if n in present]) + spec.count, meta=meta))
    for col in declared:
        out.append(gxe.ExpectColumnValuesToBeOfType(column=col.name,
                                                    type_=COLUMN_TYPES[col.type][0], meta=meta))
        if not col.nullable:
            out.append(gxe.ExpectColumnValuesToNotBeNull(column=col.name, meta=meta))
    out += [gxe.ExpectColumnValuesToBeOfType(column=f, type_="float64", meta=meta)
            for f in (features if spec else [])]
    return out


def _rule_expectations(rule: Rule) -> list[Any]:
    gxe = _expectations_module()
    meta = {"check": rule.check}
    if rule.op == "ordered":
        return [gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=b, column_B=a, or_equal=True,
                                                            meta=meta)
                for a, b in zip(rule.columns, rule.columns[1:], strict=False)]
    bounds: dict[str, Any] = {"greater_than": {"min_value": rule.value, "strict_min": True},
              "at_least": {"min_value": rule.value},
              "less_than": {"max_value": rule.value, "strict_max": True},
              "at_most": {"max_value": rule.value}}[rule.op]
    return [gxe.ExpectColumnValuesToBeBetween(column=c, meta=meta, **bounds)
            for c in rule.columns]


def _context() -> Any:
    gx = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(),
                               progress_bars=ProgressBarsConfig(globally=False),
                               analytics_enabled=False)
    return gx.get_context(mode="ephemeral", project_config=config)


def run_gx_suite(frame: pd.DataFrame, contract: Contract) -> list[CheckResult]:
    """Validate ``frame`` against the contract's suite; one CheckResult per check named in the
    suite. Returns [] when the key columns are missing (GX cannot locate failing rows then;
    the pandas schema check reports the missing columns)."""
    frame = frame.drop(columns=[c for c in ("_pos", "_session") if c in frame.columns])
    if any(k not in frame.columns for k in contract.keys):
        return []
    context = _context()
    suite = build_suite(contract, frame.columns, context)
    batch = (context.data_sources.add_pandas("quality").add_dataframe_asset("frame")
             .add_batch_definition_whole_dataframe("all")
             .get_batch(batch_parameters={"dataframe": frame}))
    result = batch.validate(suite, result_format={
        "result_format": "SUMMARY", "partial_unexpected_count": GX_EXAMPLES,
        "unexpected_index_column_names": list(contract.keys)})
    grouped: dict[str, list[Any]] = {}
    for item in result.results:
        grouped.setdefault(item.expectation_config.meta["check"], []).append(item)
    return [_to_check_result(name, items, contract) for name, items in grouped.items()]


def _to_check_result(name: str, items: list[Any], contract: Contract) -> CheckResult:
    failures: list[Failure] = []
    count = 0
    for item in items:
        if item.success:
            continue
        config, res = item.expectation_config, item.result or {}
        what = f"great_expectations {config.type}({_describe_kwargs(config.kwargs)})"
        raised = (item.exception_info or {}).get("exception_message")
        if raised:
            failures.append(Failure(None, None, None, f"{what} could not run: {raised}"))
            count += 1
            continue
        rows = res.get("partial_unexpected_index_list") or []
        count += int(res.get("unexpected_count") or 1)
        failures += [_row_failure(row, what) for row in rows] or [
            Failure(None, None, None, f"{what}: observed {res.get('observed_value')!r}")]
    rows_checked = max((int((i.result or {}).get("element_count") or 0) for i in items), default=0)
    spec = contract.checks[name]
    return CheckResult(name=name, severity=spec.severity, passed=count == 0,
                       rows_checked=rows_checked, failures=failures, failure_count=count,
                       stats={"expectations": len(items)})


def _describe_kwargs(kwargs: dict[str, Any]) -> str:
    keep = {k: v for k, v in kwargs.items() if k not in ("batch_id", "result_format")}
    return ", ".join(f"{k}={v}" for k, v in keep.items())


def _row_failure(row: dict[str, Any], what: str) -> Failure:
    ts = row.get("ts")
    stamp = pd.Timestamp(ts) if ts is not None and not pd.isna(ts) else None
    aware = stamp is not None and stamp.tzinfo is not None
    session: date | None = session_date_of(stamp.to_pydatetime()) if aware else None  # type: ignore[union-attr]
    values = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("symbol", "ts"))
    symbol = row.get("symbol")
    return Failure(None if symbol is None or pd.isna(symbol) else str(symbol), session,
                   stamp.to_pydatetime() if aware else None, f"{what}: {values}")  # type: ignore[union-attr]
