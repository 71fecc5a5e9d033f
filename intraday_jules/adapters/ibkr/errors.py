"""IB's error codes, what each means for us, and the adapter's own exception types.

IB reports everything (failures, warnings, farm status notices) through one ``error`` message
carrying a code. ``ERROR_TABLE`` is the single place that decides what a code means here; the
table in ``docs/ibkr.md`` documents the same rows (a test keeps the two in step). Codes per
https://ibkrcampus.com/campus/ibkr-api-page/twsapi-doc/#api-error-codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    PACING = "pacing"
    NO_DATA = "no_data"
    UNKNOWN_CONTRACT = "unknown_contract"
    INVALID_REQUEST = "invalid_request"
    NOT_SUBSCRIBED = "not_subscribed"
    CLIENT_ID_IN_USE = "client_id_in_use"
    CANNOT_CONNECT = "cannot_connect"
    NOT_CONNECTED = "not_connected"
    CONNECTIVITY_LOST = "connectivity_lost"
    RESTORED_DATA_LOST = "restored_data_lost"
    RESTORED_DATA_KEPT = "restored_data_kept"
    FARM_BROKEN = "farm_broken"
    INFO = "info"
    ORDER_REJECTED = "order_rejected"
    ORDER_CANCELLED = "order_cancelled"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ErrorRule:
    code: int
    kind: ErrorKind
    meaning: str
    handling: str


ERROR_TABLE: tuple[ErrorRule, ...] = (
    ErrorRule(162, ErrorKind.PACING, "historical data pacing violation",
              "back off (15 s, doubling) and retry; SourceRateLimited when retries run out"),
    ErrorRule(162, ErrorKind.NO_DATA, "HMDS query returned no data", "MissingBarsError"),
    ErrorRule(165, ErrorKind.INFO, "historical market data service query message", "logged"),
    ErrorRule(200, ErrorKind.UNKNOWN_CONTRACT, "no security definition found",
              "SourceRequestError (unknown symbol)"),
    ErrorRule(321, ErrorKind.INVALID_REQUEST, "error validating request", "SourceRequestError"),
    ErrorRule(354, ErrorKind.NOT_SUBSCRIBED, "requested market data is not subscribed",
              "SourceRequestError"),
    ErrorRule(326, ErrorKind.CLIENT_ID_IN_USE, "client id already in use",
              "IbkrClientIdInUse at once (no handshake timeout); SourceUnavailable"),
    ErrorRule(502, ErrorKind.CANNOT_CONNECT, "could not connect to TWS",
              "IbkrConnectError; SourceUnavailable"),
    ErrorRule(504, ErrorKind.NOT_CONNECTED, "not connected",
              "IbkrNotConnected; SourceUnavailable"),
    ErrorRule(1100, ErrorKind.CONNECTIVITY_LOST, "connectivity between IB and TWS lost",
              "hold requests; wait for 1101/1102 up to restore_timeout_s, else SourceUnavailable"),
    ErrorRule(1101, ErrorKind.RESTORED_DATA_LOST, "connectivity restored, data lost",
              "re-send pending historical requests; streams resubscribe and backfill the gap"),
    ErrorRule(1102, ErrorKind.RESTORED_DATA_KEPT, "connectivity restored, data maintained",
              "continue; pending requests are still answered"),
    ErrorRule(2103, ErrorKind.FARM_BROKEN, "market data farm connection broken",
              "logged as a warning (TWS reconnects farms itself)"),
    ErrorRule(2105, ErrorKind.FARM_BROKEN, "HMDS data farm connection broken",
              "logged as a warning"),
    ErrorRule(2157, ErrorKind.FARM_BROKEN, "sec-def data farm connection broken",
              "logged as a warning"),
    ErrorRule(2104, ErrorKind.INFO, "market data farm connection is OK", "informational"),
    ErrorRule(2106, ErrorKind.INFO, "HMDS data farm connection is OK", "informational"),
    ErrorRule(2158, ErrorKind.INFO, "sec-def data farm connection is OK", "informational"),
    ErrorRule(201, ErrorKind.ORDER_REJECTED, "order rejected", "broker: order rejected"),
    ErrorRule(202, ErrorKind.ORDER_CANCELLED, "order cancelled", "broker: order cancelled"),
)

_BY_CODE = {rule.code: rule for rule in ERROR_TABLE if rule.code != 162}


def classify(code: int, message: str) -> ErrorKind:
    """The meaning of an IB error; 162 is overloaded, so its text decides."""
    match code:
        case 162 if "pacing violation" in message.lower():
            return ErrorKind.PACING
        case 162 if "returned no data" in message.lower():
            return ErrorKind.NO_DATA
        case 162:
            return ErrorKind.OTHER
        case _ if code in _BY_CODE:
            return _BY_CODE[code].kind
        case _ if 2100 <= code < 2200:
            return ErrorKind.INFO
        case _:
            return ErrorKind.OTHER


class IbkrError(Exception):
    """Something went wrong talking to TWS/Gateway; ``code`` is IB's error code if any."""

    def __init__(self, message: str, code: int | None = None) -> None:
        self.code = code
        super().__init__(f"IB error {code}: {message}" if code is not None else message)


class IbkrConnectError(IbkrError):
    """The API connection could not be established (nothing listening, handshake failed)."""


class IbkrClientIdInUse(IbkrConnectError):
    """TWS refused the client id (326): another API client is connected with it."""


class IbkrNotConnected(IbkrError):
    """A request was made without a live API connection (IB's 504)."""


class IbkrConnectionLost(IbkrError):
    """The socket to TWS/Gateway dropped while a request was outstanding."""


class IbkrConnectivityLost(IbkrError):
    """TWS is up but lost its connection to IB (1100) and it was not restored in time."""


class IbkrDataLost(IbkrError):
    """IB connectivity came back with 1101 (data lost): the pending request must be re-sent."""


class IbkrTimeout(IbkrError):
    """TWS accepted the request but never answered within the timeout."""


class IbkrRequestError(IbkrError):
    """TWS answered a request with an error code."""

    def __init__(self, code: int, message: str, req_id: int | None = None) -> None:
        self.kind = classify(code, message)
        self.ib_message = message
        self.req_id = req_id
        super().__init__(message, code)
