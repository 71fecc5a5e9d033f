"""Positions are closed before the close: 15:55 ET on a normal day (see
test_replay_sessions), 12:55 ET on a half day (from the XNYS calendar), and a flatten the
broker refuses is retried on the next bar."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from intraday_jules.broker import SimulatedBroker
from intraday_jules.domain.calendar import session_window
from intraday_jules.domain.orders import Order
from intraday_jules.market_data.simulated import SimulatedSource
from intraday_jules_tests.trading.conftest import ledger_json, replay

HALF_DAY = date(2024, 11, 29)  # the day after Thanksgiving: close 13:00 ET (18:00Z)


@pytest.fixture(scope="module")
def simulated() -> SimulatedSource:
    return SimulatedSource(seed=7)


def test_half_day_flattens_on_the_bar_closing_at_1255_et(tmp_path: Path,
                                                         simulated: SimulatedSource) -> None:
    assert session_window(HALF_DAY).is_half_day
    url = f"sqlite:///{tmp_path / 'half.db'}"
    result = replay(url, simulated, "always-buy", session=HALF_DAY).run()
    ledger = ledger_json(url, HALF_DAY)
    assert len(ledger["decisions"]) == 210
    assert [o["ts"] for o in ledger["orders"] if o["origin"] == "FLATTEN"] == [
        "2024-11-29T17:54:00Z", "2024-11-29T17:54:00Z"]
    assert max(f["ts"] for f in ledger["fills"]) == "2024-11-29T17:55:00Z"
    assert result.open_positions == {}


def test_a_refused_flatten_is_retried_on_the_next_bar(tmp_path: Path,
                                                      simulated: SimulatedSource) -> None:
    def refuse_first_flatten(order: Order) -> str | None:
        first = order.client_order_id.startswith("IJF") and order.ts.minute == 54
        return "no liquidity" if first else None

    url = f"sqlite:///{tmp_path / 'retry.db'}"
    broker = SimulatedBroker(reject=refuse_first_flatten)
    result = replay(url, simulated, "always-buy", session=HALF_DAY, broker=broker).run()
    orders = {o["client_order_id"]: o["status"] for o in ledger_json(url, HALF_DAY)["orders"]
              if o["origin"] == "FLATTEN"}
    assert orders == {"IJF-20241129-1754-NVDA": "REJECTED", "IJF-20241129-1754-MSFT": "REJECTED",
                      "IJF-20241129-1755-NVDA": "FILLED", "IJF-20241129-1755-MSFT": "FILLED"}
    assert result.open_positions == {}
