"""Bad input is recorded, logged, never traded on, and puts trading in REDUCING.

Each test replays 09:30-10:40 ET with a policy that buys both symbols on 10:32 (minute 62),
after the fault is injected at 10:30 (minute 60): in REDUCING those buys must be denied. The
control test shows the same buys go through when nothing is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from intraday_jules.broker import FillReport, SimulatedBroker
from intraday_jules.domain.bars import Bar
from intraday_jules.domain.orders import Fill, Side
from intraday_jules.env.actions import BUY
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.feed import ReplayFeed
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.market_data.store import BarStore
from intraday_jules.observability.metrics import TradingMetrics
from intraday_jules.risk import RiskEngine, RiskLimits
from intraday_jules.trading import (
    Collaborators,
    Minute,
    ReplaySession,
    SessionConfig,
    StreamFeed,
    make_policy,
    run_session,
)
from intraday_jules_tests.trading.conftest import (
    NO_REPORT,
    SESSION,
    ScriptedFeed,
    ScriptedPolicy,
    bar_of,
    item_index,
    ledger_json,
    minute,
    replay,
)

UNTIL = minute(70)
BUY_AT = minute(62)
Hooks = Callable[[ReplaySession], dict[int, Callable[[], list[Any]]]]


def doing(action: Callable[[], object]) -> Callable[[], list[Any]]:
    """A feed hook that only acts (injects nothing into the feed)."""
    def hook() -> list[Any]:
        action()
        return []
    return hook


def buyer() -> ScriptedPolicy:
    return ScriptedPolicy({BUY_AT: (BUY, BUY)})


def run_with(url: str, source: ReplaySource, hooks: Hooks,
             extras: Collaborators = NO_REPORT) -> dict[str, list[dict[str, Any]]]:
    session = replay(url, source, buyer(), until=UNTIL, extras=extras)
    session.feed = ScriptedFeed(session.feed, hooks(session))  # type: ignore[assignment]
    session.run()
    return ledger_json(url)


def z(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def assert_reducing_and_buys_denied(ledger: dict[str, list[dict[str, Any]]], kind: str,
                                    words: str) -> None:
    events = [e for e in ledger["risk_events"] if e["kind"] == kind]
    assert events and words in events[0]["reason"], ledger["risk_events"]
    assert events[0]["state"] == "REDUCING"
    assert not [o for o in ledger["orders"] if o["ts"] == z(BUY_AT)]
    denied = [e for e in ledger["risk_events"] if e["kind"] == "ORDER_DENIED"]
    assert {e["symbol"] for e in denied} == {"NVDA", "MSFT"}
    assert all("REDUCING" in e["reason"] for e in denied)


def test_control_without_bad_input_the_scripted_buys_are_sent(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    ledger = run_with(f"sqlite:///{tmp_path / 'ok.db'}", replay_source, lambda s: {})
    assert {o["symbol"] for o in ledger["orders"] if o["ts"] == z(BUY_AT)} == {"NVDA", "MSFT"}
    assert ledger["risk_events"] == []


def test_bar_arriving_out_of_order_is_refused(tmp_path: Path,
                                              replay_source: ReplaySource) -> None:
    old = bar_of(replay_source, "NVDA", 55, close=bar_of(replay_source, "NVDA", 55).low)
    url = f"sqlite:///{tmp_path / 'b.db'}"
    ledger = run_with(url, replay_source, lambda s: {item_index(60): lambda: [old]})
    assert_reducing_and_buys_denied(ledger, "BAD_BAR", "out of order")
    stored = BarStore.open(url).read(["NVDA"], minute(55), minute(56))
    assert float(stored["close"].iloc[0]) == bar_of(replay_source, "NVDA", 55).close


def test_duplicate_bar_is_refused_and_does_not_overwrite_the_stored_one(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    twin = bar_of(replay_source, "MSFT", 60, close=bar_of(replay_source, "MSFT", 60).low)
    url = f"sqlite:///{tmp_path / 'b.db'}"
    ledger = run_with(url, replay_source, lambda s: {item_index(61): lambda: [twin]})
    assert_reducing_and_buys_denied(ledger, "BAD_BAR", "duplicate")
    stored = BarStore.open(url).read(["MSFT"], minute(60), minute(61))
    assert float(stored["close"].iloc[0]) == bar_of(replay_source, "MSFT", 60).close


def test_bar_with_a_stale_timestamp_is_refused(tmp_path: Path,
                                               replay_source: ReplaySource) -> None:
    def lag(session: ReplaySession) -> dict[int, Callable[[], list[Any]]]:
        return {item_index(60): doing(lambda: session.clock.advance_to(minute(64)))}

    ledger = run_with(f"sqlite:///{tmp_path / 'b.db'}", replay_source, lag)
    assert_reducing_and_buys_denied(ledger, "BAD_BAR", "stale timestamp")
    decided = {d["ts"] for d in ledger["decisions"]}
    assert z(minute(60)) not in decided and z(minute(59)) in decided


def test_broker_message_for_an_unknown_order_is_recorded_and_not_booked(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    ghost = Fill(minute(60), "NVDA", Side.BUY, 5, Decimal("118.5"), Decimal("1"),
                 "IJ-20250203-1111-NVDA", "GHOST-1")

    def inject(session: ReplaySession) -> dict[int, Callable[[], list[Any]]]:
        broker = session.broker
        assert isinstance(broker, SimulatedBroker)
        return {item_index(60): doing(lambda: broker.inject_event(FillReport(ghost)))}

    ledger = run_with(f"sqlite:///{tmp_path / 'b.db'}", replay_source, inject)
    assert_reducing_and_buys_denied(ledger, "UNKNOWN_BROKER_MESSAGE", "never recorded")
    assert ledger["fills"] == []


def test_failed_blocking_quality_check_reduces(tmp_path: Path,
                                               replay_source: ReplaySource) -> None:
    class FailsAt60:
        def blocking_failure(self, minute_: Minute) -> str | None:
            return "ohlc_consistent failed for NVDA" if minute_.ts == minute(60) else None

    ledger = run_with(f"sqlite:///{tmp_path / 'b.db'}", replay_source, lambda s: {},
                      Collaborators(gate=FailsAt60(), report=False))
    assert_reducing_and_buys_denied(ledger, "DATA_QUALITY_FAILED", "ohlc_consistent")


def test_model_that_fails_to_load_is_recorded_and_never_traded_on(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    from intraday_jules.trading.promoted import promoted_loader

    url = f"sqlite:///{tmp_path / 'b.db'}"
    ledger_db = Ledger.connect(url)
    policy = make_policy("promoted", loader=promoted_loader(tmp_path / "models",
                                                            ledger_db.engine))
    replay(url, replay_source, policy, until=UNTIL).run()
    ledger = ledger_json(url)
    [event] = ledger["risk_events"]
    assert event["kind"] == "MODEL_LOAD_FAILED" and event["state"] == "REDUCING"
    assert "promoted" in event["reason"]
    assert ledger["orders"] == []


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_live_feed_silence_is_stale_data_and_reduces_once(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    clock = ManualClock(minute(0))
    feed = ReplayFeed(replay_source, SESSION, ("NVDA", "MSFT"), until=minute(3))
    bars = [bar for bar in feed.bars(None) if bar is not None]

    def stream() -> Any:
        for bar in bars:
            clock.now = bar.ts + timedelta(minutes=1, seconds=1)
            yield bar
        for seconds in (30, 60, 120, 180):  # heartbeats while nothing arrives
            clock.now = minute(3) + timedelta(seconds=seconds)
            yield None

    url = f"sqlite:///{tmp_path / 'live.db'}"
    ledger = Ledger.connect(url)
    result = run_session(
        SessionConfig(SESSION), feed=StreamFeed(stream(), name="live"),
        broker=SimulatedBroker(clock=clock), policy=buyer(), ledger=ledger,
        risk=RiskEngine(RiskLimits(), ledger, clock=clock), store=BarStore(ledger.engine),
        metrics=TradingMetrics(clock=clock), clock=clock, extras=NO_REPORT)
    events = ledger_json(url)["risk_events"]
    assert [e["kind"] for e in events] == ["STALE_DATA"]
    assert result.state == "REDUCING" and result.decisions == 3
    assert datetime.fromisoformat(events[0]["ts"].replace("Z", "+00:00")) == minute(2)


def test_bar_of_an_unknown_symbol_is_refused(tmp_path: Path,
                                             replay_source: ReplaySource) -> None:
    alien = Bar("AAPL", minute(60), 230.0, 231.0, 229.0, 230.5, 100)
    ledger = run_with(f"sqlite:///{tmp_path / 'b.db'}", replay_source,
                      lambda s: {item_index(60): lambda: [alien]})
    assert_reducing_and_buys_denied(ledger, "BAD_BAR", "not traded")
