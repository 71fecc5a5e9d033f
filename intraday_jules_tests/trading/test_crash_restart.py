"""Crash safety with a real process killed by SIGKILL, then restarted.

The child (``crash_child``) replays 09:30-11:00 ET with the random policy and kills itself
right after an order reached the broker (before its fill is recorded), or right after the
broker filled an order (before the ledger recorded the fill). A second process finishes the
session. Afterwards: no order was sent twice, the ledger agrees with the broker, and the
ledger is the one an uninterrupted run writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from intraday_jules.broker import SimulatedBroker
from intraday_jules.broker.journal import Journal
from intraday_jules.domain.orders import Order, OrderIntent, OrderStatus, Side
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.market_data.store import BarStore
from intraday_jules.observability.metrics import TradingMetrics
from intraday_jules.risk import RiskEngine, RiskLimits
from intraday_jules.trading import SessionConfig, StreamFeed, make_policy, run_session
from intraday_jules_tests.conftest import REPO_ROOT
from intraday_jules_tests.trading import crash_child
from intraday_jules_tests.trading.conftest import (
    NO_REPORT,
    SESSION,
    ScriptedFeed,
    SimulatedCrash,
    item_index,
    ledger_json,
    minute,
    replay,
)


def child(url: str, journal: Path, replay_path: Path,
          kill: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "intraday_jules_tests.trading.crash_child", url, str(journal),
         str(replay_path), kill], capture_output=True, text=True, timeout=180, env=env,
        cwd=REPO_ROOT, check=False)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory,
                  replay_source: ReplaySource) -> dict[str, list[dict[str, object]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('clean')}/clean.db"
    replay(url, replay_source, "random", seed=crash_child.SEED, until=crash_child.UNTIL).run()
    return ledger_json(url)


def journal_ids(journal: Path, kind: str, key: str) -> list[str]:
    return [r[key] for r in Journal(journal).records() if r["type"] == kind]


def test_killed_after_an_order_reached_the_broker_restart_sends_its_unsent_twin_once(
        tmp_path: Path, replay_path: Path,
        uninterrupted: dict[str, list[dict[str, object]]]) -> None:
    """Order 10 (NVDA, 10:36 ET) is sent, its twin for MSFT is recorded but not yet sent."""
    url, journal = f"sqlite:///{tmp_path / 'crash.db'}", tmp_path / "broker.jsonl"
    assert child(url, journal, replay_path, "submit:10").returncode == -9
    recorded = {o["client_order_id"] for o in ledger_json(url)["orders"]}
    assert recorded - set(journal_ids(journal, "order", "client_order_id")) == {
        "IJ-20250203-1536-MSFT"}
    restart_and_check(url, journal, replay_path, uninterrupted)


def test_killed_after_the_broker_filled_before_the_ledger_recorded_the_fill(
        tmp_path: Path, replay_path: Path,
        uninterrupted: dict[str, list[dict[str, object]]]) -> None:
    url, journal = f"sqlite:///{tmp_path / 'crash.db'}", tmp_path / "broker.jsonl"
    assert child(url, journal, replay_path, "fill:2").returncode == -9
    recorded = {f["exec_id"] for f in ledger_json(url)["fills"]}
    assert set(journal_ids(journal, "fill", "exec_id")) - recorded
    restart_and_check(url, journal, replay_path, uninterrupted)


def test_killed_after_the_orders_went_out_before_the_minutes_fills_were_written(
        tmp_path: Path, replay_path: Path,
        uninterrupted: dict[str, list[dict[str, object]]]) -> None:
    """The fill at 10:26 ET's open is booked before the minute's order goes out and written
    to the ledger only after it (off the decision-latency path): a kill in between loses
    nothing, the broker has the fill and the restart records it."""
    url, journal = f"sqlite:///{tmp_path / 'crash.db'}", tmp_path / "broker.jsonl"
    assert child(url, journal, replay_path, "submit:4").returncode == -9
    crashed = ledger_json(url)
    assert "SIM-IJ-20250203-1525-MSFT-1" in journal_ids(journal, "fill", "exec_id")
    assert "SIM-IJ-20250203-1525-MSFT-1" not in {f["exec_id"] for f in crashed["fills"]}
    assert "IJ-20250203-1526-NVDA" in {o["client_order_id"] for o in crashed["orders"]}
    restart_and_check(url, journal, replay_path, uninterrupted)


def test_a_power_loss_that_drops_the_journals_unsynced_tail_sends_nothing_twice(
        tmp_path: Path, replay_path: Path,
        uninterrupted: dict[str, list[dict[str, object]]]) -> None:
    """The journal's disk sync runs after ``submit`` returned (group commit): a power loss
    can drop the newest line, here order 10, which the broker then never saw. The restart
    finds it recorded and unanswered in the ledger, asks the broker (unknown) and sends it
    once, with its unsent twin; the session ends as the uninterrupted one."""
    url, journal = f"sqlite:///{tmp_path / 'crash.db'}", tmp_path / "broker.jsonl"
    assert child(url, journal, replay_path, "submit:10").returncode == -9
    lines = journal.read_text(encoding="utf-8").splitlines(keepends=True)
    assert '"client_order_id":"IJ-20250203-1536-NVDA"' in lines[-1]
    journal.write_text("".join(lines[:-1]), encoding="utf-8")  # the unsynced tail is lost
    assert "IJ-20250203-1536-NVDA" not in journal_ids(journal, "order", "client_order_id")
    restart_and_check(url, journal, replay_path, uninterrupted)


def restart_and_check(url: str, journal: Path, replay_path: Path,
                      uninterrupted: dict[str, list[dict[str, object]]]) -> None:
    before = ledger_json(url)
    restarted = child(url, journal, replay_path, "none")
    assert restarted.returncode == 0, restarted.stderr[-2000:]

    records = list(Journal(journal).records())
    sent = [r["client_order_id"] for r in records if r["type"] == "order"]
    assert len(sent) == len(set(sent)), "an order reached the broker twice"
    assert not [r for r in records if r["type"] == "resubmit"]
    after = ledger_json(url)
    assert {o["client_order_id"] for o in after["orders"]} == set(sent)
    broker = SimulatedBroker(journal=journal)
    assert {f["exec_id"] for f in after["fills"]} == {
        f.exec_id for f in broker.fills_since(crash_child.UNTIL.replace(hour=0))}
    ledger = Ledger.connect(url)
    assert ledger.reconcile(broker.positions()).matches
    assert len(before["decisions"]) < len(after["decisions"])
    assert json.dumps(after, sort_keys=True) == json.dumps(uninterrupted, sort_keys=True)


def test_an_order_recorded_but_never_sent_expires_when_the_restart_comes_too_late(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    url, journal = f"sqlite:///{tmp_path / 'late.db'}", tmp_path / "broker.jsonl"
    crashing = replay(url, replay_source, "always-sell", until=minute(70), journal=journal)
    crashing.feed = ScriptedFeed(crashing.feed, crash_after=item_index(60))  # type: ignore
    with pytest.raises(SimulatedCrash):
        crashing.run()
    ledger = Ledger.connect(url)  # the crash came between recording an order and sending it
    stranded = ledger.record_order(Order.from_intent(
        OrderIntent("NVDA", Side.BUY, 3, minute(59), Decimal("118")), SESSION))

    def ten_minutes_later() -> datetime:
        return minute(70)

    result = run_session(
        SessionConfig(SESSION), feed=StreamFeed([], name="live"),
        broker=SimulatedBroker(journal=journal, clock=ten_minutes_later),
        policy=make_policy("always-sell"), ledger=ledger,
        risk=RiskEngine(RiskLimits(), ledger, clock=ten_minutes_later),
        store=BarStore(ledger.engine), metrics=TradingMetrics(clock=ten_minutes_later),
        clock=ten_minutes_later, extras=NO_REPORT)
    assert result.restarted
    assert ledger.order_statuses(SESSION)[stranded.client_order_id] is OrderStatus.CANCELLED
    assert stranded.client_order_id not in journal_ids(journal, "order", "client_order_id")
