"""Messages the gateway sends, as field lists in TWS order (server versions 173 and 178).

Field order follows ``ib_async/decoder.py`` (2.1.0), which mirrors IB's own ``ibapi`` decoder;
the layouts shared with the recorded server-173 session (currentTime, managedAccounts,
position, positionEnd, accountSummary) are checked byte for byte by the tests.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from intraday_jules.testing.fake_tws.replay import ReplayBar

Fields = list[object]

# Incoming message ids (server -> client), named as in ibapi's IN enum.
ORDER_STATUS, ERR_MSG, OPEN_ORDER, NEXT_VALID_ID, CONTRACT_DATA, EXECUTION_DATA = 3, 4, 5, 9, 10, 11
MANAGED_ACCTS, HISTORICAL_DATA, CURRENT_TIME, REAL_TIME_BARS = 15, 17, 49, 50
CONTRACT_DATA_END, OPEN_ORDER_END, ACCT_DOWNLOAD_END, EXECUTION_DATA_END = 52, 53, 54, 55
COMMISSION_REPORT, POSITION_DATA, POSITION_END = 59, 61, 62
ACCOUNT_SUMMARY, ACCOUNT_SUMMARY_END, ACCOUNT_UPDATE_MULTI_END = 63, 64, 74
HISTORICAL_DATA_UPDATE, COMPLETED_ORDERS_END = 90, 102

#: Real IB contract ids for the symbols we trade (and AAPL, as in the recorded session).
KNOWN_CON_IDS = {"NVDA": 4815747, "MSFT": 272093, "AAPL": 265598}


@dataclass(frozen=True, slots=True)
class StockSpec:
    """A US stock as the fake's security-definition server knows it."""

    symbol: str
    con_id: int
    primary_exchange: str = "NASDAQ"
    currency: str = "USD"

    @classmethod
    def for_symbol(cls, symbol: str) -> StockSpec:
        """Known symbols get their real conId; others a stable made-up one."""
        con_id = KNOWN_CON_IDS.get(symbol, 10_000_000 + zlib.crc32(symbol.encode()) % 10_000_000)
        return cls(symbol, con_id)

    def position_contract(self) -> Fields:
        """conId..tradingClass as in position/execDetails/openOrder (11 fields)."""
        return [self.con_id, self.symbol, "STK", "", 0.0, "", "", self.primary_exchange,
                self.currency, self.symbol, "NMS"]


def error(req_id: int, code: int, message: str) -> Fields:
    """errMsg (version 2) with the advancedOrderRejectJson field servers >= 166 send."""
    return [ERR_MSG, 2, req_id, code, message, ""]


def next_valid_id(order_id: int) -> Fields:
    return [NEXT_VALID_ID, 1, order_id]


def managed_accounts(accounts: list[str]) -> Fields:
    return [MANAGED_ACCTS, 1, ",".join(accounts)]


def current_time(epoch_s: int) -> Fields:
    return [CURRENT_TIME, 1, epoch_s]


def contract_details(req_id: int, spec: StockSpec) -> Fields:
    """contractData without a version field (servers >= 164), with the size-rule fields."""
    hours = "20250102:0400-20250102:2000"
    return [CONTRACT_DATA, req_id, spec.symbol, "STK", "", 0.0, "", "SMART", spec.currency,
            spec.symbol, "NMS", "NMS", spec.con_id, 0.01, "", "ACTIVETIM,ADJUST,ALERT,LMT,MKT",
            f"SMART,{spec.primary_exchange}", 1, 0, f"{spec.symbol} CORP",
            spec.primary_exchange, "", "", "", "", "US/Eastern", hours,
            hours, "", "", 0, 1, "", "", "26", "", "COMMON", 0.0001, 0.0001, 100]


def contract_details_end(req_id: int) -> Fields:
    return [CONTRACT_DATA_END, 1, req_id]


def historical_data(req_id: int, start: str, end: str, bars: list[tuple[object, ...]]) -> Fields:
    """historicalData: start/end inline (servers < 196), then date,o,h,l,c,volume,wap,count."""
    fields: Fields = [HISTORICAL_DATA, req_id, start, end, len(bars)]
    for bar in bars:
        fields.extend(bar)
    return fields


def bar_row(bar: ReplayBar, date_text: str) -> tuple[object, ...]:
    wap = round((bar.high + bar.low + bar.close) / 3, 4)
    return (date_text, bar.open, bar.high, bar.low, bar.close, bar.volume, wap,
            max(1, bar.volume // 100))


def historical_data_update(req_id: int, bar: ReplayBar) -> Fields:
    """historicalDataUpdate: note IB's order open, close, high, low."""
    wap = round((bar.high + bar.low + bar.close) / 3, 4)
    return [HISTORICAL_DATA_UPDATE, req_id, max(1, bar.volume // 100), bar.start, bar.open,
            bar.close, bar.high, bar.low, wap, bar.volume]


def real_time_bar(req_id: int, bar: ReplayBar) -> Fields:
    wap = round((bar.high + bar.low + bar.close) / 3, 4)
    return [REAL_TIME_BARS, 3, req_id, bar.start, bar.open, bar.high, bar.low, bar.close,
            bar.volume, wap, max(1, bar.volume // 100)]


def position(account: str, spec: StockSpec, quantity: float, avg_cost: float) -> Fields:
    qty = int(quantity) if float(quantity).is_integer() else quantity
    return [POSITION_DATA, 3, account, *spec.position_contract(), qty, avg_cost]


def position_end() -> Fields:
    return [POSITION_END, 1]


def account_summary(req_id: int, account: str, tag: str, value: str) -> Fields:
    return [ACCOUNT_SUMMARY, 1, req_id, account, tag, value, "USD"]


def account_summary_end(req_id: int) -> Fields:
    return [ACCOUNT_SUMMARY_END, 1, req_id]


def account_download_end(account: str) -> Fields:
    return [ACCT_DOWNLOAD_END, 1, account]


def account_update_multi_end(req_id: int) -> Fields:
    return [ACCOUNT_UPDATE_MULTI_END, 1, req_id]


def open_order_end() -> Fields:
    return [OPEN_ORDER_END, 1]


def completed_orders_end() -> Fields:
    return [COMPLETED_ORDERS_END]


def exec_details_end(req_id: int) -> Fields:
    return [EXECUTION_DATA_END, 1, req_id]
