"""Risk outside the policy, through the whole loop: HALTED latches and survives a restart
until ``risk reset``; a reconciliation mismatch halts before any decision."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from intraday_jules.broker import SimulatedBroker
from intraday_jules.cli import risk_cmd
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.risk import RiskLimits
from intraday_jules_tests.trading.conftest import (
    ScriptedFeed,
    SimulatedCrash,
    item_index,
    ledger_json,
    minute,
    replay,
)

TINY_DRAWDOWN = RiskLimits(drawdown_limit_usd=Decimal("1.5"))


def first_breach(decisions: list[dict[str, object]], limit: Decimal) -> str:
    """The first decided minute whose equity is ``limit`` below the running peak."""
    peak = None
    for decision in decisions:
        equity = Decimal(str(decision["equity"]))
        peak = equity if peak is None else max(peak, equity)
        if peak - equity >= limit:
            return str(decision["ts"])
    raise AssertionError("the drawdown limit is never reached")


def test_halted_survives_a_restart_and_lasts_until_risk_reset(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    url, journal = f"sqlite:///{tmp_path / 'halt.db'}", tmp_path / "broker.jsonl"
    crashing = replay(url, replay_source, "always-buy", limits=TINY_DRAWDOWN, journal=journal,
                      until=minute(70))
    crashing.feed = ScriptedFeed(crashing.feed, crash_after=item_index(60))  # type: ignore
    with pytest.raises(SimulatedCrash):
        crashing.run()
    halted = ledger_json(url)
    [breach] = [e for e in halted["risk_events"] if e["kind"] == "DRAWDOWN_LIMIT"]
    assert breach["ts"] == first_breach(halted["decisions"], Decimal("1.5"))
    assert breach["ts"] < minute(60).isoformat().replace("+00:00", "Z")  # before the crash
    assert [o["origin"] for o in halted["orders"]] == ["POLICY", "POLICY", "FLATTEN", "FLATTEN"]

    restarted = replay(url, replay_source, "always-buy", limits=RiskLimits(),
                       journal=journal, until=minute(70)).run()
    assert restarted.restarted and restarted.warmup_minutes == 60
    assert restarted.state == "HALTED" and restarted.open_positions == {}
    assert ledger_json(url)["orders"] == halted["orders"]

    app = typer.Typer()
    risk_cmd.register(app)
    app.command("noop")(lambda: None)
    env = {"INTRADAY_JULES_DATABASE_URL": url, "INTRADAY_JULES_HOME": str(tmp_path)}
    reset = CliRunner().invoke(app, ["risk", "reset", "--reason", "loss reviewed"], env=env)
    assert reset.exit_code == 0, reset.output
    next_day = replay(url, replay_source, "always-buy", journal=journal,
                      session=date(2025, 2, 4),
                      until=datetime(2025, 2, 4, 15, 30, tzinfo=UTC)).run()
    assert next_day.state == "ACTIVE" and next_day.orders == 2


def test_reconciliation_mismatch_halts_with_the_difference_recorded(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    url = f"sqlite:///{tmp_path / 'mismatch.db'}"
    broker = SimulatedBroker(journal=tmp_path / "broker.jsonl", positions={"NVDA": 7})
    result = replay(url, replay_source, "always-buy", broker=broker, until=minute(60)).run()
    ledger = ledger_json(url)
    assert result.state == "HALTED"
    first = ledger["risk_events"][0]
    assert first["kind"] == "RECONCILE_MISMATCH" and "NVDA: ledger 0, broker 7" in first["reason"]
    assert first["detail"] == {"broker.NVDA": 7, "ledger.NVDA": 0}
    # HALTED flattens what the broker holds (7 the ledger never bought), nothing else
    [flatten] = ledger["orders"]
    assert (flatten["origin"], flatten["side"], flatten["quantity"], flatten["status"]) == (
        "FLATTEN", "SELL", 7, "FILLED")
    assert broker.positions() == {} and result.open_positions == {}
    assert result.to_json()["ledger_positions"] == {"NVDA": -7}  # the difference stays visible
    assert {e["kind"] for e in ledger["risk_events"][1:]} == {"ORDER_DENIED"}


def test_matching_broker_and_ledger_reconcile_silently(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    url = f"sqlite:///{tmp_path / 'match.db'}"
    result = replay(url, replay_source, "always-buy", journal=tmp_path / "b.jsonl",
                    until=minute(55)).run()
    assert result.state == "ACTIVE" and result.risk_events == 0 and result.orders == 2
