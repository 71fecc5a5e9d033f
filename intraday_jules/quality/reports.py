"""Quality reports in ``data_quality_reports`` (one row per partition and check), read back as
``QualityReport``; the CLI's JSON shape; Markdown and PNG rendering (from ``rendering``).

A stored row keeps severity, pass/fail, the failure count, rows checked, and a JSON ``detail``
with the first failures, the worst examples, the note, the stats the PNG is drawn from and the
status (``passed``/``failed``/``skipped``, with ``skipped_reason``; ``passed`` is true for a
skipped check), so the latest report renders in the Dagster UI without re-running anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from intraday_jules.quality.rendering import report_markdown, report_png
from intraday_jules.quality.results import CheckResult, Failure, QualityReport, Severity
from intraday_jules.quality.tables import data_quality_reports

__all__ = [
    "BARS_ASSET_KEY", "blocking_reason", "combine_reports", "load_latest_report",
    "load_latest_reports", "report_markdown", "report_png", "report_to_json", "store_report",
]

BARS_ASSET_KEY = "market_data/bars"
#: Failures stored per check (the count column keeps the true total).
STORED_FAILURES = 50


def _single(values: tuple[Any, ...]) -> Any:
    return values[0] if len(values) == 1 else None


def store_report(engine: Engine, report: QualityReport, *, partition_key: str | None,
                 asset_key: str = BARS_ASSET_KEY, run_id: str | None = None,
                 checked_at: datetime | None = None) -> int:
    """Insert one row per check of ``report`` (one transaction); returns rows written."""
    at = checked_at or report.checked_at or datetime.now(UTC)
    header = {"contract": report.contract, "rows": report.rows, "symbols": list(report.symbols),
              "sessions": [d.isoformat() for d in report.sessions],
              "extended_hours": report.extended_hours}
    if report.skipped:
        header["skipped"] = _json_safe(report.skipped)
    rows = [{
        "checked_at": at, "asset_key": asset_key, "partition_key": partition_key,
        "symbol": _single(report.symbols), "session": _single(report.sessions),
        "check_name": c.name, "severity": str(c.severity), "passed": c.passed,
        "failures": c.failure_count, "rows_checked": c.rows_checked, "run_id": run_id,
        "detail": _detail(c, header),
    } for c in report.checks]
    if rows:
        with engine.begin() as conn:
            conn.execute(sa.insert(data_quality_reports), rows)
    return len(rows)


def _detail(check: CheckResult, header: dict[str, Any]) -> dict[str, Any]:
    return {"failures": [f.to_dict() for f in check.failures[:STORED_FAILURES]],
            "worst": [f.to_dict() for f in check.worst], "note": check.note,
            "stats": _json_safe(check.stats), "report": header,
            "status": str(check.status), "skipped_reason": check.skipped_reason or None}


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def load_latest_report(engine: Engine, *, partition_key: str | None,
                       asset_key: str = BARS_ASSET_KEY) -> QualityReport | None:
    """The newest stored result of every check for one partition, as a report (None if the
    partition was never checked). Checks stored at different times each keep their latest."""
    table = data_quality_reports
    where = sa.and_(table.c.asset_key == asset_key, table.c.partition_key == partition_key
                    if partition_key is not None else table.c.partition_key.is_(None))
    latest = (sa.select(table.c.check_name, sa.func.max(table.c.checked_at).label("at"))
              .where(where).group_by(table.c.check_name).subquery())
    query = (sa.select(table).join(latest, sa.and_(table.c.check_name == latest.c.check_name,
                                                   table.c.checked_at == latest.c.at))
             .where(where).order_by(table.c.id))
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    if not rows:
        return None
    by_check = {r["check_name"]: r for r in rows}  # same instant twice: the later id wins
    return _report_from_rows(list(by_check.values()))


def load_latest_reports(engine: Engine, partition_keys: Iterable[str],
                        asset_key: str = BARS_ASSET_KEY) -> dict[str, QualityReport]:
    """Latest report per partition for a range of partitions (absent ones are left out)."""
    out = {}
    for key in partition_keys:
        report = load_latest_report(engine, partition_key=key, asset_key=asset_key)
        if report is not None:
            out[key] = report
    return out


def _report_from_rows(rows: list[dict[str, Any]]) -> QualityReport:
    rows.sort(key=lambda r: r["id"])
    header = (rows[0]["detail"] or {}).get("report", {})
    checks = [CheckResult(
        name=r["check_name"], severity=Severity(r["severity"]), passed=bool(r["passed"]),
        rows_checked=int(r["rows_checked"]), failure_count=int(r["failures"]),
        failures=[Failure.from_dict(f) for f in (r["detail"] or {}).get("failures", [])],
        worst=[Failure.from_dict(f) for f in (r["detail"] or {}).get("worst", [])],
        note=(r["detail"] or {}).get("note", ""), stats=(r["detail"] or {}).get("stats", {}),
        skipped_reason=(r["detail"] or {}).get("skipped_reason") or "",
    ) for r in rows]
    return QualityReport(
        contract=header.get("contract", ""), checks=checks, rows=int(header.get("rows", 0)),
        symbols=tuple(header.get("symbols", ())),
        sessions=tuple(date.fromisoformat(d) for d in header.get("sessions", ())),
        extended_hours=bool(header.get("extended_hours", False)),
        checked_at=max(r["checked_at"] for r in rows), skipped=dict(header.get("skipped") or {}))


def report_to_json(report: QualityReport, max_failures: int = 50) -> dict[str, Any]:
    """The CLI's ``--json`` object, exactly ``{"checks": [{"name", "severity", "passed",
    "status", "skipped_reason", "failures": [{"symbol", "session", "ts" (if any),
    "detail"}]}]}``; at most ``max_failures`` failures per check (the first, in time order
    within each kind). ``status`` is ``passed``, ``failed`` or ``skipped`` (the check could not
    judge; ``skipped_reason`` says why, null otherwise); ``passed`` is true for a skipped check,
    as before ``status`` was added."""
    return {"checks": [{
        "name": c.name, "severity": str(c.severity), "passed": c.passed,
        "status": str(c.status), "skipped_reason": c.skipped_reason or None,
        "failures": [f.to_dict() for f in c.failures[:max_failures]],
    } for c in report.checks]}


def combine_reports(reports: Iterable[QualityReport]) -> QualityReport:
    """One report over several partitions (e.g. every symbol of a session): per check name,
    passed only if passed everywhere, failures and counts summed, per-symbol stats merged."""
    items = list(reports)
    if not items:
        raise ValueError("combine_reports needs at least one report")
    merged: dict[str, CheckResult] = {}
    for report in items:
        for check in report.checks:
            merged[check.name] = check if check.name not in merged else _merge_check(
                merged[check.name], check)
    first = items[0]
    return QualityReport(
        contract=first.contract, checks=list(merged.values()),
        rows=sum(r.rows for r in items),
        symbols=tuple(dict.fromkeys(s for r in items for s in r.symbols)),
        sessions=tuple(sorted({d for r in items for d in r.sessions})),
        extended_hours=first.extended_hours,
        checked_at=max((r.checked_at for r in items if r.checked_at), default=None))


def _merge_check(a: CheckResult, b: CheckResult) -> CheckResult:
    """Skipped only if skipped everywhere; where other partitions judged the check, the note
    gives the reason of those that skipped."""
    stats: dict[str, Any] = dict(a.stats)
    for key, value in b.stats.items():
        if isinstance(value, dict) and isinstance(stats.get(key), dict):
            stats[key] = {**stats[key], **value}
        elif isinstance(value, list) and isinstance(stats.get(key), list):
            stats[key] = sorted(set(stats[key]) | set(value))
        else:
            stats.setdefault(key, value)
    skipped_notes = [f"skipped in some partitions: {c.skipped_reason}" for c in (a, b)
                     if c.skipped and not (a.skipped and b.skipped)]
    notes = "; ".join(dict.fromkeys(n for n in (*(a.note or "").split("; "), b.note,
                                                *skipped_notes) if n))
    both_skipped = a.skipped and b.skipped
    return replace(a, passed=a.passed and b.passed, rows_checked=a.rows_checked + b.rows_checked,
                   skipped_reason="; ".join(dict.fromkeys(
                       r for c in (a, b) for r in c.skipped_reason.split("; "))) if both_skipped
                   else "",
                   failures=[*a.failures, *b.failures], worst=[*a.worst, *b.worst],
                   failure_count=a.failure_count + b.failure_count, note=notes, stats=stats)


def blocking_reason(engine: Engine, partition_key: str,
                    asset_key: str = BARS_ASSET_KEY) -> str | None:
    """Why downstream work must not use a partition (None when it may): no report yet, or
    the latest report failed ERROR checks. The one rule for features, training and trading."""
    report = load_latest_report(engine, partition_key=partition_key, asset_key=asset_key)
    if report is None:
        return f"partition {partition_key}: {asset_key} has no quality report yet"
    if report.blocking_failed:
        failed = ", ".join(c.name for c in report.checks if c.blocking)
        return f"partition {partition_key} failed blocking data-quality checks ({failed})"
    return None
