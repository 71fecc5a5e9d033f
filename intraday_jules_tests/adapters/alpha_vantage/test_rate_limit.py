"""The client-side limiter on a fake clock: free tier 5/min and 25/day, burst spacing."""

from __future__ import annotations

from datetime import date

import pytest

from intraday_jules.adapters.alpha_vantage import ClientRateLimited
from intraday_jules.adapters.alpha_vantage.rate_limit import RateBudgetExhausted, RateLimiter
from intraday_jules.market_data.source import BarRequest, SourceRateLimited
from intraday_jules.testing.alpha_vantage_server import AlphaVantageServer
from intraday_jules_tests.adapters.alpha_vantage.conftest import FakeTime, MakeSource


def limiter(clock: FakeTime, per_minute: int = 5, per_day: int = 25,
            min_interval_s: float = 0.0, max_wait_s: float = 75.0) -> RateLimiter:
    return RateLimiter(per_minute, per_day, min_interval_s=min_interval_s,
                       max_wait_s=max_wait_s, clock=clock.monotonic, sleep=clock.sleep)


def test_five_calls_in_a_minute_go_at_once_and_the_sixth_waits_for_the_window() -> None:
    clock = FakeTime()
    limit = limiter(clock)
    assert [limit.acquire() for _ in range(5)] == [0.0] * 5
    assert limit.acquire() == pytest.approx(60.0)
    assert clock.now_s == pytest.approx(60.0)


def test_calls_are_spaced_by_the_burst_interval() -> None:
    clock = FakeTime()
    limit = limiter(clock, per_minute=100, min_interval_s=1.0)
    for _ in range(4):
        limit.acquire()
    assert clock.slept == [1.0, 1.0, 1.0]


def test_twenty_five_calls_a_day_then_refusal_without_sleeping() -> None:
    clock = FakeTime()
    limit = limiter(clock)
    for _ in range(25):
        limit.acquire()
    assert clock.now_s == pytest.approx(4 * 60.0)  # 5 bursts of 5, a minute apart
    assert limit.remaining_today() == 0
    slept_before = list(clock.slept)
    with pytest.raises(RateBudgetExhausted, match="25 calls per day") as info:
        limit.acquire()
    assert clock.slept == slept_before
    assert info.value.retry_after_s == pytest.approx(86_400 - 4 * 60.0)


def test_the_day_is_rolling_so_the_budget_returns_24_hours_after_the_first_call() -> None:
    clock = FakeTime()
    limit = limiter(clock, per_minute=25)
    for _ in range(25):
        limit.acquire()
    clock.now_s = 86_400.0 + 1
    assert limit.remaining_today() == 25
    assert limit.acquire() == 0.0


def test_a_wait_longer_than_max_wait_is_refused() -> None:
    clock = FakeTime()
    limit = limiter(clock, per_minute=1, max_wait_s=10.0)
    limit.acquire()
    with pytest.raises(RateBudgetExhausted, match="1 calls per minute"):
        limit.acquire()


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0, 25)


def test_source_spends_no_http_call_when_the_client_budget_is_spent(
        server: AlphaVantageServer, make_source: MakeSource) -> None:
    source = make_source(calls_per_day=2)
    source.fetch_session(BarRequest("NVDA", date(2025, 1, 2)))
    source.fetch_session(BarRequest("MSFT", date(2025, 1, 2)))
    with pytest.raises(ClientRateLimited) as info:
        source.fetch_session(BarRequest("NVDA", date(2025, 2, 3)))
    assert isinstance(info.value, SourceRateLimited)
    assert "2 calls per day" in str(info.value)
    assert len(server.requests) == 2


def test_source_follows_the_free_tier_pace_on_the_fake_clock(
        server: AlphaVantageServer, make_source: MakeSource, fake_time: FakeTime) -> None:
    source = make_source(calls_per_minute=5, calls_per_day=25, min_interval_s=1.0)
    for month, day in (("01", 2), ("02", 3)):
        for symbol in ("NVDA", "MSFT"):
            for extended in (True, False):
                source.fetch_session(BarRequest(symbol, date(2025, int(month), day), extended))
    assert len(server.requests) == 4  # regular hours are cut from the cached extended month
    assert fake_time.slept == [1.0] * 3
