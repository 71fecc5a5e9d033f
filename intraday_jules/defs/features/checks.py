"""The ``features/feature_table`` checks: one Dagster check per check of
``data_contracts/features.yaml`` (ERROR checks are blocking), and the conversion of the
library's check results into Dagster's."""

from __future__ import annotations

import dagster as dg

from intraday_jules.defs.common.keys import FEATURES_KEY
from intraday_jules.quality import CheckResult, Severity, load_contract


def feature_check_specs() -> list[dg.AssetCheckSpec]:
    contract = load_contract("features")
    return [dg.AssetCheckSpec(name, asset=FEATURES_KEY,
                              blocking=spec.severity == Severity.ERROR,
                              description=f"{spec.severity}: {name} (data_contracts/features.yaml)")
            for name, spec in contract.checks.items()]


def feature_check_result(result: CheckResult) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name=result.name, asset_key=FEATURES_KEY,
                               passed=result.passed, metadata={"failures": result.failure_count})
