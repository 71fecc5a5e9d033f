"""Issue 11, finding 1: a position mismatch must never make the kill switch open shorts.

The scenario: ``trade --policy always-buy`` with one broker journal, ``kill -9`` after 100
decisions, then the same session restarted against an empty broker (the operator flattened in
TWS after the crash). Reconciliation finds the ledger long and the broker flat: trading halts
and the flatten closes what the BROKER holds (nothing), never the ledger's view.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from intraday_jules.broker import SimulatedBroker
from intraday_jules.broker.journal import Journal
from intraday_jules.cli import trade_cmd
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules_tests.conftest import REPO_ROOT
from intraday_jules_tests.trading.conftest import SESSION, ledger_json, minute


def kill_child(url: str, journal: Path, replay_file: Path, policy: str, until: str,
               kill: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "intraday_jules_tests.trading.kill_child", url, str(journal),
         str(replay_file), policy, until, kill], capture_output=True, text=True, timeout=300,
        env=env, cwd=REPO_ROOT, check=False)


@pytest.fixture
def morning_file(tmp_path: Path, replay_source: ReplaySource) -> Path:
    """09:30-11:30 ET of the session as its own replay file (the CLI replays to its end)."""
    bars = replay_source.bars
    part = bars[(bars["ts"] >= minute(0)) & (bars["ts"] < minute(120))].drop(
        columns=["source"])
    path = tmp_path / "morning.csv"
    part.assign(ts=part["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    return path


def positions_over_time(journal: Path) -> list[dict[str, int]]:
    """The broker's positions after each of its fills, from its own journal."""
    held: dict[str, int] = {}
    history = []
    for record in Journal(journal).records():
        if record["type"] == "fill":
            sign = 1 if record["side"] == "BUY" else -1
            held[record["symbol"]] = held.get(record["symbol"], 0) + sign * record["quantity"]
            history.append(dict(held))
    return history


def test_restart_against_a_flat_broker_when_the_ledger_is_long_halts_and_never_opens_a_short(
        tmp_path: Path, morning_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    first, second = tmp_path / "A.jsonl", tmp_path / "B.jsonl"
    killed = kill_child(url, first, morning_file, "always-buy", "-", "decisions:100")
    assert killed.returncode == -9, killed.stderr[-2000:]
    ledger = Ledger.connect(url)
    held = {s: p.quantity for s, p in ledger.positions().items() if p.quantity}
    assert held and all(q > 0 for q in held.values())  # long NVDA and MSFT at the kill
    assert SimulatedBroker(journal=first).positions() == held
    resume = ledger.decisions(SESSION)[-1].ts
    ledger.engine.dispose()

    app = typer.Typer()
    trade_cmd.register(app)
    app.command("noop")(lambda: None)
    env = {"INTRADAY_JULES_HOME": str(tmp_path / "home"), "INTRADAY_JULES_DATABASE_URL": url}
    outcome = CliRunner().invoke(app, [
        "trade", "--session", SESSION.isoformat(), "--source", "replay", "--replay-path",
        str(morning_file), "--policy", "always-buy", "--broker-state", str(second),
        "--report-dir", str(tmp_path / "report"), "--json"], env=env)
    assert outcome.exit_code == 0, outcome.output
    payload = json.loads(outcome.stdout)

    assert SimulatedBroker(journal=second).positions() == {}
    assert all(q >= 0 for step in positions_over_time(second) for q in step.values())
    assert payload["restarted"] and payload["risk_state"] == "HALTED"
    assert payload["open_positions"] == {}  # what the broker holds, not the ledger's view
    assert payload["ledger_positions"] == held
    after = ledger_json(url)
    assert not [o for o in after["orders"] if o["origin"] == "FLATTEN"]
    [mismatch] = [e for e in after["risk_events"] if e["kind"] == "RECONCILE_MISMATCH"]
    expected = "; ".join(f"{s}: ledger {q}, broker 0" for s, q in sorted(held.items()))
    assert mismatch["reason"] == f"position mismatch with the broker: {expected}"
    assert mismatch["ts"] == (resume + timedelta(minutes=1)).isoformat().replace(
        "+00:00", "Z")  # found at the restart, not at the session open
    assert mismatch["detail"] == {
        **{f"ledger.{s}": q for s, q in held.items()}, **{f"broker.{s}": 0 for s in held}}
