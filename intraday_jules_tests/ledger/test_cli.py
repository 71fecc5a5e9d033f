"""``intraday-jules ledger`` and ``intraday-jules risk status|reset`` against a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from intraday_jules.cli import ledger_cmd, risk_cmd
from intraday_jules.cli._output import CliError
from intraday_jules.domain.orders import Side
from intraday_jules.domain.portfolio import Book
from intraday_jules.ledger import DecisionRecord, Ledger
from intraday_jules.ledger.report import LEDGER_KEYS
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
    for flags in ((), ("--all",)):
        code, out, _ = run(app, "ledger", "--session", "2025-02-03", "--json", *flags)
        assert code == 0, out
        payload = json.loads(out)
        # every list as before, the summary added
        assert {k: payload[k] for k in LEDGER_KEYS} == database.session_ledger(
            SESSION_BAR.date())
        assert list(payload) == [*LEDGER_KEYS, "summary"]
        assert payload["fills"][0]["price"] == "120.61"
        assert payload["summary"]["symbols"][0]["realised_pnl"] == "-0.35"


def test_ledger_all_shows_a_table_per_section(app: typer.Typer, database: Ledger) -> None:
    order = database.record_order(make_order())
    database.record_fill(make_fill(order))
    database.record_decision(DecisionRecord(SESSION_BAR, "BUY_NVDA", D("10000")))
    code, out, _ = run(app, "ledger", "--session", "2025-02-03", "--all")
    assert code == 0, out
    assert "Ledger for session 2025-02-03" in out
    assert "Decisions" in out and "Orders" in out and "Fills" in out
    assert "IJ-20250203-1431-NVDA" in out and "BUY_NVDA" in out


def _trading_day(database: Ledger) -> None:
    """2025-02-03: 5 warmup + 10 decide minutes, NVDA bought 10 at 120.61 then sold 4 at
    121.11, MSFT bought 2 at 410.10; the cap then denies NVDA 156 times (one reason)."""
    marks = {"MSFT": "411.10", "NVDA": "121.00"}
    for minute in range(15):
        phase = "warmup" if minute < 5 else "decide"
        database.record_decision(DecisionRecord(
            SESSION_BAR + timedelta(minutes=minute), "HOLD", D("10000") + minute,
            {"phase": phase, "marks": marks}))
    buy = database.record_order(make_order(Side.BUY, 10, "120.50"))
    database.record_fill(make_fill(buy, price="120.61", commission="0.35", exec_id="E1"))
    sell = database.record_order(make_order(Side.SELL, 4, "121.00", minute=5))
    database.record_fill(make_fill(sell, price="121.11", commission="0.20", exec_id="E2"))
    msft = database.record_order(make_order(Side.BUY, 2, "410.00", symbol="MSFT", minute=6))
    database.record_fill(make_fill(msft, price="410.10", commission="0.30", exec_id="E3"))
    engine = RiskEngine(RiskLimits(max_position_usd=D("700")), database,
                        clock=lambda: SESSION_BAR)
    book = Book.from_fills(database.fills(), starting_cash=D("10000"))
    for minute in range(10, 166):
        engine.evaluate(make_order(Side.BUY, 5, "121.00", minute=minute).intent, book)


def test_ledger_prints_a_summary_that_fits_80_columns(database: Ledger) -> None:
    _trading_day(database)
    env = {**os.environ, "COLUMNS": "80", "INTRADAY_JULES_DATABASE_URL": str(
        database.engine.url)}
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "intraday_jules.cli", "ledger", "--session",
                           "2025-02-03"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) < 30  # not one row per decision (15) or denial (156)
    assert "15 decisions by phase: 5 warmup, 10 decide" in proc.stdout
    assert "equity 10000 -> 10014, P&L 14" in proc.stdout
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines
             if line.startswith("│")]
    # symbol, fills, bought, sold, comm, realised (FIFO, net), position, unrealised at the mark
    assert [row for row in cells if row[0] in ("MSFT", "NVDA")] == [
        ["MSFT", "1", "2", "0", "0.3", "-0.3", "2", "2"],
        ["NVDA", "2", "10", "4", "0.55", "1.45", "6", "2.34"]]
    assert [row for row in cells if row[0].startswith("2025-")] == [
        ["2025-02-03T14:32:02Z", "NVDA", "BUY", "10", "120.61", "0.35"],
        ["2025-02-03T14:37:02Z", "NVDA", "SELL", "4", "121.11", "0.2"],
        ["2025-02-03T14:38:02Z", "MSFT", "BUY", "2", "410.1", "0.3"]]
    # 156 denials, one line (wrapped): kind, count, symbols, first and last time, reason
    assert " ".join(proc.stdout.split()).endswith(
        "ORDER_DENIED, 156 times (NVDA), 14:41:00Z to 17:16:00Z: position_within_cap: NVDA "
        "exposure of 6 shares is at its cap of $700 (5 shares at 121.00)")


def test_ledger_summary_json_has_per_symbol_pnl_phases_and_grouped_risk_events(
        app: typer.Typer, database: Ledger) -> None:
    _trading_day(database)
    code, out, _ = run(app, "ledger", "--session", "2025-02-03", "--json")
    assert code == 0, out
    summary = json.loads(out)["summary"]
    assert summary["decisions"] == {"total": 15, "by_phase": {"warmup": 5, "decide": 10}}
    assert summary["equity"] == {"start": "10000", "end": "10014", "pnl": "14"}
    assert summary["orders"] == {"total": 3, "by_status": {"FILLED": 3}}
    assert summary["symbols"] == [
        {"symbol": "MSFT", "fills": 1, "bought": 2, "sold": 0, "commissions": "0.3",
         "realised_pnl": "-0.3", "position": 2, "mark": "411.1", "unrealised_pnl": "2"},
        # 4 sold at 121.11 bought at 120.61: 2.00, less 0.35 + 0.20 commissions
        {"symbol": "NVDA", "fills": 2, "bought": 10, "sold": 4, "commissions": "0.55",
         "realised_pnl": "1.45", "position": 6, "mark": "121", "unrealised_pnl": "2.34"}]
    [denied] = summary["risk_events"]
    assert (denied["kind"], denied["count"], denied["first"], denied["last"],
            denied["symbols"]) == ("ORDER_DENIED", 156, "2025-02-03T14:41:00Z",
                                   "2025-02-03T17:16:00Z", ["NVDA"])


def test_ledger_with_a_malformed_session_is_a_cli_error(app: typer.Typer, database: Ledger) -> None:
    code, _, exc = run(app, "ledger", "--session", "03/02/2025")
    assert code != 0
    assert isinstance(exc, CliError)
    assert "03/02/2025" in exc.message


@pytest.mark.parametrize(("day", "message", "hint"), [
    ("2025-02-01", "2025-02-01 (Saturday) is not an XNYS session (weekend or holiday)",
     "the previous session is 2025-01-31, the next 2025-02-03: e.g. --session 2025-01-31"),
    ("2025-12-25", "2025-12-25 (Thursday) is not an XNYS session (weekend or holiday)",
     "the previous session is 2025-12-24, the next 2025-12-26: e.g. --session 2025-12-24"),
])
def test_ledger_of_a_weekend_or_holiday_is_refused_naming_the_sessions_around_it(
        app: typer.Typer, database: Ledger, day: str, message: str, hint: str) -> None:
    for flags in ((), ("--json",), ("--all",)):
        code, out, exc = run(app, "ledger", "--session", day, *flags)
        assert code == 1 and out == ""
        assert isinstance(exc, CliError)
        assert (exc.message, exc.hint) == (message, hint)


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
