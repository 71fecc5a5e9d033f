"""Settings of the Alpha Vantage adapter, as one frozen value (the integrator maps settings on).

It holds no API key: the key comes from ``intraday_jules.secrets`` when a request is made, so
printing, logging or copying a config can never leak it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

DEFAULT_BASE_URL = "https://www.alphavantage.co/query"


class BarLabel(StrEnum):
    """Which end of its minute a vendor timestamp names.

    Current TIME_SERIES_INTRADAY answers are START-labelled (a regular session runs 09:30 ...
    15:59); older answers (2017-2020 captures, TIME_SERIES_INTRADAY_EXTENDED) were END-labelled
    (09:31 ... 16:00). We store bar starts, so END labels are moved back by one interval.
    """

    START = "start"
    END = "end"


@dataclass(frozen=True, slots=True)
class AlphaVantageConfig:
    """How to reach Alpha Vantage and how hard to push it.

    - ``base_url``: the ``/query`` endpoint; tests point it at the loopback replay server.
    - ``calls_per_minute`` / ``calls_per_day``: client-side budget (free tier: 5 and 25). The
      limiter waits for the per-minute window and refuses (``ClientRateLimited``) when the day's
      budget is spent or a wait would exceed ``max_wait_s``.
    - ``min_interval_s``: spacing between calls (the vendor's burst limit is 1 per second).
    - ``extended_hours``: ask the vendor for 04:00-20:00 ET on every call, so one cached month
      answers regular and extended requests alike (a request for extended hours always asks).
    - ``timeout_s``: per HTTP call; a month of 1-minute bars is a few MB.
    - ``bar_label``: the vendor's timestamp convention (default START, the current API).
    - ``max_retries`` / ``retry_backoff_s``: retries of transport failures and HTTP 5xx only;
      vendor refusals and throttling are raised at once so failover can move on.
    - ``cache_dir``: also keep fetched months on disk (Parquet), so separate runs (one Dagster
      run per partition) share one request per month; None keeps them in memory only.
    - ``cache_months``: months kept in memory.
    """

    base_url: str = DEFAULT_BASE_URL
    calls_per_minute: int = 5
    calls_per_day: int = 25
    min_interval_s: float = 1.0
    max_wait_s: float = 75.0
    extended_hours: bool = False
    timeout_s: float = 30.0
    bar_label: BarLabel = BarLabel.START
    max_retries: int = 2
    retry_backoff_s: float = 2.0
    cache_dir: Path | None = None
    cache_months: int = 24

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        positive = {"calls_per_minute": self.calls_per_minute, "calls_per_day":
                    self.calls_per_day, "timeout_s": self.timeout_s,
                    "cache_months": self.cache_months}
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        for name, value in {"min_interval_s": self.min_interval_s, "max_wait_s": self.max_wait_s,
                            "max_retries": self.max_retries,
                            "retry_backoff_s": self.retry_backoff_s}.items():
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        object.__setattr__(self, "bar_label", BarLabel(self.bar_label))
