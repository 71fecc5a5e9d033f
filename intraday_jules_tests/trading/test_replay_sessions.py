"""A whole replayed session (2025-02-03 of the simulated stand-in) through the live loop with each
baseline policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.trading import SessionResult
from intraday_jules_tests.trading.conftest import ledger_json, minute, replay

POLICIES = ("random", "always-buy", "always-sell", "promoted")
FLATTEN_BAR = datetime(2025, 2, 3, 20, 54, tzinfo=UTC)  # 15:54 ET: closes at 15:55
Run = tuple[SessionResult, dict[str, list[dict[str, Any]]]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory,
         replay_source: ReplaySource) -> dict[str, Run]:
    out = {}
    for policy in POLICIES:
        url = f"sqlite:///{tmp_path_factory.mktemp(policy)}/ledger.db"
        out[policy] = (replay(url, replay_source, policy).run(), ledger_json(url))
    return out


def position_before(fills: list[dict[str, Any]], symbol: str, ts: str) -> int:
    sign = {"BUY": 1, "SELL": -1}
    return sum(sign[f["side"]] * f["quantity"] for f in fills
               if f["symbol"] == symbol and f["ts"] <= ts)


@pytest.mark.parametrize("policy", POLICIES)
def test_each_baseline_policy_decides_every_minute_once_and_ends_flat(
        runs: dict[str, Run], policy: str) -> None:
    result, ledger = runs[policy]
    stamps = [d["ts"] for d in ledger["decisions"]]
    assert len(stamps) == 390 and len(set(stamps)) == 390
    assert result.open_positions == {}
    assert result.fills == len(ledger["fills"])
    assert all(o["status"] == "FILLED" for o in ledger["orders"])
    assert result.latencies_ms and min(result.latencies_ms) > 0


def test_random_policy_trades_through_the_simulated_broker(runs: dict[str, Run]) -> None:
    result, ledger = runs["random"]
    assert result.fills >= 10
    assert {f["symbol"] for f in ledger["fills"]} == {"NVDA", "MSFT"}
    assert result.pnl == Decimal(result.end_equity) - Decimal("10000")


def test_always_buy_never_exceeds_1000_usd_per_asset_when_it_orders(
        runs: dict[str, Run]) -> None:
    _, ledger = runs["always-buy"]
    buys = [o for o in ledger["orders"] if o["side"] == "BUY"]
    assert buys, "always-buy must have bought"
    for order in buys:
        held = position_before(ledger["fills"], order["symbol"], order["ts"])
        after = (held + order["quantity"]) * Decimal(order["reference_price"])
        assert after <= Decimal("1000"), order
    assert max((position_before(ledger["fills"], o["symbol"], o["ts"]) + o["quantity"])
               * Decimal(o["reference_price"]) for o in buys) > Decimal("900")


def test_always_sell_never_shorts_so_it_never_trades(runs: dict[str, Run]) -> None:
    result, ledger = runs["always-sell"]
    assert ledger["orders"] == [] and result.risk_events == 0


def test_promoted_without_a_model_holds_in_reducing_and_records_why(
        runs: dict[str, Run]) -> None:
    result, ledger = runs["promoted"]
    assert result.state == "REDUCING"
    assert [e["kind"] for e in ledger["risk_events"]] == ["MODEL_LOAD_FAILED"]
    assert ledger["orders"] == []


def test_loss_path_latches_halted_flattens_then_sends_nothing_but_flatten_orders(
        runs: dict[str, Run]) -> None:
    result, ledger = runs["random"]
    assert result.state == "HALTED"
    halt = next(e for e in ledger["risk_events"] if e["kind"] == "DAILY_LOSS_LIMIT")
    after = [o for o in ledger["orders"] if o["ts"] >= halt["ts"]]
    assert after and {o["origin"] for o in after} == {"FLATTEN"}
    assert result.open_positions == {}
    denied = [e for e in ledger["risk_events"] if e["kind"] == "ORDER_DENIED"]
    assert denied and all(e["ts"] >= halt["ts"] and "HALTED" in e["reason"] for e in denied)


def test_positions_are_flattened_on_the_bar_closing_at_1555_et(runs: dict[str, Run]) -> None:
    _, ledger = runs["always-buy"]
    flatten = [o for o in ledger["orders"] if o["origin"] == "FLATTEN"]
    assert {o["ts"] for o in flatten} == {"2025-02-03T20:54:00Z"}
    assert {f["ts"] for f in ledger["fills"] if f["client_order_id"].startswith("IJF")} == {
        "2025-02-03T20:55:00Z"}
    assert all(o["ts"] <= "2025-02-03T20:54:00Z" for o in ledger["orders"])
    closed = [d for d in ledger["decisions"] if d["ts"] > "2025-02-03T20:54:00Z"]
    assert len(closed) == 5 and {d["action"] for d in closed} == {"closed"}


def test_no_decision_during_the_first_50_minutes_of_feature_warm_up(
        runs: dict[str, Run]) -> None:
    _, ledger = runs["always-buy"]
    actions = {d["ts"]: d["action"] for d in ledger["decisions"]}
    assert actions[minute(49).isoformat().replace("+00:00", "Z")] == "warmup"
    assert actions[minute(50).isoformat().replace("+00:00", "Z")] == "NVDA:buy,MSFT:buy"
    assert min(o["ts"] for o in ledger["orders"]) == "2025-02-03T15:20:00Z"


def test_replaying_again_into_a_fresh_database_gives_an_identical_ledger(
        db_url: str, runs: dict[str, Run], replay_source: ReplaySource) -> None:
    """Twice into two fresh databases; on PostgreSQL too (same JSON as on SQLite)."""
    again = replay(db_url, replay_source, "random").run()
    first = runs["random"][1]
    assert first["orders"] and first["fills"] and first["risk_events"]
    assert json.dumps(ledger_json(db_url), sort_keys=True) == json.dumps(first, sort_keys=True)
    assert again.pnl == runs["random"][0].pnl and again.state == runs["random"][0].state
