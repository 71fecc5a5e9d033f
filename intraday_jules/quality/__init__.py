"""Data quality: contracts (``data_contracts/``), pure checks, Great Expectations suites built
from the same contracts, quarantine, and stored reports. Imports ``domain`` and ``db`` only.

Entry point: ``run_quality_checks(bars, symbols=..., sessions=..., extended_hours=...,
contract="market_data")`` -> ``QualityReport`` (``report.blocking_failed``). See
``docs/data_quality.md``.
"""

from intraday_jules.quality.base import CheckContext
from intraday_jules.quality.contracts import Contract, ContractError, load_contract, parse_contract
from intraday_jules.quality.quarantine import (
    QuarantineSplit,
    read_quarantine,
    split_quarantine,
    write_quarantine,
)
from intraday_jules.quality.reports import (
    BARS_ASSET_KEY,
    blocking_reason,
    combine_reports,
    load_latest_report,
    load_latest_reports,
    report_markdown,
    report_png,
    report_to_json,
    store_report,
)
from intraday_jules.quality.results import (
    CheckResult,
    CheckStatus,
    Failure,
    QualityReport,
    Severity,
    offending_rows,
)
from intraday_jules.quality.run import run_quality_checks, run_with_quarantine

__all__ = [
    "BARS_ASSET_KEY",
    "CheckContext",
    "CheckResult",
    "CheckStatus",
    "Contract",
    "ContractError",
    "Failure",
    "QualityReport",
    "QuarantineSplit",
    "Severity",
    "blocking_reason",
    "combine_reports",
    "load_contract",
    "load_latest_report",
    "load_latest_reports",
    "offending_rows",
    "parse_contract",
    "read_quarantine",
    "report_markdown",
    "report_png",
    "report_to_json",
    "run_quality_checks",
    "run_with_quarantine",
    "split_quarantine",
    "store_report",
    "write_quarantine",
]
