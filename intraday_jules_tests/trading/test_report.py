"""The session report: summary, fills against the execution model, risk events, equity PNG."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from intraday_jules.domain.orders import Side
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.trading import Collaborators, build_session_report
from intraday_jules.trading.report import MAX_ROWS, SessionReport, png_size
from intraday_jules_tests.trading.conftest import minute, replay


def test_report_of_a_simulated_session_shows_zero_slippage_against_the_model(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    result = replay(url, replay_source, "always-buy", until=minute(70),
                    extras=Collaborators()).run()
    report = result.report
    assert report is not None
    assert report.png.startswith(b"\x89PNG") and png_size(report.png) == (900, 400)
    assert report.fills and all(f.slippage_vs_model == 0 for f in report.fills)
    assert Decimal(report.summary["pnl"]) == result.pnl
    assert report.summary["policy"] == "always-buy" and report.summary["fills"] == 2
    for heading in ("## Fills against the execution model", "## Risk events", "## Equity"):
        assert heading in report.markdown
    paths = report.write(tmp_path / "out")
    assert json.loads(paths["json"].read_text())["summary"]["fills"] == 2
    assert paths["png"].read_bytes() == report.png


def test_the_markdown_shown_in_dagster_embeds_the_png_and_links_no_file(
        tmp_path: Path) -> None:
    report = _report_with_denials(MAX_ROWS + 5)
    [uri] = re.findall(r"!\[equity\]\((\S+)\)", report.markdown)
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix) and base64.b64decode(uri[len(prefix):]) == report.png
    assert "report.json" not in report.markdown and "equity.png" not in report.markdown
    assert ("... and 5 more (`intraday-jules ledger --session 2025-02-03 --all` lists them "
            "all)") in report.markdown


def test_the_written_report_md_links_the_png_and_json_beside_it(tmp_path: Path) -> None:
    report = _report_with_denials(MAX_ROWS + 5)
    paths = report.write(tmp_path / "out")
    text = paths["markdown"].read_text()
    [link] = re.findall(r"!\[equity\]\((\S+)\)", text)
    assert (paths["markdown"].parent / link).read_bytes() == report.png
    assert "... and 5 more (all of them in report.json)" in text
    assert (paths["markdown"].parent / "report.json").is_file()


def test_repeated_risk_events_are_one_row_with_count_and_first_and_last_time() -> None:
    report = _report_with_denials(156)
    rows = [line for line in report.markdown.splitlines() if line.startswith("| ORDER_DENIED")]
    assert rows == ["| ORDER_DENIED | 156 | 2025-02-03T14:30:00Z | 2025-02-03T17:05:00Z | "
                    "ACTIVE | NVDA | position_within_cap: NVDA at the cap |",
                    "| ORDER_DENIED | 1 | 2025-02-03T15:00:00Z | 2025-02-03T15:00:00Z | "
                    "ACTIVE | MSFT | position_within_cap: MSFT at the cap |"]
    assert report.summary["risk_events"] == 157
    assert [(g["kind"], g["count"]) for g in report.to_json()["risk_event_groups"]] == [
        ("ORDER_DENIED", 156), ("ORDER_DENIED", 1)]
    assert len(report.to_json()["risk_events"]) == 157  # the JSON keeps every event


def _report_with_denials(count: int) -> SessionReport:
    """A session whose NVDA order is denied ``count`` minutes running (one MSFT denial at
    15:00Z in between) and ``count`` fills, one a minute."""
    start = datetime(2025, 2, 3, 14, 30, tzinfo=UTC)
    stamps = [(start + timedelta(minutes=m)).isoformat().replace("+00:00", "Z")
              for m in range(count)]
    events: list[dict[str, Any]] = [
        {"ts": ts, "kind": "ORDER_DENIED", "state": "ACTIVE", "symbol": "NVDA",
         "reason": "position_within_cap: NVDA at the cap"} for ts in stamps]
    events.insert(30, {"ts": "2025-02-03T15:00:00Z", "kind": "ORDER_DENIED",
                       "state": "ACTIVE", "symbol": "MSFT",
                       "reason": "position_within_cap: MSFT at the cap"})
    ledger: dict[str, list[dict[str, Any]]] = {
        "decisions": [{"ts": ts, "equity": "10000"} for ts in stamps],
        "orders": [{"client_order_id": f"IJ-{k}", "ts": ts} for k, ts in enumerate(stamps)],
        "fills": [{"ts": ts, "client_order_id": f"IJ-{k}", "symbol": "NVDA", "side": "BUY",
                   "quantity": 1, "price": "100", "commission": "0"}
                  for k, ts in enumerate(stamps)],
        "risk_events": events}
    empty = pd.DataFrame({"symbol": [], "ts": [], "open": []})
    return build_session_report(ledger, empty, ExecutionModel(),
                                {"session": "2025-02-03", "policy": "p", "broker": "b",
                                 "state": "ACTIVE"})


def test_fill_worse_than_modelled_shows_positive_slippage_vs_model() -> None:
    bars = pd.DataFrame({"symbol": ["NVDA", "NVDA"], "ts": [minute(0), minute(1)],
                         "open": [100.0, 101.0], "high": [102.0, 102.0],
                         "low": [99.0, 100.0], "close": [101.0, 101.5],
                         "volume": [10, 10]})
    modelled = ExecutionModel().fill_price(Side.BUY, Decimal("101.0"))
    paid = modelled + Decimal("0.02")
    ledger: dict[str, list[dict[str, Any]]] = {
        "decisions": [{"ts": "2025-02-03T14:30:00Z", "equity": "10000"},
                      {"ts": "2025-02-03T14:31:00Z", "equity": "9998"}],
        "orders": [{"client_order_id": "IJ-20250203-1430-NVDA", "ts": "2025-02-03T14:30:00Z"}],
        "fills": [{"ts": "2025-02-03T14:31:00Z", "client_order_id": "IJ-20250203-1430-NVDA",
                   "symbol": "NVDA", "side": "BUY", "quantity": 5, "price": str(paid),
                   "commission": "1"}],
        "risk_events": [{"ts": "2025-02-03T14:31:00Z", "kind": "DAILY_LOSS_LIMIT",
                         "state": "HALTED", "symbol": None, "reason": "test"}]}
    report = build_session_report(ledger, bars, ExecutionModel(),
                                  {"session": "2025-02-03", "policy": "p", "broker": "b",
                                   "state": "HALTED"})
    [fill] = report.fills
    assert fill.modelled_price == modelled
    assert fill.slippage_vs_model == Decimal("0.10")
    assert report.summary["pnl"] == "-2" and report.summary["risk_events_by_kind"] == {
        "DAILY_LOSS_LIMIT": 1}
