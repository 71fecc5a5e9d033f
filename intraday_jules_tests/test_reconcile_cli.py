"""``intraday-jules trade --policy model:ID`` then ``intraday-jules reconcile --session D``: the
session an unpromoted model traded on the simulated broker reconciles as ``match``; a tampered
ledger is ``diverged`` (exit 3); a session without a model, an unknown model id and an IB
broker for ``model:ID`` are clear refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from intraday_jules.db import create_db_engine, upgrade_to_head
from intraday_jules.domain.orders import IntentOrigin
from intraday_jules.ledger import Ledger
from intraday_jules_tests.reconcile_support import (
    LIMIT_FLAGS,
    SESSION,
    save_model,
    tampered_copy,
    tiny_dual,
)

pytest.importorskip("sb3_contrib")
DAY = SESSION.isoformat()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "intraday_jules.cli", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def environment(home: Path, db: Path) -> dict[str, str]:
    return {**os.environ, "INTRADAY_JULES_HOME": str(home),
            "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{db}", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def traded(sim_regular_minute_file: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[dict[str, str], Path, str, dict[str, Any]]:
    """(env, database, model id, trade --json) after ``trade --policy model:ID``."""
    home = tmp_path_factory.mktemp("reconcile-cli")
    db = home / "cli.db"
    engine = create_db_engine(f"sqlite:///{db}")
    upgrade_to_head(engine)
    model_id = save_model(tiny_dual(sim_regular_minute_file), engine, home / "models")
    engine.dispose()
    env = environment(home, db)
    proc = cli(env, "trade", "--session", DAY, "--source", "replay", "--replay-path",
               str(sim_regular_minute_file), "--broker", "simulated", "--policy",
               f"model:{model_id}", "--seed", "2", *LIMIT_FLAGS, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return env, db, model_id, json.loads(proc.stdout)


def test_reconcile_prints_match_for_a_session_traded_by_an_unpromoted_model(
        traded: Any) -> None:
    env, db, model_id, trade = traded
    assert trade["policy"] == f"model:{model_id}" and trade["fills"] > 0
    proc = cli(env, "reconcile", "--session", DAY, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    payload = json.loads(proc.stdout)
    ledger = Ledger.connect(f"sqlite:///{db}")
    decided = sum(1 for d in ledger.decisions(SESSION) if d.detail.get("actions"))
    policy_orders = sum(1 for o in ledger.orders(SESSION) if o.origin is IntentOrigin.POLICY)
    fills = len(ledger.fills(SESSION))
    ledger.engine.dispose()
    assert decided > 0 and policy_orders > 0 and fills == trade["fills"]
    assert payload == {"session": DAY, "model_id": model_id, "decisions": decided,
                       "decision_mismatches": 0, "orders": policy_orders,
                       "order_mismatches": 0, "fills": fills, "shortfall_usd": 0.0,
                       "shortfall_bps": 0.0, "verdict": "match", "mismatches": []}
    human = cli(env, "reconcile", "--session", DAY)
    assert human.returncode == 0 and "match" in human.stdout and "shortfall $0.00" in human.stdout


def test_reconcile_exits_3_with_the_mismatch_when_the_ledger_was_changed(
        traded: Any, tmp_path: Path) -> None:
    env, db, _, _ = traded
    ledger = Ledger.connect(f"sqlite:///{db}")
    order = next(o for o in ledger.orders(SESSION) if o.origin is IntentOrigin.POLICY)
    ledger.engine.dispose()
    copy = tampered_copy(db, tmp_path / "tampered.db",
                         f"UPDATE orders SET quantity = {order.quantity + 2} "
                         f"WHERE client_order_id = '{order.client_order_id}'")
    proc = cli({**env, "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{copy}"}, "reconcile",
               "--session", DAY, "--json")
    assert proc.returncode == 3, proc.stderr[-2000:]
    payload = json.loads(proc.stdout)
    assert payload["verdict"] == "diverged" and payload["order_mismatches"] == 1
    [mismatch] = payload["mismatches"]
    assert mismatch["symbol"] == order.symbol
    assert mismatch["live"] == f"{order.side.value} {order.quantity + 2}"
    assert mismatch["replay"] == f"{order.side.value} {order.quantity}"


def test_reconcile_of_a_session_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    env = environment(tmp_path / "home", tmp_path / "empty.db")
    proc = cli(env, "reconcile", "--session", DAY, "--json")
    assert proc.returncode == 1
    assert "has no recorded policy" in json.loads(proc.stdout)["error"]
    weekend = cli(env, "reconcile", "--session", "2025-02-01")
    assert weekend.returncode == 1 and "not an XNYS session" in weekend.stderr


def test_model_policy_is_refused_on_the_ib_broker_and_for_an_unknown_id(
        tmp_path: Path, sim_regular_minute_file: Path) -> None:
    env = environment(tmp_path / "home", tmp_path / "t.db")
    proc = cli(env, "trade", "--session", DAY, "--broker", "ibkr", "--policy", "model:m1",
               "--json")
    assert proc.returncode == 2
    assert "paper and live brokers require the promoted model" in json.loads(
        proc.stdout)["error"]
    unknown = cli(env, "trade", "--session", DAY, "--source", "replay", "--replay-path",
                  str(sim_regular_minute_file), "--policy", "model:no-such-model", "--json")
    assert unknown.returncode == 1
    assert "no model 'no-such-model'" in json.loads(unknown.stdout)["error"]
    ledger = Ledger.connect(f"sqlite:///{tmp_path / 't.db'}")
    assert ledger.decisions(SESSION) == [] and ledger.orders(SESSION) == []
    ledger.engine.dispose()
