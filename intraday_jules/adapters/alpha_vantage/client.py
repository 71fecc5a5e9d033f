"""The raw Alpha Vantage client: one HTTP GET per call, vendor JSON in, typed errors out.

Plain HTTP (httpx), not the ``alpha_vantage`` package: that package (3.0.0) builds the URL with
the key inside and hands it to ``requests`` with no timeout, fixes the host in a class attribute
(no loopback base URL without patching), turns every refusal into a bare ``ValueError`` carrying
the vendor text, and does not look at the HTTP status. We need a timeout, a configurable base
URL, typed errors and a key that never reaches a message.

Where the key could leak, and what stops it:
- it is revealed only inside ``_send`` and passed as a query parameter to httpx;
- httpx logs each request URL at INFO on logger "httpx": a ``SecretRedactingFilter`` is installed
  there, and the revealed key is registered with the redactor;
- transport exceptions carry the URL: ours are raised outside the ``except`` block, so the
  original is not chained, and their text is redacted;
- vendor texts that echo the key are masked (``vendor_error``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from intraday_jules.adapters.alpha_vantage.config import AlphaVantageConfig
from intraday_jules.adapters.alpha_vantage.errors import (
    ERROR_KEYS,
    ClientRateLimited,
    MalformedPayload,
    MissingApiKey,
    PerMinuteLimit,
    VendorCall,
    VendorRefused,
    VendorUnavailable,
    vendor_error,
)
from intraday_jules.adapters.alpha_vantage.rate_limit import RateBudgetExhausted, RateLimiter
from intraday_jules.market_data.source import BarRequest
from intraday_jules.secrets import (
    MASK,
    SecretsError,
    SecretValue,
    install_log_redaction,
    redact,
)

log = logging.getLogger(__name__)

KeyProvider = Callable[[], SecretValue | None]


class AlphaVantageClient:
    """GET TIME_SERIES_INTRADAY for one (symbol, month) and return the vendor's JSON object.

    Raises (all ``SourceError``): ``MissingApiKey``, ``ClientRateLimited`` (our budget),
    ``VendorUnavailable`` (after retries), the vendor refusals of ``errors.vendor_error``, and
    ``MalformedPayload`` for bodies that are not a JSON object.
    """

    def __init__(self, config: AlphaVantageConfig, api_key: KeyProvider, *,
                 limiter: RateLimiter | None = None, http: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._api_key = api_key
        self._key: SecretValue | None = None
        self._limiter = limiter or RateLimiter(
            config.calls_per_minute, config.calls_per_day, min_interval_s=config.min_interval_s,
            max_wait_s=config.max_wait_s, sleep=sleep)
        self._http = http or httpx.Client(timeout=config.timeout_s, follow_redirects=False)
        self._owns_http = http is None
        self._sleep = sleep
        self.calls_made = 0
        install_log_redaction(logging.getLogger("httpx"))

    def __repr__(self) -> str:
        return f"AlphaVantageClient(endpoint={self.endpoint!r}, calls_made={self.calls_made})"

    @property
    def endpoint(self) -> str:
        """Scheme, host and path of the base URL: what messages show of where we called."""
        parts = urlsplit(self.config.base_url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}" \
               f"{parts.path}"

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def get_intraday(self, call: VendorCall, request: BarRequest | None = None) -> dict[str, Any]:
        """The decoded body of one successful call (vendor error bodies raise)."""
        key = self._resolve_key(call, request)
        attempt = 0
        while True:
            self._acquire(call, request)
            try:
                response = self._send(call, request, key)
                return self._decode(response, call, request, key)
            except VendorUnavailable:
                if attempt >= self.config.max_retries:
                    raise
                attempt += 1
                delay = self.config.retry_backoff_s * 2 ** (attempt - 1)
                log.warning("alpha_vantage %s: vendor unavailable, retry %d in %.1f s",
                            call.describe(), attempt, delay)
                self._sleep(delay)

    def _resolve_key(self, call: VendorCall, request: BarRequest | None) -> str:
        problem = None
        if self._key is None:
            try:
                self._key = self._api_key()
            except SecretsError as exc:  # vault locked, wrong password: a config problem
                problem = f"the API key could not be read: {exc} ({exc.hint or 'see docs'})"
        if problem is not None:
            raise MissingApiKey(call, problem, request=request)
        if self._key is None:
            raise MissingApiKey(
                call, "no Alpha Vantage API key is configured (run `intraday-jules secrets set "
                "alpha_vantage_key` or set INTRADAY_JULES_ALPHA_VANTAGE_KEY)", request=request)
        return self._key.reveal()

    def _acquire(self, call: VendorCall, request: BarRequest | None) -> None:
        problem = None
        try:
            self._limiter.acquire()
        except RateBudgetExhausted as exc:
            problem = f"{exc.reason}; next call possible in {exc.retry_after_s:.0f} s"
        if problem:
            raise ClientRateLimited(call, problem, request=request)

    def _send(self, call: VendorCall, request: BarRequest | None, key: str) -> httpx.Response:
        started = time.monotonic()
        problem = None
        try:
            response = self._http.get(self.config.base_url, params={**call.params(), "apikey": key})
        except httpx.TimeoutException:
            problem = f"no answer from {self.endpoint} within {self.config.timeout_s} s"
        except httpx.HTTPError as exc:
            detail = redact(str(exc).replace(key, MASK))
            problem = f"HTTP call to {self.endpoint} failed: {type(exc).__name__}: {detail}"
        if problem is not None:  # raised here, not in the except: the URL-bearing cause is dropped
            raise VendorUnavailable(call, problem, request=request)
        self.calls_made += 1
        log.info("alpha_vantage %s -> HTTP %d, %d bytes in %.2f s", call.describe(),
                 response.status_code, len(response.content), time.monotonic() - started)
        return response

    def _decode(self, response: httpx.Response, call: VendorCall, request: BarRequest | None,
                key: str) -> dict[str, Any]:
        status = response.status_code
        if status >= 500:
            raise VendorUnavailable(call, f"HTTP {status} from {self.endpoint}", request=request)
        if status == 429:
            raise PerMinuteLimit(call, f"HTTP 429 from {self.endpoint}", request=request)
        if status != 200:
            raise VendorRefused(call, f"HTTP {status} from {self.endpoint}", request=request)
        body, problem = _json_object(response.content)
        if problem is not None:
            shown = redact(problem.replace(key, MASK))
            raise MalformedPayload(call, shown, request=request, field="body")
        for error_key in ERROR_KEYS:
            if error_key in body and "Meta Data" not in body:
                text = str(body[error_key])
                raise vendor_error(error_key, text, call, request, key)
        return body


def _json_object(content: bytes) -> tuple[dict[str, Any], str | None]:
    """The body as a JSON object, or a description of why it is not one (never raises)."""
    if not content.strip():
        return {}, "the body is empty"
    start = content[:40].decode("utf-8", "replace")
    try:
        body = json.loads(content)
    except json.JSONDecodeError as exc:
        return {}, (f"the body is not valid JSON (truncated, or not JSON): {exc.msg} at "
                    f"character {exc.pos} of {len(content)}; it starts {start!r}")
    except UnicodeDecodeError:
        return {}, f"the body is not UTF-8 text; it starts {start!r}"
    if not isinstance(body, dict):
        return {}, f"the body is a JSON {type(body).__name__}, not an object"
    return body, None
