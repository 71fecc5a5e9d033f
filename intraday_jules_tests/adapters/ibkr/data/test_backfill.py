"""Range backfill against the fake gateway, including sockets dropped mid-range."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from intraday_jules.adapters.ibkr import plan_backfill
from intraday_jules.domain.calendar import session_window
from intraday_jules.market_data.source import BarRequest, SourceUnavailable
from intraday_jules.testing.fake_tws import FakeTwsThread, SimulatedClock
from intraday_jules_tests.adapters.ibkr.conftest import SourceFactory

SYMBOLS = ("NVDA", "MSFT")
START, END = date(2025, 1, 13), date(2025, 1, 24)  # 9 sessions (MLK day 01-20 closed)


class Collector:
    """on_session_done that keeps what was delivered, in order."""

    def __init__(self) -> None:
        self.delivered: list[BarRequest] = []
        self.frames: list[pd.DataFrame] = []

    def __call__(self, request: BarRequest, frame: pd.DataFrame) -> None:
        self.delivered.append(request)
        self.frames.append(frame)

    def bars(self) -> pd.DataFrame:
        return pd.concat(self.frames, ignore_index=True)


def _expected_rth(frame: pd.DataFrame, plan: list[BarRequest]) -> int:
    total = 0
    for request in plan:
        window = session_window(request.session)
        rows = frame[(frame["symbol"] == request.symbol) & (frame["ts"] >= window.open)
                     & (frame["ts"] < window.close)]
        total += len(rows)
    return total


def test_plan_interleaves_symbols_over_exchange_sessions_only() -> None:
    plan = plan_backfill(SYMBOLS, START, END)
    assert len(plan) == 18
    assert [r.symbol for r in plan[:4]] == ["NVDA", "MSFT", "NVDA", "MSFT"]
    assert date(2025, 1, 20) not in {r.session for r in plan}


def test_backfill_delivers_every_session_once_in_order(make_source: SourceFactory,
                                                      replay_frame: pd.DataFrame) -> None:
    plan = plan_backfill(SYMBOLS, START, END)
    collect = Collector()
    report = make_source().backfill(plan, collect)
    assert collect.delivered == plan == report.completed
    assert report.reconnects == 0
    assert report.requests_sent == len(plan)
    assert report.bars == len(collect.bars()) == _expected_rth(replay_frame, plan)


def test_drop_mid_backfill_reconnects_and_resumes_without_duplicate_or_gap(
        make_source: SourceFactory, gateway: FakeTwsThread, replay_frame: pd.DataFrame) -> None:
    plan = plan_backfill(SYMBOLS, START, END)
    gateway.faults.drop_after_historical(5)
    collect = Collector()

    def deliver(request: BarRequest, frame: pd.DataFrame) -> None:
        collect(request, frame)
        if len(collect.delivered) == 11:  # a second drop, later in the range
            gateway.faults.drop_after_historical(2)

    report = make_source().backfill(plan, deliver)
    assert collect.delivered == plan
    assert report.reconnects == 2
    bars = collect.bars()
    assert not bars.duplicated(["symbol", "ts"]).any()
    assert len(bars) == _expected_rth(replay_frame, plan)
    starts = [m for m in gateway.messages if m.name == "startApi"]
    assert len(starts) == 3  # connected, then reconnected after each drop


def test_stalled_request_mid_backfill_is_retried_after_reconnect(
        make_source: SourceFactory, gateway: FakeTwsThread) -> None:
    plan = plan_backfill(SYMBOLS, START, date(2025, 1, 14))
    collect = Collector()

    def deliver(request: BarRequest, frame: pd.DataFrame) -> None:
        collect(request, frame)
        if len(collect.delivered) == 1:
            gateway.faults.stall_historical(1)

    report = make_source(request_timeout_s=0.5).backfill(plan, deliver)
    assert collect.delivered == plan
    assert report.reconnects == 1
    assert report.requests_sent == len(plan) + 1


def test_gateway_gone_for_good_raises_unavailable_saying_where_to_resume(
        make_source: SourceFactory, gateway: FakeTwsThread, sim_clock: SimulatedClock) -> None:
    plan = plan_backfill(SYMBOLS, START, END)
    collect = Collector()

    def deliver(request: BarRequest, frame: pd.DataFrame) -> None:
        collect(request, frame)
        if len(collect.delivered) == 3:
            gateway.stop()

    with pytest.raises(SourceUnavailable, match=r"3 of 18 sessions delivered; resume from "
                                                r"MSFT 2025-01-14"):
        make_source().backfill(plan, deliver)
    assert collect.delivered == plan[:3]
    assert sim_clock.sleeps[:3] == [1.0, 2.0, 4.0]  # the reconnect backoff
