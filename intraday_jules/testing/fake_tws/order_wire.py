"""Order-flow messages (openOrder, orderStatus, execDetails, commissionReport) in TWS order.

openOrder is the longest message in the protocol; it is built here from the order's few
meaningful fields, everything else sent as the "unset" value TWS uses (empty, or 0 for flags
and counts). Field order follows ``ib_async/decoder.py`` ``openOrder`` for servers 173..178.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from intraday_jules.testing.fake_tws.outgoing import (
    COMMISSION_REPORT,
    EXECUTION_DATA,
    OPEN_ORDER,
    ORDER_STATUS,
    Fields,
    StockSpec,
)
from intraday_jules.testing.fake_tws.wire import ib_datetime

FA_PROFILE_DESUPPORT = 177
PENDING_PRICE_REVISION = 178


@dataclass(slots=True)
class SimOrder:
    """One order at the fake exchange: what was asked and what has happened so far."""

    order_id: int
    client_id: int
    perm_id: int
    spec: StockSpec
    action: str
    quantity: float
    order_type: str
    limit_price: float | None
    tif: str
    account: str
    order_ref: str
    status: str = "PreSubmitted"
    filled: float = 0.0
    avg_price: float = 0.0
    last_price: float = 0.0

    @property
    def remaining(self) -> float:
        return self.quantity - self.filled

    @property
    def is_done(self) -> bool:
        return self.status in ("Filled", "Cancelled", "Inactive")


def open_order(o: SimOrder, server_version: int) -> Fields:
    """openOrder (no version field since server 145) for a plain stock order."""
    fields: Fields = [OPEN_ORDER, o.order_id, *o.spec.position_contract(),
                      o.action, o.quantity, o.order_type, o.limit_price, None, o.tif, "",
                      o.account, "O", 0, o.order_ref, o.client_id, o.perm_id, 0, 0, 0.0, "",
                      "", "", "", ""]
    if server_version < FA_PROFILE_DESUPPORT:
        fields.append("")  # faProfile
    fields += ["", "", "0", "", "", 0, "", -1, 0, "", "", "", "", "", "", 0, 0, 0, "", 3, 0, 0,
               "", 0, 0, "", 0, "", ""]  # modelCode .. deltaNeutralAuxPrice
    fields += [0, 0, "", "", "", "", ""]  # continuousUpdate .. comboLegsDescrip
    fields += [0, 0, 0]  # combo legs, order combo legs, smart combo routing params
    fields += ["", "", ""]  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
    fields += [""]  # hedgeType
    fields += [0, "", "", 0, 0]  # optOutSmartRouting, clearing acct/intent, notHeld, dnc
    fields += [""]  # algoStrategy
    fields += [0, 0, o.status, *[""] * 9, "", "", "", "", "", 0, 0]  # solicited .. randomize
    fields += [0]  # conditions
    fields += ["", "", "", "", "", "", "", 0, "", "", "", "", 0, 0, "", 0]  # adjusted .. algo
    fields += ["", "", 0]  # duration, postToAts, autoCancelParent
    fields += ["", "", "", "", ""]  # minTradeQty .. midOffsetAtHalf (servers >= 170)
    return fields


def order_status(o: SimOrder) -> Fields:
    """orderStatus without version (servers >= 127): ... lastFillPrice, clientId, whyHeld."""
    return [ORDER_STATUS, o.order_id, o.status, o.filled, o.remaining, o.avg_price, o.perm_id,
            0, o.last_price, o.client_id, "", 0.0]


@dataclass(frozen=True, slots=True)
class SimExecution:
    """One fill, kept so that reqExecutions can replay it after a reconnect."""

    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    spec: StockSpec
    time: datetime
    account: str
    side: str  # BOT or SLD
    shares: float
    price: float
    cum_qty: float
    avg_price: float
    order_ref: str
    commission: float
    realized_pnl: float | None


def exec_details(req_id: int, e: SimExecution, server_version: int) -> Fields:
    contract = e.spec.position_contract()
    contract[7] = "ISLAND"  # the venue that filled it
    fields: Fields = [EXECUTION_DATA, req_id, e.order_id, *contract, e.exec_id,
                      ib_datetime(e.time), e.account, "ISLAND", e.side, e.shares, e.price,
                      e.perm_id, e.client_id, 0, e.cum_qty, e.avg_price, e.order_ref, "", "",
                      "", 1]
    if server_version >= PENDING_PRICE_REVISION:
        fields.append(0)
    return fields


def commission_report(e: SimExecution) -> Fields:
    pnl = "" if e.realized_pnl is None else round(e.realized_pnl, 4)
    return [COMMISSION_REPORT, 1, e.exec_id, e.commission, "USD", pnl, "", ""]
