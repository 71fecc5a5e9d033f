"""Requests the gateway understands, parsed from the client's field lists.

Field positions follow ``ib_async/client.py`` (2.1.0). A contract travels as 12 fields:
conId, symbol, secType, lastTradeDateOrContractMonth, strike, right, multiplier, exchange,
primaryExchange, currency, localSymbol, tradingClass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

# Outgoing message ids (client -> server), named as in ibapi's OUT enum.
REQ_MKT_DATA, PLACE_ORDER, CANCEL_ORDER, REQ_OPEN_ORDERS, REQ_ACCT_DATA = 1, 3, 4, 5, 6
REQ_EXECUTIONS, REQ_IDS, REQ_CONTRACT_DATA, REQ_AUTO_OPEN_ORDERS = 7, 8, 9, 15
REQ_ALL_OPEN_ORDERS, REQ_MANAGED_ACCTS, REQ_HISTORICAL_DATA = 16, 17, 20
CANCEL_HISTORICAL_DATA, REQ_CURRENT_TIME, REQ_REAL_TIME_BARS, CANCEL_REAL_TIME_BARS = 25, 49, 50, 51
REQ_GLOBAL_CANCEL, REQ_MARKET_DATA_TYPE, REQ_POSITIONS, REQ_ACCOUNT_SUMMARY = 58, 59, 61, 62
CANCEL_ACCOUNT_SUMMARY, CANCEL_POSITIONS, START_API = 63, 64, 71
REQ_ACCOUNT_UPDATES_MULTI, CANCEL_ACCOUNT_UPDATES_MULTI, REQ_COMPLETED_ORDERS = 76, 77, 99

MESSAGE_NAMES = {
    PLACE_ORDER: "placeOrder", CANCEL_ORDER: "cancelOrder", REQ_OPEN_ORDERS: "reqOpenOrders",
    REQ_ACCT_DATA: "reqAccountUpdates", REQ_EXECUTIONS: "reqExecutions", REQ_IDS: "reqIds",
    REQ_CONTRACT_DATA: "reqContractDetails", REQ_AUTO_OPEN_ORDERS: "reqAutoOpenOrders",
    REQ_ALL_OPEN_ORDERS: "reqAllOpenOrders", REQ_MANAGED_ACCTS: "reqManagedAccts",
    REQ_HISTORICAL_DATA: "reqHistoricalData", CANCEL_HISTORICAL_DATA: "cancelHistoricalData",
    REQ_CURRENT_TIME: "reqCurrentTime", REQ_REAL_TIME_BARS: "reqRealTimeBars",
    CANCEL_REAL_TIME_BARS: "cancelRealTimeBars", REQ_GLOBAL_CANCEL: "reqGlobalCancel",
    REQ_MARKET_DATA_TYPE: "reqMarketDataType", REQ_POSITIONS: "reqPositions",
    REQ_ACCOUNT_SUMMARY: "reqAccountSummary", CANCEL_ACCOUNT_SUMMARY: "cancelAccountSummary",
    CANCEL_POSITIONS: "cancelPositions", START_API: "startApi",
    REQ_ACCOUNT_UPDATES_MULTI: "reqAccountUpdatesMulti",
    CANCEL_ACCOUNT_UPDATES_MULTI: "cancelAccountUpdatesMulti",
    REQ_COMPLETED_ORDERS: "reqCompletedOrders", REQ_MKT_DATA: "reqMktData",
}

CONTRACT_WIDTH = 12


@dataclass(frozen=True, slots=True)
class ContractRef:
    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str

    @classmethod
    def parse(cls, fields: list[str], at: int) -> ContractRef:
        f = fields[at:at + CONTRACT_WIDTH]
        return cls(int(f[0] or 0), f[1], f[2], f[7], f[9])


@dataclass(frozen=True, slots=True)
class HistoricalRequest:
    """One reqHistoricalData, as recorded by the gateway (``received_at`` on its clock)."""

    received_at: datetime
    client_id: int
    req_id: int
    symbol: str
    end: str  # as sent: '' (now) or 'YYYYmmdd HH:MM:SS UTC'
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool
    contract: ContractRef

    @property
    def identity(self) -> tuple[object, ...]:
        """What IB compares for 'identical request' pacing."""
        return (self.symbol, self.contract.exchange, self.end, self.bar_size, self.duration,
                self.use_rth, self.what_to_show)


def parse_historical(fields: list[str], received_at: datetime, client_id: int) -> HistoricalRequest:
    contract = ContractRef.parse(fields, 2)
    at = 2 + CONTRACT_WIDTH + 1  # skip includeExpired
    end, bar_size, duration, use_rth, what, fmt = fields[at:at + 6]
    keep = fields[at + 6] if len(fields) > at + 6 else "0"
    return HistoricalRequest(received_at, client_id, int(fields[1]), contract.symbol, end,
                             bar_size, duration, use_rth == "1", what, int(fmt or 1), keep == "1",
                             contract)


@dataclass(frozen=True, slots=True)
class RealTimeBarsRequest:
    req_id: int
    contract: ContractRef
    bar_size: int
    what_to_show: str
    use_rth: bool


def parse_real_time_bars(fields: list[str]) -> RealTimeBarsRequest:
    at = 3 + CONTRACT_WIDTH
    return RealTimeBarsRequest(int(fields[2]), ContractRef.parse(fields, 3), int(fields[at]),
                               fields[at + 1], fields[at + 2] == "1")


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """The fields of placeOrder the fake exchange acts on (the rest are accepted and ignored)."""

    order_id: int
    contract: ContractRef
    action: str
    quantity: float
    order_type: str
    limit_price: float | None
    tif: str
    account: str
    order_ref: str


def parse_place_order(fields: list[str]) -> PlacedOrder:
    at = 2 + CONTRACT_WIDTH + 2  # skip secIdType, secId
    action, qty, order_type, lmt, _aux, tif, _oca, account, _oc, _origin, ref = \
        fields[at:at + 11]
    return PlacedOrder(int(fields[1]), ContractRef.parse(fields, 2), action, float(qty),
                       order_type, float(lmt) if lmt else None, tif, account, ref)


def parse_end(end: str, now: datetime) -> datetime:
    """Parse reqHistoricalData's endDateTime: '' means now; we accept explicit-zone forms."""
    if not end:
        return now
    parts = end.split(" ")
    if len(parts) == 3 and parts[2] == "UTC":
        return datetime.strptime(parts[0] + parts[1], "%Y%m%d%H:%M:%S").replace(tzinfo=UTC)
    if "-" in parts[0] and len(parts) == 2:  # 'YYYYmmdd-HH:MM:SS' is UTC per IB
        return datetime.strptime(end, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    raise ValueError(f"endDateTime {end!r}: use 'YYYYmmdd HH:MM:SS UTC' (an explicit zone)")


def parse_duration(duration: str) -> int:
    """'23400 S', '1 D', '2 W' -> seconds (calendar days, as IB counts them)."""
    number, _, unit = duration.strip().partition(" ")
    scale = {"S": 1, "D": 86_400, "W": 7 * 86_400}.get(unit.upper())
    if scale is None or not number.isdigit():
        raise ValueError(f"duration {duration!r}: expected '<n> S', '<n> D' or '<n> W'")
    return int(number) * scale
