"""Pure checks, each a named property of a bars frame that holds when the check passes.

Every check is ``check(bars, ctx) -> CheckResult`` (``sources_agree`` also takes the second
source's bars). ``bars`` may be a plain frame or a ``PreparedBars``; nothing is assumed valid.
This module holds the checks derived from the contract itself (schema, keys, value rules,
finite features); the calendar and time-series checks live in ``calendar_checks``,
``series_checks`` and ``cross_source`` and are re-exported here, so
``from intraday_jules.quality.checks import no_missing_minutes`` works for all of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.quality.base import (
    NO_ROWS,
    BarsLike,
    CheckContext,
    make_result,
    not_evaluated,
    numeric_column,
    offending_frame,
    prepare_bars,
    row_failures,
    skipped_result,
)
from intraday_jules.quality.calendar_checks import (
    newest_bar_fresh,
    no_missing_minutes,
    no_missing_sessions,
    timestamps_in_session,
)
from intraday_jules.quality.contracts import COLUMN_TYPES, SCHEMA_CHECK, Contract, Rule
from intraday_jules.quality.cross_source import sources_agree
from intraday_jules.quality.results import CheckResult, Failure
from intraday_jules.quality.scale_checks import judge_sessions
from intraday_jules.quality.series_checks import (
    no_price_jumps,
    no_zero_volume_runs,
    volume_regime_stable,
)
from intraday_jules.quality.volume_checks import zero_volume_share_low

__all__ = [
    "contract_schema_valid", "features_finite_after_warmup", "keys_unique", "newest_bar_fresh",
    "no_missing_minutes", "no_missing_sessions", "no_price_jumps", "no_zero_volume_runs",
    "ohlc_consistent", "price_scale_plausible", "rules_hold", "sources_agree",
    "timestamps_in_session", "timestamps_unique", "volume_nonnegative", "volume_regime_stable",
    "zero_volume_share_low",
]
_INTERNAL = ("_pos", "_session")


def data_columns(frame: pd.DataFrame) -> list[str]:
    return [str(c) for c in frame.columns if c not in _INTERNAL]


def feature_columns(frame: pd.DataFrame, contract: Contract) -> list[str]:
    """Columns the contract does not name: the feature columns of a features table."""
    declared = {c.name for c in contract.columns}
    return [c for c in data_columns(frame) if c not in declared]


def contract_schema_valid(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """Required columns present, no unknown ones, declared types, no nulls where not allowed.

    Rows with nulls are offending (quarantinable when the contract says so); a missing column
    or a wrong dtype is a frame-level failure (no ts), which no quarantine can fix. A frame
    of 0 rows with the right columns is skipped: it has no values to judge.
    """
    prepared = prepare_bars(bars)
    frame = prepared.frame
    columns = [Failure(None, None, None, d) for d in _column_problems(frame, ctx.contract)]
    if prepared.rows == 0 and not columns:
        return skipped_result(SCHEMA_CHECK, ctx, f"{NO_ROWS} (the columns and dtypes match"
                                                 " the contract)")
    index, details = _null_rows(frame, ctx.contract)
    offending = offending_frame(frame, index, details, ctx.spec(SCHEMA_CHECK).quarantine)
    return make_result(SCHEMA_CHECK, ctx, prepared.rows,
                       columns + row_failures(frame, index, details),
                       failure_count=len(columns) + len(index), offending=offending)


def _column_problems(frame: pd.DataFrame, contract: Contract) -> list[str]:
    present = set(data_columns(frame))
    problems = [f"required column {c.name!r} is missing" for c in contract.columns
                if c.required and c.name not in present]
    extra = feature_columns(frame, contract)
    spec = contract.feature_columns
    if spec is not None:
        if spec.count is not None and len(extra) != spec.count:
            problems.append(f"expected {spec.count} feature columns, found {len(extra)}: {extra}")
        problems += [f"feature column {c!r} has dtype {frame[c].dtype}, expected float64"
                     for c in extra if str(frame[c].dtype) != "float64"]
    elif extra and not contract.extra_columns:
        problems.append(f"unexpected column(s) {extra}; the contract allows only"
                        f" {[c.name for c in contract.columns]}")
    for col in contract.columns:
        if col.name in present:
            problem = _type_problem(frame[col.name], col.type)
            if problem:
                problems.append(f"column {col.name!r} {problem}")
    return problems


def _type_problem(series: pd.Series, kind: str) -> str | None:
    dtype = series.dtype
    if kind == "timestamp_utc":
        if not isinstance(dtype, pd.DatetimeTZDtype):
            return f"has dtype {dtype}, expected tz-aware UTC timestamps"
        return None if str(dtype.tz) == "UTC" else f"is in time zone {dtype.tz}, expected UTC"
    if kind == "string":
        if str(dtype) not in COLUMN_TYPES["string"]:
            return f"has dtype {dtype}, expected strings"
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        return None if inferred in ("string", "empty") else f"holds {inferred} values, not strings"
    expected = COLUMN_TYPES[kind][0]
    return None if str(dtype) == expected else f"has dtype {dtype}, expected {expected}"


def _null_rows(frame: pd.DataFrame, contract: Contract) -> tuple[np.ndarray[Any, Any], list[str]]:
    required = [c.name for c in contract.columns if not c.nullable and c.name in frame.columns]
    if not required or frame.empty:
        return np.array([], dtype=np.int64), []
    nulls = frame[required].isna().to_numpy()
    index = np.flatnonzero(nulls.any(axis=1))
    details = [f"null in column(s) {', '.join(np.array(required)[nulls[i]])}" for i in index]
    return index, details


def keys_unique(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """Each key (e.g. (symbol, ts)) occurs once. The first row of a key is kept; each later
    row with the same key is a failure (and is what quarantine moves aside)."""
    name, keys = ctx.contract.key_check, list(ctx.contract.keys)
    prepared = prepare_bars(bars)
    frame = prepared.frame
    if prepared.rows == 0:
        return skipped_result(name, ctx, NO_ROWS)
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        return not_evaluated(name, ctx, f"key column(s) {missing} missing", prepared.rows)
    extra = frame.duplicated(keys, keep="first").to_numpy()
    index = np.flatnonzero(extra)
    sizes = frame.groupby(keys, dropna=False, sort=False)[keys[0]].transform("size").to_numpy()
    details = [f"duplicate ({', '.join(keys)}): {sizes[i]} rows share this key;"
               " only the first is kept" for i in index]
    return make_result(name, ctx, prepared.rows, row_failures(frame, index, details),
                       failure_count=len(index),
                       offending=offending_frame(frame, index, details, ctx.spec(name).quarantine))


def timestamps_unique(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """(symbol, ts) occurs once: the market-data contract's key check."""
    return keys_unique(bars, ctx)


def rules_hold(bars: BarsLike, ctx: CheckContext, check: str) -> CheckResult:
    """Every contract rule belonging to ``check`` holds on every row (NaN never holds)."""
    prepared = prepare_bars(bars)
    frame = prepared.frame
    if prepared.rows == 0:
        return skipped_result(check, ctx, NO_ROWS)
    rules = ctx.contract.rules_for(check)
    missing = sorted({c for r in rules for c in r.columns} - set(frame.columns))
    if missing:
        return not_evaluated(check, ctx, f"column(s) {missing} missing", prepared.rows)
    bad = np.zeros(prepared.rows, dtype=bool)
    reasons: dict[int, str] = {}
    for rule in rules:
        for mask, describe in _rule_violations(frame, rule):
            new = np.flatnonzero(mask & ~bad)
            reasons.update(zip(new.tolist(), describe(new), strict=True))
            bad |= mask
    index = np.flatnonzero(bad)
    details = [reasons[i] for i in index.tolist()]
    return make_result(check, ctx, prepared.rows, row_failures(frame, index, details),
                       failure_count=len(index),
                       offending=offending_frame(frame, index, details, ctx.spec(check).quarantine))



def _rule_violations(frame: pd.DataFrame, rule: Rule) -> list[tuple[Any, Any]]:
    """(row mask, index -> details) per comparison the rule makes."""
    out: list[tuple[Any, Any]] = []
    if rule.op == "ordered":
        for a, b in zip(rule.columns, rule.columns[1:], strict=False):
            xa, xb = numeric_column(frame, a), numeric_column(frame, b)
            out.append((~(xa <= xb), lambda idx, a=a, b=b, xa=xa, xb=xb: [
                f"{a} {xa[i]:g} > {b} {xb[i]:g}" if np.isfinite(xa[i] + xb[i])
                else f"{a} {xa[i]:g} / {b} {xb[i]:g}: not comparable (NaN)" for i in idx]))
        return out
    ops = {"greater_than": (np.greater, ">"), "at_least": (np.greater_equal, ">="),
           "less_than": (np.less, "<"), "at_most": (np.less_equal, "<=")}
    func, symbol = ops[rule.op]
    bound = float(rule.value if rule.value is not None else np.nan)
    for col in rule.columns:
        x = numeric_column(frame, col)
        with np.errstate(invalid="ignore"):
            ok = func(x, bound)
        out.append((~ok, lambda idx, col=col, x=x, symbol=symbol: [
            f"{col} = {x[i]:g}, must be {symbol} {bound:g}" for i in idx]))
    return out


def ohlc_consistent(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """Prices > 0 and low <= open, close <= high (the contract's ``ohlc_consistent`` rules)."""
    return rules_hold(bars, ctx, "ohlc_consistent")


def volume_nonnegative(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """Volume >= 0 (the contract's ``volume_nonnegative`` rule)."""
    return rules_hold(bars, ctx, "volume_nonnegative")


def price_scale_plausible(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """Prices are physically plausible and on the symbol's recent scale.

    Row by row: the contract's ``price_scale_plausible`` rules (finite, at least $0.0001, at
    most $10,000,000: also run by GX) and every price a whole number of ``money_decimals``
    places (exactly representable as ``Money``). Session by session: the median close within
    ``max_ratio_to_history`` either way of the last stored close (``ctx.price_history``), see
    ``quality.scale_checks``. Offending rows are quarantinable when the contract says so: the
    rows of an implausible session are set aside, never stored.
    """
    name = "price_scale_plausible"
    prepared = prepare_bars(bars)
    frame = prepared.frame
    bounds = rules_hold(prepared, ctx, name)
    if bounds.skipped or (bounds.failures and
                          bounds.failures[0].detail.startswith("not evaluated")):
        return bounds
    p = ctx.contract.params(name)
    bad = np.zeros(prepared.rows, dtype=bool)
    reasons: dict[int, str] = {}
    positions = {int(pos): i for i, pos in enumerate(frame["_pos"].to_numpy())}
    for pos, detail in zip(bounds.offending["position"].tolist(),
                           bounds.offending["detail"].tolist(), strict=True):
        i = positions[int(pos)]
        bad[i] = True
        reasons.setdefault(i, detail)
    scale = 10.0 ** int(p["money_decimals"])
    for col in ("open", "high", "low", "close"):
        price = numeric_column(frame, col)
        with np.errstate(invalid="ignore", over="ignore"):
            units = price * scale
            off = np.isfinite(units) & (np.abs(units - np.rint(units)) > 1e-3) & ~bad
        for i in np.flatnonzero(off).tolist():
            reasons[i] = (f"{col} = {float(price[i])!r} is not a whole number of"
                          f" {1 / scale:g} dollars (not exact money)")
        bad |= off
    notes: list[str] = []
    stats: dict[str, Any] = {}
    session_rows = np.zeros(0, np.int64)
    session_movable = np.zeros(0, dtype=bool)
    session_details: list[str] = []
    session_failures: list[Failure] = []
    if prepared.problem is None:
        verdict = judge_sessions(prepared, ctx, ~bad, p)
        session_rows, session_details = verdict.index, verdict.details
        session_movable = verdict.quarantinable
        session_failures, notes = verdict.failures, verdict.notes
        stats["references"] = verdict.references
        if verdict.unjudged:  # the history part could not judge these (see the note)
            stats["history_skipped"] = {
                "symbols": list(verdict.unjudged),
                "reason": "no stored price history and fewer than two sessions in the frame"}
    else:
        notes.append(f"history comparison not evaluated: {prepared.problem}")
    row_index = np.flatnonzero(bad)
    row_details = [reasons[i] for i in row_index.tolist()]
    index = np.concatenate([row_index, session_rows]).astype(np.int64)
    details = row_details + session_details
    failures = row_failures(frame, row_index, row_details) + session_failures
    quarantine = ctx.spec(name).quarantine
    movable = np.r_[np.full(len(row_index), quarantine), session_movable & quarantine]
    return make_result(name, ctx, prepared.rows, failures, failure_count=len(index),
                       note="; ".join(notes), stats=stats,
                       offending=offending_frame(frame, index, details, movable))


def features_finite_after_warmup(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """Every feature is finite once the first ``warmup_bars`` bars of a session are past."""
    spec = ctx.contract.feature_columns
    name = spec.check if spec else "features_finite_after_warmup"
    prepared = prepare_bars(bars)
    frame = prepared.frame
    if spec is not None and prepared.rows == 0:
        return skipped_result(name, ctx, NO_ROWS)
    if spec is None or prepared.problem is not None:
        reason = "the contract declares no feature_columns" if spec is None else prepared.problem
        return not_evaluated(name, ctx, str(reason), prepared.rows)
    features = feature_columns(frame, ctx.contract)
    groups = [k for k in ctx.contract.keys if k != "ts"] + ["_session"]
    bar_no = frame.groupby(groups, dropna=False, sort=False).cumcount().to_numpy()
    values = frame[features].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad_cells = ~np.isfinite(values) & (bar_no >= spec.warmup_bars)[:, None]
    index = np.flatnonzero(bad_cells.any(axis=1))
    names = np.array(features)
    details = [f"non-finite {', '.join(names[bad_cells[i]])} at bar {bar_no[i] + 1} of the"
               f" session (warm-up is {spec.warmup_bars} bars)" for i in index]
    return make_result(name, ctx, prepared.rows, row_failures(frame, index, details),
                       failure_count=len(index),
                       offending=offending_frame(frame, index, details, False))
