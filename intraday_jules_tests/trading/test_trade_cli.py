"""``intraday-jules trade``: flags, limits overrides, JSON shape, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from intraday_jules.cli import trade_cmd
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules_tests.trading.conftest import SESSION, ledger_json, minute, replay

JSON_KEYS = {"session", "policy", "pnl", "trades", "risk_state", "risk_events", "fills",
             "decision_latency_p50_ms", "decision_latency_p99_ms", "ledger"}


def invoke(tmp_path: Path, *args: str) -> Result:
    app = typer.Typer()
    trade_cmd.register(app)
    app.command("noop")(lambda: None)
    env = {"INTRADAY_JULES_HOME": str(tmp_path / "home"),
           "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    return CliRunner().invoke(app, ["trade", "--session", "2025-02-03", *args], env=env)


@pytest.fixture
def morning_file(tmp_path: Path, replay_source: ReplaySource) -> Path:
    """09:30-10:40 ET of the replayed session as its own replay file (a fast partial day)."""
    bars = replay_source.bars
    part = bars[(bars["ts"] >= minute(0)) & (bars["ts"] < minute(70))].drop(columns=["source"])
    path = tmp_path / "morning.csv"
    part.assign(ts=part["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    return path


def test_json_reports_the_session_and_max_position_override_caps_orders(
        tmp_path: Path, morning_file: Path) -> None:
    outcome = invoke(tmp_path, "--source", "replay", "--replay-path", str(morning_file),
                     "--broker", "simulated", "--policy", "always-buy", "--max-position",
                     "300", "--daily-loss-limit", "25", "--drawdown-limit", "40", "--json")
    assert outcome.exit_code == 0, outcome.output
    payload = json.loads(outcome.stdout)
    assert set(payload) >= JSON_KEYS
    assert payload["policy"] == "always-buy" and payload["fills"] == 1
    orders = ledger_json(f"sqlite:///{tmp_path / 'cli.db'}", SESSION)["orders"]
    assert [o["symbol"] for o in orders] == ["NVDA"]  # one MSFT share (over $400) exceeds $300
    assert all(o["quantity"] * float(o["reference_price"]) <= 300 for o in orders)
    assert Path(payload["report"]["markdown"]).read_text().startswith("# Trading session")


def test_cli_writes_the_same_ledger_as_the_library_run_of_the_job(
        tmp_path: Path, morning_file: Path, replay_source: ReplaySource) -> None:
    outcome = invoke(tmp_path, "--replay-path", str(morning_file), "--policy", "random",
                     "--seed", "3", "--json")
    assert outcome.exit_code == 0, outcome.output
    library = f"sqlite:///{tmp_path / 'library.db'}"
    replay(library, replay_source, "random", seed=3, until=minute(70)).run()
    cli = ledger_json(f"sqlite:///{tmp_path / 'cli.db'}", SESSION)
    assert cli["orders"] and cli == ledger_json(library, SESSION)
    assert json.loads(outcome.stdout)["fills"] == len(cli["fills"])


def test_human_output_summarises_the_session(tmp_path: Path, morning_file: Path) -> None:
    outcome = invoke(tmp_path, "--replay-path", str(morning_file), "--policy", "always-sell")
    assert outcome.exit_code == 0, outcome.output
    assert "Session 2025-02-03" in outcome.output and "state ACTIVE" in outcome.output


@pytest.mark.parametrize(("args", "words"), [
    (["--policy", "yolo"], "--policy 'yolo' is unknown"),
    (["--broker", "alpaca"], "--broker 'alpaca' is not available"),
    (["--ib-port", "7497"], "--ib-port only apply to --broker ibkr"),
    (["--source", "replay"], "needs a file"),
    (["--replay-path", "/nonexistent.csv"], "does not exist"),
    (["--max-position", "lots"], "not an amount"),
    (["--daily-loss-limit", "-5"], "positive amount"),
])
def test_bad_flags_fail_with_one_clear_line(tmp_path: Path, args: list[str],
                                            words: str) -> None:
    outcome = invoke(tmp_path, *args)
    assert outcome.exit_code != 0
    assert words in str(outcome.exception)


def test_a_date_that_is_not_a_session_is_refused(tmp_path: Path, morning_file: Path) -> None:
    app = typer.Typer()
    trade_cmd.register(app)
    app.command("noop")(lambda: None)
    env = {"INTRADAY_JULES_HOME": str(tmp_path), "INTRADAY_JULES_DATABASE_URL":
           f"sqlite:///{tmp_path / 'x.db'}"}
    outcome = CliRunner().invoke(app, ["trade", "--session", "2025-02-01", "--replay-path",
                                       str(morning_file)], env=env)
    assert outcome.exit_code != 0 and "not an XNYS trading session" in str(outcome.exception)
