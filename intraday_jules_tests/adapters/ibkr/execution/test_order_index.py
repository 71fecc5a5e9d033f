"""The IB -> domain mappings and the broker's order index, on ib_async's own data objects:
what the fake gateway cannot show (completed orders, Inactive, exotic float prices)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from ib_async import CommissionReport, Execution, Fill, MarketOrder, OrderStatus, Stock, Trade

from intraday_jules.adapters.ibkr.execution.orders import OrderIndex
from intraday_jules.adapters.ibkr.execution.parsing import exact, fill_of, status_of
from intraday_jules.broker import FillReport, OrderAccepted, OrderCancelled, OrderRejected
from intraday_jules.domain.orders import OrderStatus as Status
from intraday_jules.domain.orders import Side

ACCOUNT = "DU1234567"
NOW = datetime(2025, 2, 3, 15, 0, tzinfo=UTC)


def _trade(ref: str, status: str, quantity: int = 10, filled: float = 0.0,
           perm_id: int = 7) -> Trade:
    order = MarketOrder("BUY", quantity, orderRef=ref, account=ACCOUNT, permId=perm_id,
                        orderId=perm_id)
    return Trade(Stock("NVDA", "SMART", "USD"), order,
                 OrderStatus(orderId=perm_id, status=status, filled=filled), [], [])


def _fill(ref: str, exec_id: str, shares: float, price: float,
          commission: float | None) -> Fill:
    execution = Execution(execId=exec_id, time=NOW, acctNumber=ACCOUNT, side="BOT",
                          shares=shares, price=price, permId=7, orderRef=ref)
    report = CommissionReport() if commission is None else CommissionReport(
        execId=exec_id, commission=commission, currency="USD")
    return Fill(Stock("NVDA", "SMART", "USD"), execution, report, NOW)


def _index() -> OrderIndex:
    index = OrderIndex(lambda: NOW)
    index.account = ACCOUNT
    return index


@pytest.mark.parametrize(("ib_status", "filled", "rejected", "ours"), [
    ("PendingSubmit", 0, False, Status.SUBMITTED),
    ("PreSubmitted", 0, False, Status.SUBMITTED),
    ("Submitted", 3, False, Status.PARTIALLY_FILLED),
    ("PendingCancel", 0, False, Status.SUBMITTED),
    ("Filled", 10, False, Status.FILLED),
    ("Cancelled", 0, False, Status.CANCELLED),
    ("ApiCancelled", 0, False, Status.CANCELLED),
    ("Cancelled", 0, True, Status.REJECTED),
    ("Inactive", 0, False, Status.REJECTED),
])
def test_ib_order_status_maps_to_ours(ib_status: str, filled: int, rejected: bool,
                                      ours: Status) -> None:
    assert status_of(ib_status, filled, rejected) is ours


def test_an_ib_status_we_do_not_know_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="unknown IB order status"):
        status_of("Teleported", 0)


def test_wire_floats_become_the_decimals_they_were_written_as() -> None:
    assert exact(136.2, "price") == Decimal("136.2") and str(exact(136.2, "price")) == "136.2"
    assert exact(0.1 + 0.2, "price") == Decimal("0.30000000")  # finer than 8 places: rounded
    with pytest.raises(ValueError, match="non-finite"):
        exact(float("nan"), "price")


def test_a_fill_needs_its_commission_report_and_maps_exactly() -> None:
    with pytest.raises(ValueError, match="no commission report"):
        fill_of(_fill("IJ-20250203-1459-NVDA", "e1", 10, 136.17, None))
    fill = fill_of(_fill("IJ-20250203-1459-NVDA", "e1", 10, 136.17, 1.0))
    assert (fill.side, fill.quantity, fill.price, fill.commission, fill.exec_id) == \
        (Side.BUY, 10, Decimal("136.17"), Decimal("1"), "e1")
    assert fill_of(_fill("", "e2", 1, 136.0, 1.0)).client_order_id == "IB-PERM-7"


def test_completed_orders_make_a_restarted_broker_answer_duplicates() -> None:
    index = _index()
    index.refresh([], [_trade("IJ-A", "Cancelled"), _trade("IJ-B", "Inactive", perm_id=8)], [])
    assert (index.state("IJ-A"), index.state("IJ-B")) == (Status.CANCELLED, Status.REJECTED)
    again = index.duplicate("IJ-A", NOW)
    assert isinstance(again, OrderAccepted) and again.duplicate
    assert isinstance(index.duplicate("IJ-B", NOW), OrderRejected)
    assert index.drain() == []  # what ended before the broker started is not news


def test_after_a_reconnect_what_ended_while_away_is_reported_once() -> None:
    index = _index()
    index.refresh([_trade("IJ-A", "Submitted"), _trade("IJ-B", "Submitted", perm_id=8)], [], [])
    away = _fill("IJ-B", "e9", 10, 136.5, 1.0)
    index.refresh([], [], [away])  # A vanished unfilled, B filled while we were away
    events = index.drain()
    assert [type(e) for e in events] == [FillReport, OrderCancelled]
    assert events[1].client_order_id == "IJ-A"
    assert (index.state("IJ-A"), index.state("IJ-B")) == (Status.CANCELLED, Status.FILLED)
    index.refresh([], [], [away])
    assert index.drain() == []


def test_an_execution_is_reported_only_once_its_commission_arrives() -> None:
    index = _index()
    index.refresh([_trade("IJ-A", "Submitted")], [], [])
    pending = _fill("IJ-A", "e1", 4, 136.0, None)
    index.on_execution(pending)
    assert index.drain() == []
    pending.commissionReport.execId, pending.commissionReport.commission = "e1", 1.0
    index.on_execution(pending)
    index.on_execution(pending)
    (report,) = index.drain()
    assert isinstance(report, FillReport) and report.fill.quantity == 4
