"""``AlphaVantageSource``: the ``BarSource`` for Alpha Vantage's TIME_SERIES_INTRADAY.

One vendor call answers one (symbol, month); sessions are asked for one at a time. So the
source fetches the session's month once (``month=YYYY-MM``, ``outputsize=full``,
``interval=1min``, ``adjusted=false``), keeps it in a ``MonthCache`` and cuts each session out
of it. Before a month is cached it is checked as a whole: every bar must lie in the requested
month and inside the vendor's hours (04:00-20:00 ET, or 09:30-16:00 ET for regular hours). A
bar at 16:00 in a regular-hours answer means the vendor labels bars by their END; the month is
refused rather than shifted by a minute in silence.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pandas as pd

from intraday_jules.adapters.alpha_vantage.cache import CachedMonth, MonthCache, MonthKey
from intraday_jules.adapters.alpha_vantage.client import AlphaVantageClient, KeyProvider
from intraday_jules.adapters.alpha_vantage.config import AlphaVantageConfig, BarLabel
from intraday_jules.adapters.alpha_vantage.errors import MalformedPayload, VendorCall
from intraday_jules.adapters.alpha_vantage.parsing import parse_intraday_json
from intraday_jules.domain.bars import validate_bars
from intraday_jules.domain.calendar import NEW_YORK, session_window
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.domain.symbols import validate_symbol
from intraday_jules.market_data.source import BarRequest, MissingBarsError, SourceRequestError
from intraday_jules.secrets import SecretStore, SecretValue

log = logging.getLogger(__name__)

EXTENDED_MINUTES = (4 * 60, 20 * 60)  # 04:00-20:00 ET, the vendor's extended window
REGULAR_MINUTES = (9 * 60 + 30, 16 * 60)


class AlphaVantageSource:
    """Bars for (symbol, session) from Alpha Vantage, provenance ``source="alpha_vantage"``.

    ``api_key`` is a ``SecretValue`` or a callable returning one (or None), resolved at the
    first call so that a chain of sources can be built without a key until this one is used.
    ``clock`` (UTC) decides whether a cached month is complete enough for a session;
    ``monotonic`` and ``sleep`` drive the rate limiter and retries.
    """

    name = "alpha_vantage"

    def __init__(self, config: AlphaVantageConfig | None = None,
                 api_key: SecretValue | KeyProvider | None = None, *,
                 http: httpx.Client | None = None, clock: Clock = system_clock,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 cache: MonthCache | None = None) -> None:
        from intraday_jules.adapters.alpha_vantage.rate_limit import RateLimiter

        self.config = config or AlphaVantageConfig()
        provider: KeyProvider = api_key if callable(api_key) else (lambda: api_key)
        cfg = self.config
        limiter = RateLimiter(cfg.calls_per_minute, cfg.calls_per_day,
                              min_interval_s=cfg.min_interval_s, max_wait_s=cfg.max_wait_s,
                              clock=monotonic, sleep=sleep)
        self.client = AlphaVantageClient(cfg, provider, limiter=limiter, http=http, sleep=sleep)
        self.cache = cache or MonthCache(cfg.cache_months, cfg.cache_dir)
        self._clock = clock

    @classmethod
    def from_secret_store(cls, config: AlphaVantageConfig, store: SecretStore,
                          **kwargs: Any) -> AlphaVantageSource:
        """A source whose key is ``alpha_vantage_key`` from ``store`` (env override first)."""
        return cls(config, lambda: store.get("alpha_vantage_key"), **kwargs)

    def for_live_session(self) -> AlphaVantageSource:
        """This source for a live session's failover (``market_data.live_failover``): same
        endpoint, key and rate limiter (one budget per key), but a month cache of its own in
        memory only. A month fetched while the session runs is never reused for it (see
        ``_month``), and one fetched seconds after the close may still lack the vendor's last
        minutes, so it must not land in the shared disk cache that ingestion reads."""
        twin = copy.copy(self)
        twin.cache = MonthCache(self.config.cache_months)
        return twin

    def __repr__(self) -> str:
        return (f"AlphaVantageSource(endpoint={self.client.endpoint!r}, "
                f"extended_hours={self.config.extended_hours}, cached_months={len(self.cache)})")

    def close(self) -> None:
        self.client.close()

    def fetch_session(self, request: BarRequest) -> pd.DataFrame:
        """The session's bars (regular or extended hours as requested), validated."""
        try:
            validate_symbol(request.symbol)
            window = session_window(request.session)
        except ValueError as exc:
            raise SourceRequestError(self.name, request, str(exc)) from None
        extended = request.extended_hours or self.config.extended_hours
        month = request.session.strftime("%Y-%m")
        ends = window.extended_close if extended else window.close
        bars = self._month(request.symbol, month, extended, request, complete_after=ends)
        lo, hi = ((window.extended_open, window.extended_close) if request.extended_hours
                  else (window.open, window.close))
        out = bars[(bars["ts"] >= lo) & (bars["ts"] < hi)]
        if out.empty:
            call = VendorCall(request.symbol, month, extended)
            raise MissingBarsError(self.name, request, f"the vendor's month {month} has no bars "
                                   f"for this session; request {call.describe()}")
        return validate_bars(out.assign(source=self.name), origin=f"{self.name} "
                             f"{request.describe()}")

    def month_bars(self, symbol: str, month: str, *, extended_hours: bool) -> pd.DataFrame:
        """A whole vendor month (for backfills), with the ``source`` column."""
        bars = self._month(symbol, month, extended_hours, None, complete_after=None)
        return bars.assign(source=self.name)

    def _month(self, symbol: str, month: str, extended: bool, request: BarRequest | None,
               complete_after: datetime | None) -> pd.DataFrame:
        keys = [MonthKey(symbol, month, extended)]
        if not extended:  # an extended month holds the regular hours too
            keys.append(MonthKey(symbol, month, True))
        for key in keys:
            cached = self.cache.get(key)
            if cached is not None and (complete_after is None
                                       or cached.fetched_at >= complete_after):
                log.debug("alpha_vantage %s %s: served from the month cache", symbol, month)
                return cached.bars
        call = VendorCall(symbol, month, extended)
        payload = self.client.get_intraday(call, request)
        bars = parse_intraday_json(payload, call, label=self.config.bar_label, request=request)
        check_month_scope(bars, call, self.config.bar_label, request)
        self.cache.put(keys[0], CachedMonth(bars, self._clock()))
        return bars


def check_month_scope(bars: pd.DataFrame, call: VendorCall, label: BarLabel,
                      request: BarRequest | None = None) -> None:
    """Refuse a month whose bars fall outside the requested month or the vendor's hours."""
    if bars.empty:
        return
    local = bars["ts"].dt.tz_convert(NEW_YORK)
    outside = (local.dt.strftime("%Y-%m") != call.month).to_numpy()
    if outside.any():
        first = local[outside].iloc[0]
        raise MalformedPayload(call, f"bar starting {first:%Y-%m-%d %H:%M} ET is not in the "
                               f"requested month ({int(outside.sum())} bars)", request=request,
                               field="month")
    lo, hi = EXTENDED_MINUTES if call.extended_hours else REGULAR_MINUTES
    minutes = (local.dt.hour * 60 + local.dt.minute).to_numpy()
    outside = (minutes < lo) | (minutes >= hi)
    if outside.any():
        first = local[outside].iloc[0]
        other = "end" if label is BarLabel.START else "start"
        raise MalformedPayload(
            call, f"bar starting {first:%Y-%m-%d %H:%M} ET is outside the vendor's "
            f"{lo // 60:02d}:{lo % 60:02d}-{hi // 60:02d}:{hi % 60:02d} ET window "
            f"({int(outside.sum())} bars): does the vendor now label bars by their {other}? "
            f"(bar_label={label.value})", request=request, field="timestamp")
