"""The one entry point for data quality: ``run_quality_checks`` (asset checks and the CLI).

It runs every check the contract declares, in the contract's order, on one prepared frame,
then folds in the Great Expectations results of the same contract (a contract-derived check
passes only if both executors agree it holds). A check that crashes on unexpected input is
reported as failed ("not evaluated: ..."), never silently skipped: a property nobody verified
does not hold. A check with nothing to judge (0 rows, too few sessions, no second source) is
``skipped`` with its reason (``CheckResult.skipped_reason``) and never blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from intraday_jules.quality import checks as C
from intraday_jules.quality.base import (
    CheckContext,
    PreparedBars,
    PriceReference,
    not_evaluated,
    prepare_bars,
)
from intraday_jules.quality.contracts import SCHEMA_CHECK, Contract, load_contract
from intraday_jules.quality.gx import run_gx_suite
from intraday_jules.quality.quarantine import QuarantineSplit, split_quarantine
from intraday_jules.quality.results import CheckResult, QualityReport

log = logging.getLogger(__name__)
ContractLike = Contract | str | Path
CheckFn = Callable[[PreparedBars, CheckContext], CheckResult]

#: Checks implemented in code, by the name a contract uses for them.
BEHAVIOUR: dict[str, CheckFn] = {
    SCHEMA_CHECK: C.contract_schema_valid,
    "timestamps_in_session": C.timestamps_in_session,
    "no_missing_minutes": C.no_missing_minutes,
    "no_missing_sessions": C.no_missing_sessions,
    "no_zero_volume_runs": C.no_zero_volume_runs,
    "zero_volume_share_low": C.zero_volume_share_low,
    "no_price_jumps": C.no_price_jumps,
    "price_scale_plausible": C.price_scale_plausible,
    "newest_bar_fresh": C.newest_bar_fresh,
    "volume_regime_stable": C.volume_regime_stable,
}


def resolve_contract(contract: ContractLike) -> Contract:
    """A Contract as given, or loaded from a path or a bare name in ``data_contracts/``."""
    return contract if isinstance(contract, Contract) else load_contract(contract)


def run_quality_checks(
    bars: pd.DataFrame,
    *,
    symbols: Iterable[str],
    sessions: Iterable[date],
    extended_hours: bool,
    contract: ContractLike,
    now: datetime | None = None,
    other_source_bars: pd.DataFrame | None = None,
    bar_minutes: int | None = None,
    use_gx: bool = True,
    price_history: Mapping[str, PriceReference] | None = None,
) -> QualityReport:
    """Run the contract's checks on ``bars`` for the requested symbols and sessions.

    ``now`` (tz-aware) enables the staleness check and limits expected bars to those already
    ended; ``other_source_bars`` enables cross-vendor agreement; ``bar_minutes`` (default:
    inferred) is the bar interval; ``price_history`` (symbol -> last stored close before the
    checked sessions) is the reference of ``price_scale_plausible``.
    ``report.blocking_failed`` is True when an ERROR check failed. Offending-row positions in
    the results refer to ``bars`` as passed in.
    """
    resolved = resolve_contract(contract)
    ctx = CheckContext(resolved, tuple(symbols), tuple(sorted(set(sessions))), extended_hours,
                       now, bar_minutes, price_history)
    prepared = prepare_bars(bars)
    results = [_run_one(name, prepared, ctx, other_source_bars) for name in resolved.checks]
    if use_gx:
        results = merge_gx(results, _gx_results(bars, resolved))
    return QualityReport(contract=resolved.name, checks=results, rows=len(bars),
                         symbols=ctx.symbols, sessions=ctx.sessions,
                         extended_hours=extended_hours, checked_at=now or datetime.now(UTC))


def run_with_quarantine(bars: pd.DataFrame, *, contract: ContractLike,
                        **kwargs: Any) -> tuple[QualityReport, QuarantineSplit]:
    """Check, move quarantinable bad rows aside (when the contract allows), check again.

    Takes ``run_quality_checks``' arguments. Returns the report on the clean rows (what gates
    downstream assets) and the split; write ``split.quarantined`` with ``write_quarantine``.
    """
    resolved = resolve_contract(contract)
    first = run_quality_checks(bars, contract=resolved, **kwargs)
    split = split_quarantine(bars, first, resolved)
    if split.quarantined.empty:
        return first, split
    second = run_quality_checks(split.clean, contract=resolved, **kwargs)
    return _with_quarantine_notes(second, first, split), split


def _with_quarantine_notes(report: QualityReport, first: QualityReport,
                           split: QuarantineSplit) -> QualityReport:
    """Say, on each check that set rows aside, how many and why (the re-check on the clean
    rows passes for them, so without this the report would not show what was refused). A
    check whose quarantine emptied a whole (symbol, session) did not repair it: it keeps its
    first-run failures and stays failed (e.g. a session at x1000 scale)."""
    counts = split.quarantined.groupby("check_name", sort=False)["reason"].agg(["size", "first"])
    emptied = _emptied_sessions(split)
    checks = []
    for check in report.checks:
        if check.name not in counts.index:
            checks.append(check)
            continue
        n, reason = int(counts["size"][check.name]), str(counts["first"][check.name])
        said = f"{n} row(s) quarantined (not stored), e.g. {reason}"
        check = replace(check, note="; ".join(x for x in (said, check.note) if x),
                        stats={**check.stats, "quarantined": n})
        if check.name in emptied:
            before = first.result(check.name)
            check = replace(check, passed=False, skipped_reason="", failures=before.failures,
                            worst=before.worst, failure_count=before.failure_count)
        checks.append(check)
    return replace(report, checks=checks)


def _emptied_sessions(split: QuarantineSplit) -> set[str]:
    """Checks that quarantined every row of some (symbol, session)."""
    q = split.quarantined
    if q.empty or "symbol" not in q or not isinstance(q["ts"].dtype, pd.DatetimeTZDtype):
        return set()
    day = q["ts"].dt.tz_convert("America/New_York").dt.date
    out = set()
    clean = split.clean
    have: set[tuple[Any, Any]] = set()
    if not clean.empty and isinstance(clean["ts"].dtype, pd.DatetimeTZDtype):
        have = set(zip(clean["symbol"], clean["ts"].dt.tz_convert("America/New_York").dt.date,
                       strict=True))
    keys = zip(q["check_name"], q["symbol"], day, strict=True)
    for check, symbol, d in set(keys):
        if (symbol, d) not in have:
            out.add(str(check))
    return out


def _run_one(name: str, prepared: PreparedBars, ctx: CheckContext,
             other: pd.DataFrame | None) -> CheckResult:
    features = ctx.contract.feature_columns
    try:
        if name == "sources_agree":
            return C.sources_agree(prepared, other, ctx)
        if name in BEHAVIOUR:
            return BEHAVIOUR[name](prepared, ctx)
        if name == ctx.contract.key_check:
            return C.keys_unique(prepared, ctx)
        if features is not None and name == features.check:
            return C.features_finite_after_warmup(prepared, ctx)
        return C.rules_hold(prepared, ctx, name)
    except Exception as exc:  # a crash must fail the check, not the whole report
        log.exception("quality check %s crashed", name)
        return not_evaluated(name, ctx, f"check crashed: {type(exc).__name__}: {exc}",
                             prepared.rows)


def _gx_results(bars: pd.DataFrame, contract: Contract) -> list[CheckResult]:
    try:
        return run_gx_suite(bars, contract)
    except Exception as exc:  # GX failing to run is reported on the schema check
        log.exception("great_expectations suite for %s crashed", contract.name)
        ctx = CheckContext(contract)
        return [not_evaluated(SCHEMA_CHECK, ctx, f"great_expectations crashed: {exc}")]


def merge_gx(results: list[CheckResult], gx_results: list[CheckResult]) -> list[CheckResult]:
    """Fold GX results into the same-named pandas results: pass only if both pass; GX's
    failures are added when it alone found a problem; ``stats['great_expectations']`` records
    what GX said either way."""
    by_name = {r.name: r for r in gx_results}
    merged = []
    for result in results:
        other = by_name.get(result.name)
        if other is None:
            merged.append(result)
            continue
        only_gx = result.passed and not other.passed
        stats = {**result.stats, "great_expectations": {
            "passed": other.passed, "unexpected": other.failure_count,
            "expectations": other.stats.get("expectations")}}
        merged.append(replace(
            result, passed=result.passed and other.passed, stats=stats,
            skipped_reason=result.skipped_reason if other.passed else "",
            failures=result.failures + (other.failures if only_gx else []),
            failure_count=result.failure_count + (other.failure_count if only_gx else 0)))
    return merged
