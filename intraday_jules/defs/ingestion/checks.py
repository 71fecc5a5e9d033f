"""The ``market_data/bars`` checks: one Dagster check per check of
``data_contracts/market_data.yaml`` (ERROR checks are blocking), and the conversion of the
library's check results into Dagster's."""

from __future__ import annotations

import dagster as dg

from intraday_jules.defs.common.keys import BARS_KEY
from intraday_jules.quality import CheckResult, Severity, load_contract

MAX_FAILURES_IN_METADATA = 20


def bars_check_specs() -> list[dg.AssetCheckSpec]:
    """One check per contract check; ERROR checks block downstream assets in the run."""
    contract = load_contract("market_data")
    return [dg.AssetCheckSpec(name, asset=BARS_KEY, blocking=spec.severity == Severity.ERROR,
                              description=f"{spec.severity}: {name} (data_contracts/"
                                          "market_data.yaml)")
            for name, spec in contract.checks.items()]


def check_result(result: CheckResult) -> dg.AssetCheckResult:
    """A quality CheckResult as a Dagster check result, offending rows in its metadata.

    Dagster has no "skipped" outcome for a check that ran: a check that could not judge
    reports ``passed=True`` with ``status: skipped`` and ``skipped_reason`` in its metadata
    (and the reason as its description)."""
    failures = [f.to_dict() for f in result.failures[:MAX_FAILURES_IN_METADATA]]
    return dg.AssetCheckResult(
        check_name=result.name, asset_key=BARS_KEY, passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR if result.severity == Severity.ERROR
        else dg.AssetCheckSeverity.WARN,
        description=f"SKIPPED: {result.skipped_reason}" if result.skipped else None,
        metadata={"failures": result.failure_count, "rows_checked": result.rows_checked,
                  "note": result.note or "", "offending": dg.MetadataValue.json(failures),
                  "status": str(result.status), "skipped_reason": result.skipped_reason or ""})
