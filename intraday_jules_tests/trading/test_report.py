"""The session report: summary, fills against the execution model, risk events, equity PNG."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from intraday_jules.domain.orders import Side
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.trading import Collaborators, build_session_report
from intraday_jules.trading.report import png_size
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
    for heading in ("## Fills against the execution model", "## Risk events",
                    "![equity](equity.png)"):
        assert heading in report.markdown
    paths = report.write(tmp_path / "out")
    assert json.loads(paths["json"].read_text())["summary"]["fills"] == 2
    assert paths["png"].read_bytes() == report.png


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
