"""Alpha Vantage's refusals as typed errors in the ``SourceError`` family.

The vendor answers almost everything with HTTP 200 and a one-key JSON body; only the key and
the wording tell a bad key from a throttle. The mapping (verbatim texts in
``shared/fixtures/alpha_vantage/messages``):

| body key | wording contains | error | family |
|---|---|---|---|
| Error Message | "apikey" | InvalidApiKey | SourceRequestError |
| Error Message | else ("Invalid API call": unknown symbol) | InvalidApiCall | SourceRequestError |
| Note | anything ("5 calls per minute") | PerMinuteLimit | SourceRateLimited |
| Information | "per second" / "spreading out" | BurstLimit | SourceRateLimited |
| Information | "per day" | DailyLimit | SourceRateLimited |
| Information | "premium" | PremiumEndpoint | SourceRequestError |
| Information | "demo" | DemoKey | SourceRequestError |
| Information | anything else | VendorRefused | SourceRequestError |

Every message names the vendor, the symbol and the request (``VendorCall.describe()``, which
never includes the API key); vendor texts are stripped of the key (one daily-limit wording
echoes it) before they enter a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from intraday_jules.market_data.source import (
    BarRequest,
    SourceDataError,
    SourceError,
    SourceRateLimited,
    SourceRequestError,
    SourceUnavailable,
)

VENDOR = "alpha_vantage"
ERROR_KEYS: tuple[str, ...] = ("Error Message", "Note", "Information")


@dataclass(frozen=True, slots=True)
class VendorCall:
    """One TIME_SERIES_INTRADAY call, as shown to people (no API key, ever)."""

    symbol: str
    month: str
    extended_hours: bool
    interval: str = "1min"
    function: str = "TIME_SERIES_INTRADAY"

    def params(self) -> dict[str, str]:
        """Query parameters, apikey excluded (the client adds it at the last moment)."""
        return {"function": self.function, "symbol": self.symbol, "interval": self.interval,
                "month": self.month, "outputsize": "full",
                "extended_hours": "true" if self.extended_hours else "false",
                "adjusted": "false", "datatype": "json"}

    def describe(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.params().items())


class AlphaVantageError(SourceError):
    """Base of every Alpha Vantage error; ``call`` is the vendor request, ``field`` the culprit."""

    def __init__(self, call: VendorCall, problem: str, *, request: BarRequest | None = None,
                 field: str | None = None, vendor_message: str | None = None) -> None:
        self.call = call
        self.field = field
        self.vendor_message = vendor_message
        located = f" [field {field}]" if field else ""
        quoted = f" (vendor said: {vendor_message})" if vendor_message else ""
        reason = f"{problem}{located}{quoted}; request {call.describe()}"
        super().__init__(VENDOR, request, reason)


class InvalidApiKey(AlphaVantageError, SourceRequestError):
    """The key is missing, wrong or revoked."""


class MissingApiKey(AlphaVantageError, SourceRequestError):
    """No key is configured (secrets store and environment are empty)."""


class InvalidApiCall(AlphaVantageError, SourceRequestError):
    """Unknown symbol or parameters the function does not accept."""


class PremiumEndpoint(AlphaVantageError, SourceRequestError):
    """The function or a parameter needs a paid plan."""


class DemoKey(AlphaVantageError, SourceRequestError):
    """The ``demo`` key was used for something other than the documented demo calls."""


class VendorRefused(AlphaVantageError, SourceRequestError):
    """An error body we do not recognise (or a non-retryable HTTP status)."""


class PerMinuteLimit(AlphaVantageError, SourceRateLimited):
    """The vendor's per-minute throttle ("Note")."""


class BurstLimit(AlphaVantageError, SourceRateLimited):
    """The vendor's per-second burst limit."""


class DailyLimit(AlphaVantageError, SourceRateLimited):
    """The vendor's daily quota is spent."""


class ClientRateLimited(AlphaVantageError, SourceRateLimited):
    """Our own limiter refused: the configured daily budget is spent (no call was made)."""


class MalformedPayload(AlphaVantageError, SourceDataError):
    """Truncated, malformed or impossible data; nothing of the response is returned."""


class VendorUnavailable(AlphaVantageError, SourceUnavailable):
    """Connection refused, timeout, dropped connection or HTTP 5xx."""


def classify_vendor_message(key: str, text: str) -> type[AlphaVantageError]:
    """The error class for a one-key error body (see the table in the module docstring)."""
    lowered = text.lower()
    match key:
        case "Error Message" if "apikey" in lowered:
            return InvalidApiKey
        case "Error Message":
            return InvalidApiCall
        case "Note":
            return PerMinuteLimit
        case "Information" if "per second" in lowered or "spreading out" in lowered:
            return BurstLimit
        case "Information" if "per day" in lowered:
            return DailyLimit
        case "Information" if "premium" in lowered:
            return PremiumEndpoint
        case "Information" if "demo" in lowered:
            return DemoKey
        case _:
            return VendorRefused


_PROBLEMS: dict[type[AlphaVantageError], str] = {
    InvalidApiKey: "the vendor refused the API key",
    InvalidApiCall: "the vendor refused the call (unknown symbol or invalid parameters)",
    PerMinuteLimit: "the vendor's per-minute limit is reached",
    BurstLimit: "the vendor's burst limit (requests per second) is reached",
    DailyLimit: "the vendor's daily limit is reached",
    PremiumEndpoint: "the call needs a premium plan",
    DemoKey: "the demo key cannot make this call",
    VendorRefused: "the vendor refused the call",
}


def vendor_error(key: str, text: str, call: VendorCall, request: BarRequest | None,
                 secret: str | None) -> AlphaVantageError:
    """Build the typed error for an error body; ``secret`` (the key) is masked out of ``text``."""
    from intraday_jules.secrets import MASK, redact

    shown = text.replace(secret, MASK) if secret else text
    cls = classify_vendor_message(key, shown)
    return cls(call, _PROBLEMS[cls], request=request, field=key, vendor_message=redact(shown))
