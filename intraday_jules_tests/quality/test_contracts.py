"""Contracts: the shipped files load; a broken file fails loudly, naming file, place, problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from intraday_jules.quality.contracts import (
    BEHAVIOUR_CHECKS,
    CONTRACTS_DIR,
    ContractError,
    load_contract,
    parse_contract,
)
from intraday_jules.quality.results import Severity

MINIMAL = """
contract: tiny
table: tiny
columns:
  symbol: {type: string}
  ts: {type: timestamp_utc}
  close: {type: float}
keys: {columns: [symbol, ts], check: timestamps_unique}
rules:
  - {check: ohlc_consistent, columns: [close], greater_than: 0}
checks:
  timestamps_unique: ERROR
  ohlc_consistent: ERROR
"""


def test_market_data_contract_declares_every_check_with_a_severity() -> None:
    contract = load_contract("market_data")
    assert contract.keys == ("symbol", "ts")
    assert contract.key_check == "timestamps_unique"
    assert set(BEHAVIOUR_CHECKS) <= set(contract.checks)
    assert {"timestamps_unique", "ohlc_consistent", "volume_nonnegative"} <= set(contract.checks)
    assert contract.check("no_missing_minutes").severity is Severity.WARN  # type: ignore[union-attr]
    assert contract.check("ohlc_consistent").severity is Severity.ERROR  # type: ignore[union-attr]
    assert contract.quarantine_allowed and contract.quarantine_table == "market_data_quarantine"
    assert contract.params("no_zero_volume_runs") == {"max_run_bars": 10}


def test_features_contract_describes_twelve_float_columns_finite_after_warmup() -> None:
    contract = load_contract("features")
    assert contract.keys == ("symbol", "ts", "spec_version")
    assert contract.feature_columns is not None
    assert contract.feature_columns.count == 12
    assert contract.feature_columns.warmup_bars == 50
    assert "features_finite_after_warmup" in contract.checks
    assert not contract.quarantine_allowed


def test_contract_that_is_not_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("contract: x\ncolumns: {symbol: [unclosed\n", encoding="utf-8")
    with pytest.raises(ContractError, match=r"broken\.yaml: not valid YAML at line \d+"):
        load_contract(path)


def test_missing_contract_file_is_a_contract_error(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=r"nope\.yaml: cannot read contract"):
        load_contract(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("edit", "message"), [
    (("ERROR\n  ohlc_consistent: ERROR", "ERROR\n  ohlc_consistent: FATAL"),
     r"checks\.ohlc_consistent\.severity: expected ERROR or WARN, got 'FATAL'"),
    (("close: {type: float}", "close: {type: decimal}"),
     r"columns\.close\.type: unknown type 'decimal'"),
    (("ohlc_consistent: ERROR", "ohlc_consistent: ERROR\n  no_such_check: WARN"),
     r"checks\.no_such_check: unknown check"),
    (("columns: [close]", "columns: [price]"), r"rules\[0\]: column\(s\) \['price'\] are not"),
    (("ohlc_consistent: ERROR", "ohlc_consistent: ERROR\n  no_zero_volume_runs:\n"
      "    severity: WARN\n    params: {max_run_bars: ten}"),
     r"checks\.no_zero_volume_runs\.params\.max_run_bars: expected an integer >= 0, got 'ten'"),
    (("ohlc_consistent: ERROR", "ohlc_consistent: ERROR\n  no_zero_volume_runs:\n"
      "    severity: WARN\n    params: {max_run: 3}"),
     r"checks\.no_zero_volume_runs\.params: unknown key\(s\) \['max_run'\]"),
    (("timestamps_unique: ERROR", "timestamps_unique: {severity: ERROR, quarantine: true}"),
     r"checks\.timestamps_unique\.quarantine: quarantine\.allowed is false"),
    (("  ohlc_consistent: ERROR\n", ""),
     r"checks: no severity declared for check\(s\) \['ohlc_consistent'\]"),
    (("table: tiny\n", ""), r"top level: missing required key 'table'"),
])
def test_inconsistent_contract_is_refused_with_its_place(edit: tuple[str, str],
                                                         message: str) -> None:
    assert edit[0] in MINIMAL
    with pytest.raises(ContractError, match=r"^tiny\.yaml: " + message):
        parse_contract(MINIMAL.replace(edit[0], edit[1], 1), origin="tiny.yaml")


def test_aggregate_checks_cannot_be_quarantined() -> None:
    text = MINIMAL + "  no_missing_sessions: {severity: ERROR, quarantine: true}\n"
    text += "quarantine: {allowed: true}\n"
    with pytest.raises(ContractError, match="no rows to quarantine"):
        parse_contract(text, origin="tiny.yaml")


def test_minimal_contract_parses_rules_in_order() -> None:
    contract = parse_contract(MINIMAL, origin="tiny.yaml")
    assert [r.op for r in contract.rules] == ["greater_than"]
    assert list(contract.checks) == ["timestamps_unique", "ohlc_consistent"]
    assert contract.params("ohlc_consistent") == {}


def test_docs_describe_every_check_of_both_contracts_with_its_severity() -> None:
    docs = (CONTRACTS_DIR.parent / "docs" / "data_quality.md").read_text(encoding="utf-8")
    for name in ("market_data", "features"):
        for check in load_contract(name).checks.values():
            assert f"| `{check.name}`" in docs, check.name
            if name == "market_data":
                assert f"| `{check.name}` | {check.severity} |" in docs, check.name
