"""The pacing limiter on a simulated clock, cross-checked against the gateway's referee."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intraday_jules.adapters.ibkr import PacedRequest, PacingLimiter, PacingRules
from intraday_jules.testing.fake_tws import HistoricalRequest, SimulatedClock, violation
from intraday_jules.testing.fake_tws.incoming import ContractRef

T0 = datetime(2025, 1, 2, 14, 30, tzinfo=UTC)


def _request(symbol: str, n: int) -> PacedRequest:
    return PacedRequest((symbol, "SMART", "TRADES"), (symbol, n))


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


@pytest.fixture
def limiter(clock: SimulatedClock) -> PacingLimiter:
    return PacingLimiter(clock=clock.now, sleep=clock.sleep)


def _send_times(limiter: PacingLimiter, clock: SimulatedClock,
                requests: list[PacedRequest]) -> list[float]:
    times = []
    for request in requests:
        limiter.acquire(request)
        times.append((clock.now() - T0).total_seconds())
    return times


def test_first_request_goes_out_without_waiting(limiter: PacingLimiter,
                                               clock: SimulatedClock) -> None:
    assert limiter.acquire(_request("NVDA", 0)) == 0.0
    assert clock.sleeps == []


def test_identical_request_waits_fifteen_seconds(limiter: PacingLimiter,
                                                 clock: SimulatedClock) -> None:
    limiter.acquire(_request("NVDA", 0))
    clock.sleep(4.0)
    assert limiter.acquire(_request("NVDA", 0)) == pytest.approx(11.0)
    assert (clock.now() - T0).total_seconds() == pytest.approx(15.0)


def test_at_most_five_requests_per_contract_in_any_two_seconds(
        limiter: PacingLimiter, clock: SimulatedClock) -> None:
    times = _send_times(limiter, clock, [_request("NVDA", n) for n in range(11)])
    assert times == [0.0] * 5 + [2.0] * 5 + [4.0]


def test_other_contracts_are_not_held_back_by_a_busy_one(limiter: PacingLimiter,
                                                         clock: SimulatedClock) -> None:
    _send_times(limiter, clock, [_request("NVDA", n) for n in range(5)])
    assert limiter.acquire(_request("MSFT", 0)) == 0.0


def test_at_most_sixty_requests_in_any_ten_minutes(limiter: PacingLimiter,
                                                   clock: SimulatedClock) -> None:
    requests = [_request(f"S{n % 20}", n) for n in range(61)]
    times = _send_times(limiter, clock, requests)
    assert times[59] < 600.0
    assert times[60] == pytest.approx(times[0] + 600.0)


def test_waits_are_never_longer_than_the_rules_need(limiter: PacingLimiter,
                                                    clock: SimulatedClock) -> None:
    clock.sleep(20.0)
    assert limiter.wait_time(_request("NVDA", 0)) == 0.0
    limiter.acquire(_request("NVDA", 0))
    assert limiter.wait_time(_request("NVDA", 1)) == 0.0


def test_minimum_span_is_the_binding_rule() -> None:
    rules = PacingRules()
    assert rules.minimum_span_s([21, 21]) == 8.0  # 5 per 2 s per contract binds
    assert rules.minimum_span_s([39, 39]) == 600.0  # 78 requests: the ten-minute rule binds
    assert rules.minimum_span_s([]) == 0.0


def test_a_limited_schedule_never_breaks_the_gateways_rules(limiter: PacingLimiter,
                                                            clock: SimulatedClock) -> None:
    sent: list[HistoricalRequest] = []
    for n in range(130):
        symbol = ("NVDA", "MSFT", "AAPL")[n % 3]
        duplicate = n % 7 == 0 and n > 0
        key = n - 1 if duplicate else n
        limiter.acquire(PacedRequest((symbol, "SMART", "TRADES"), (symbol, key)))
        request = HistoricalRequest(clock.now(), 1, n, symbol, f"end{key}", "1 min", "60 S",
                                    True, "TRADES", 2, False,
                                    ContractRef(0, symbol, "STK", "SMART", "USD"))
        assert violation(sent, request) is None, n
        sent.append(request)


def test_referee_flags_each_rule() -> None:
    def req(at: float, symbol: str = "NVDA", end: str = "e") -> HistoricalRequest:
        return HistoricalRequest(T0 + timedelta(seconds=at), 1, 0, symbol, end, "1 min",
                                 "60 S", True, "TRADES", 2, False,
                                 ContractRef(0, symbol, "STK", "SMART", "USD"))

    assert violation([req(0)], req(14.9)) is not None
    assert violation([req(0)], req(15.0)) is None
    five = [req(0.1 * i, end=str(i)) for i in range(5)]
    assert violation(five, req(1.0, end="x")) is not None
    assert violation(five, req(2.0, end="x")) is None
    sixty = [req(5.0 * i, symbol=f"S{i}", end=str(i)) for i in range(60)]
    assert violation(sixty, req(599.0, symbol="X")) is not None
    assert violation(sixty, req(600.0, symbol="X")) is None
