"""``intraday-jules ledger`` and ``intraday-jules risk status|reset`` against a real SQLite file."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from intraday_jules.cli import ledger_cmd, risk_cmd
from intraday_jules.cli._output import CliError
from intraday_jules.domain.orders import Side
from intraday_jules.ledger import DecisionRecord, Ledger
from intraday_jules.risk import RiskEngine, RiskEventKind, RiskLimits
from intraday_jules_tests.ledger.conftest import SESSION_BAR, make_fill, make_order


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    ledger_cmd.register(app)
    risk_cmd.register(app)
    return app


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("INTRADAY_JULES_HOME", str(tmp_path))
    monkeypatch.setenv("INTRADAY_JULES_DATABASE_URL", url)
    return Ledger.connect(url)


def run(app: typer.Typer, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.exception


def test_ledger_json_prints_the_session_ledger(app: typer.Typer, database: Ledger) -> None:
    order = database.record_order(make_order(Side.BUY, 2, "120.50"))
    database.record_fill(make_fill(order, price="120.61", commission="0.35", exec_id="E1"))
    database.record_decision(DecisionRecord(SESSION_BAR, "BUY_NVDA", D("10000")))
    code, out, _ = run(app, "ledger", "--session", "2025-02-03", "--json")
    assert code == 0, out
    payload = json.loads(out)
    assert payload == database.session_ledger(SESSION_BAR.date())
    assert payload["fills"][0]["price"] == "120.61"


def test_ledger_human_output_shows_a_table_per_section(app: typer.Typer,
                                                       database: Ledger) -> None:
    order = database.record_order(make_order())
    database.record_fill(make_fill(order))
    code, out, _ = run(app, "ledger", "--session", "2025-02-03")
    assert code == 0, out
    assert "Ledger for session 2025-02-03" in out
    assert "Orders" in out and "Fills" in out
    assert "IJ-20250203-1431-NVDA" in out


def test_ledger_with_a_malformed_session_is_a_cli_error(app: typer.Typer, database: Ledger) -> None:
    code, _, exc = run(app, "ledger", "--session", "03/02/2025")
    assert code != 0
    assert isinstance(exc, CliError)
    assert "03/02/2025" in exc.message


def test_risk_status_json_reports_a_latched_halt(app: typer.Typer, database: Ledger) -> None:
    RiskEngine(RiskLimits(), database, clock=lambda: SESSION_BAR).halt(
        RiskEventKind.DRAWDOWN_LIMIT, "drawdown $100 reached the limit")
    code, out, _ = run(app, "risk", "status", "--json")
    assert code == 0, out
    payload = json.loads(out)
    assert (payload["state"], payload["kind"], payload["since"]) == (
        "HALTED", "DRAWDOWN_LIMIT", "2025-02-03T14:31:00Z")
    assert payload["limits"]["max_position_usd"] == "1000"
    assert [h["state"] for h in payload["history"]] == ["HALTED"]


def test_risk_reset_is_recorded_and_status_then_reads_active(app: typer.Typer,
                                                             database: Ledger) -> None:
    RiskEngine(RiskLimits(), database, clock=lambda: SESSION_BAR).halt(
        RiskEventKind.DAILY_LOSS_LIMIT, "lost $50")
    code, out, _ = run(app, "risk", "reset", "--reason", "reviewed the loss", "--json")
    assert code == 0, out
    payload = json.loads(out)
    assert (payload["previous"]["state"], payload["state"]) == ("HALTED", "ACTIVE")
    events = database.risk_events()
    assert events[-1].kind is RiskEventKind.RESET
    assert "reviewed the loss" in events[-1].reason
    code, out, _ = run(app, "risk", "status")
    assert code == 0 and "ACTIVE" in out


def test_risk_reset_with_a_blank_reason_is_refused(app: typer.Typer, database: Ledger) -> None:
    code, _, exc = run(app, "risk", "reset", "--reason", "   ")
    assert code != 0 and isinstance(exc, CliError)
    assert database.trading_state_history() == []


def test_risk_reset_without_reason_option_is_a_usage_error(app: typer.Typer,
                                                           database: Ledger) -> None:
    code, _, _ = run(app, "risk", "reset")
    assert code == 2
