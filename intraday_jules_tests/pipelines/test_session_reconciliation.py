"""Session reconciliation: a session traded by a model on the simulated broker replays, through
the evaluation path, to the same decisions, orders and fill prices; a tampered ledger does not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from intraday_jules.db import create_db_engine, upgrade_to_head
from intraday_jules.domain.orders import IntentOrigin
from intraday_jules.ledger import Ledger, SessionPolicy
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.pipelines.session_reconciliation import (
    ReconciliationError,
    SessionReconciliation,
    reconcile_at,
)
from intraday_jules.trading import SessionConfig
from intraday_jules.trading.replay import build_replay_session
from intraday_jules.trading.session import Collaborators
from intraday_jules_tests.reconcile_support import (
    SESSION,
    no_halt_limits,
    save_model,
    tampered_copy,
    tiny_dual,
)

pytest.importorskip("sb3_contrib")
JSON_KEYS = ["session", "model_id", "decisions", "decision_mismatches", "orders",
             "order_mismatches", "fills", "shortfall_usd", "shortfall_bps", "verdict",
             "mismatches"]


@pytest.fixture(scope="module")
def traded(sim_regular_minute_file: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[str, Path, str]:
    """(database URL, models dir, model id) of a session traded by ``model:ID``."""
    folder = tmp_path_factory.mktemp("reconcile")
    url, models = f"sqlite:///{folder / 'traded.db'}", folder / "models"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    model_id = save_model(tiny_dual(sim_regular_minute_file), engine, models)
    engine.dispose()
    session = build_replay_session(
        SessionConfig(SESSION), database_url=url,
        source=ReplaySource(sim_regular_minute_file), policy=f"model:{model_id}", seed=4,
        limits=no_halt_limits(), models_dir=models, extras=Collaborators(report=False))
    session.run()
    session.ledger.engine.dispose()
    return url, models, model_id


def ledger_counts(url: str) -> tuple[int, int, int]:
    ledger = Ledger.connect(url)
    try:
        decided = sum(1 for d in ledger.decisions(SESSION) if d.detail.get("actions"))
        policy = sum(1 for o in ledger.orders(SESSION) if o.origin is IntentOrigin.POLICY)
        return decided, policy, len(ledger.fills(SESSION))
    finally:
        ledger.engine.dispose()


def test_a_session_traded_on_the_simulated_broker_reconciles_as_match(traded: Any) -> None:
    url, models, model_id = traded
    result = reconcile_at(SESSION, database_url=url, models_dir=models)
    decided, policy_orders, fills = ledger_counts(url)
    assert decided > 100 and policy_orders > 0 and fills >= policy_orders
    assert (result.decisions, result.orders, result.fills) == (decided, policy_orders, fills)
    assert result.verdict == "match", result.mismatches[:5]
    assert result.decision_mismatches == result.order_mismatches == 0
    assert result.shortfall_usd == 0 and result.shortfall_bps == 0.0
    payload = result.to_json()
    assert list(payload) == JSON_KEYS
    assert payload["model_id"] == model_id and payload["mismatches"] == []
    runs = Ledger.connect(url).session_policies(SESSION)
    assert [(r.policy, r.model_id, r.seed, r.mode, r.broker) for r in runs] == [
        (f"model:{model_id}", model_id, 4, "sample", "simulated")]


def tampered(url: str, folder: Path, statement: str) -> str:
    """The URL of a copy of the traded database with one row changed by ``statement``."""
    source = Path(url.removeprefix("sqlite:///"))
    return f"sqlite:///{tampered_copy(source, folder / 'tampered.db', statement)}"


def first_policy_order(url: str) -> Any:
    ledger = Ledger.connect(url)
    try:
        return next(o for o in ledger.orders(SESSION) if o.origin is IntentOrigin.POLICY)
    finally:
        ledger.engine.dispose()


def test_a_changed_order_quantity_is_an_order_mismatch(traded: Any, tmp_path: Path) -> None:
    url, models, _ = traded
    order = first_policy_order(url)
    bad = tampered(url, tmp_path, f"UPDATE orders SET quantity = {order.quantity + 1} "
                        f"WHERE client_order_id = '{order.client_order_id}'")
    # the fills of the order now under-fill it, which the ledger allows (a partial fill)
    result = reconcile_at(SESSION, database_url=bad, models_dir=models)
    assert result.verdict == "diverged"
    assert result.order_mismatches == 1 and result.decision_mismatches == 0
    [mismatch] = result.mismatches
    assert (mismatch.ts, mismatch.symbol) == (order.ts, order.symbol)
    assert mismatch.live == f"{order.side.value} {order.quantity + 1}"
    assert mismatch.replay == f"{order.side.value} {order.quantity}"


def test_a_changed_decision_is_a_decision_mismatch(traded: Any, tmp_path: Path) -> None:
    url, models, _ = traded
    ledger = Ledger.connect(url)
    decision = next(d for d in ledger.decisions(SESSION)
                    if d.detail.get("actions", {}) and d.detail["actions"]["NVDA"] != "buy")
    ledger.engine.dispose()
    detail = {**decision.detail, "actions": {**decision.detail["actions"], "NVDA": "buy"}}
    stamp = decision.ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    bad = tampered(url, tmp_path, "UPDATE decisions SET detail = '"
                        + json.dumps(detail).replace("'", "''") + f"' WHERE ts = '{stamp}'")
    result = reconcile_at(SESSION, database_url=bad, models_dir=models)
    assert result.verdict == "diverged" and result.decision_mismatches == 1
    assert result.to_json()["mismatches"][0] == {
        "ts": stamp.replace(".000000", ""), "symbol": "NVDA", "live": "buy",
        "replay": decision.detail["actions"]["NVDA"]}


def test_a_changed_fill_price_is_reported_as_shortfall_not_divergence(
        traded: Any, tmp_path: Path) -> None:
    url, models, _ = traded
    ledger = Ledger.connect(url)
    fill = next(f for f in ledger.fills(SESSION) if f.side.value == "BUY")
    ledger.engine.dispose()
    bad = tampered(url, tmp_path, "UPDATE fills SET price = '"
                        + format(fill.price + 1, "f") + f"' WHERE exec_id = '{fill.exec_id}'")
    result = reconcile_at(SESSION, database_url=bad, models_dir=models)
    assert result.verdict == "match"
    assert result.shortfall_usd == fill.quantity  # paid $1 a share more than the model
    assert result.shortfall_bps > 0


def test_a_session_without_a_recorded_model_is_a_clear_error(tmp_path: Path,
                                                              traded: Any) -> None:
    _, models, _ = traded
    url = f"sqlite:///{tmp_path / 'random.db'}"
    ledger = Ledger.connect(url)
    with pytest.raises(ReconciliationError, match="no recorded policy"):
        reconcile_at(SESSION, database_url=url, models_dir=models)
    ledger.record_session_policy(SessionPolicy(SESSION, "random", None, 0, None, "simulated"))
    ledger.engine.dispose()
    with pytest.raises(ReconciliationError, match="policy 'random', which has no model"):
        reconcile_at(SESSION, database_url=url, models_dir=models)


def test_the_json_lists_at_most_twenty_mismatches() -> None:
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from intraday_jules.pipelines.session_reconciliation import Mismatch

    start = datetime(2025, 2, 3, 15, 20, tzinfo=UTC)
    many = tuple(Mismatch(start + timedelta(minutes=i), "NVDA", "buy", "sell") for i in range(25))
    result = SessionReconciliation(SESSION, "m", 25, 25, 0, 0, 0, Decimal(0), 0.0, many)
    assert len(result.to_json()["mismatches"]) == 20 and result.verdict == "diverged"


class _IbBroker:
    """Only its name matters: the refusal comes before anything touches the broker."""

    name = "ibkr"


def test_the_live_path_refuses_a_model_policy_on_a_non_simulated_broker(tmp_path: Path) -> None:
    import logging

    from intraday_jules.pipelines.trading import run_live_session
    from intraday_jules.pipelines.trading_parts import PushTarget

    ledger = Ledger.connect(f"sqlite:///{tmp_path / 'live.db'}")
    with pytest.raises(ValueError, match="paper and live brokers require the promoted model"):
        run_live_session(SessionConfig(SESSION), feed=None, broker=_IbBroker(),  # type: ignore[arg-type]
                         ledger=ledger, risk=None, policy="model:m1",  # type: ignore[arg-type]
                         models_dir=tmp_path, push=PushTarget(), log=logging.getLogger())
    assert ledger.session_policies(SESSION) == [] and ledger.decisions(SESSION) == []
    ledger.engine.dispose()
