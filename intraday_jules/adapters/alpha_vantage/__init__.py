"""Alpha Vantage adapter: raw client, parsing, rate limiter, month cache and ``BarSource``.

Split as the adapters we imitate are: ``client`` mirrors the vendor (HTTP, error bodies),
``parsing`` turns vendor JSON into our bars, ``source`` is the domain client. See
docs/alpha_vantage.md.
"""

from intraday_jules.adapters.alpha_vantage.config import AlphaVantageConfig, BarLabel
from intraday_jules.adapters.alpha_vantage.errors import (
    AlphaVantageError,
    BurstLimit,
    ClientRateLimited,
    DailyLimit,
    DemoKey,
    InvalidApiCall,
    InvalidApiKey,
    MalformedPayload,
    MissingApiKey,
    PerMinuteLimit,
    PremiumEndpoint,
    VendorCall,
    VendorRefused,
    VendorUnavailable,
)
from intraday_jules.adapters.alpha_vantage.source import AlphaVantageSource

__all__ = [
    "AlphaVantageConfig",
    "AlphaVantageError",
    "AlphaVantageSource",
    "BarLabel",
    "BurstLimit",
    "ClientRateLimited",
    "DailyLimit",
    "DemoKey",
    "InvalidApiCall",
    "InvalidApiKey",
    "MalformedPayload",
    "MissingApiKey",
    "PerMinuteLimit",
    "PremiumEndpoint",
    "VendorCall",
    "VendorRefused",
    "VendorUnavailable",
]
