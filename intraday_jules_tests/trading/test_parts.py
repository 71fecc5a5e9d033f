"""The loop's small parts on their own: bar intake, the replay clock, phases, baselines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from intraday_jules.domain.bars import BAR, Bar
from intraday_jules.env.actions import BUY, HOLD
from intraday_jules.trading import (
    ConstantPolicy,
    FailedPolicy,
    Observation,
    Phase,
    RandomPolicy,
    ReplayClock,
    SessionConfig,
    make_policy,
)
from intraday_jules.trading.config import minute_phase
from intraday_jules.trading.intake import BarIntake
from intraday_jules_tests.trading.conftest import SESSION, minute

CONFIG = SessionConfig(SESSION)


def bar(symbol: str, n: int, close: float = 100.0) -> Bar:
    return Bar(symbol, minute(n), close, close + 1, close - 1, close, 10)


def arrived(n: int, seconds: int = 1) -> datetime:
    return minute(n) + BAR + timedelta(seconds=seconds)


def test_a_minute_completes_when_every_symbol_has_its_bar() -> None:
    intake = BarIntake(CONFIG)
    assert intake.offer(bar("NVDA", 0), arrived(0)).minute is None
    done = intake.offer(bar("MSFT", 0), arrived(0)).minute
    assert done is not None and [b.symbol for b in done.bars] == ["NVDA", "MSFT"]


def test_symbol_order_of_a_minute_follows_the_config_not_arrival() -> None:
    intake = BarIntake(CONFIG)
    intake.offer(bar("MSFT", 0), arrived(0))
    done = intake.offer(bar("NVDA", 0), arrived(0)).minute
    assert done is not None and [b.symbol for b in done.bars] == ["NVDA", "MSFT"]


def test_a_later_minute_abandons_an_incomplete_one() -> None:
    intake = BarIntake(CONFIG)
    intake.offer(bar("NVDA", 0), arrived(0))
    outcome = intake.offer(bar("NVDA", 1), arrived(1))
    assert [b.ts for b in outcome.abandoned] == [minute(0)] and outcome.minute is None
    late = intake.offer(bar("MSFT", 0), arrived(1))
    assert late.refused is not None and "out of order" in late.refused.reason


@pytest.mark.parametrize(("offers", "words"), [
    ([("NVDA", 0), ("NVDA", 0)], "duplicate"),
    ([("NVDA", 5), ("MSFT", 5), ("NVDA", 3)], "out of order"),
    ([("AAPL", 0)], "not traded"),
])
def test_bad_bars_are_refused_with_a_reason(offers: list[tuple[str, int]], words: str) -> None:
    intake = BarIntake(CONFIG)
    outcomes = [intake.offer(bar(symbol, n), arrived(n)) for symbol, n in offers]
    refused = outcomes[-1].refused
    assert refused is not None and words in refused.reason
    assert all(o.refused is None for o in outcomes[:-1])


def test_a_bar_arriving_long_after_its_close_is_stale() -> None:
    outcome = BarIntake(CONFIG).offer(bar("NVDA", 0), arrived(0, seconds=91))
    assert outcome.refused is not None and "stale timestamp" in outcome.refused.reason


def test_after_a_restart_minutes_up_to_the_resume_point_are_duplicates() -> None:
    intake = BarIntake(CONFIG, resume=minute(10))
    assert intake.offer(bar("NVDA", 10), arrived(10)).refused is not None
    assert intake.offer(bar("NVDA", 11), arrived(11)).accepted


def test_bar_of_another_day_and_pre_market_bars_are_not_traded() -> None:
    intake = BarIntake(CONFIG)
    yesterday = Bar("NVDA", minute(0) - timedelta(days=3), 1.0, 1.0, 1.0, 1.0, 1)
    refused = intake.offer(yesterday, arrived(0)).refused
    assert refused is not None and "belongs to session" in refused.reason
    early = intake.offer(bar("NVDA", -30), arrived(-30))
    assert early.refused is None and not early.accepted and early.minute is None


def test_replay_clock_jumps_to_each_close_and_runs_in_real_time_between() -> None:
    perf = iter([0.0, 0.0, 5.0, 5.0, 5.0, 5.25, 5.25, 6.0])
    clock = ReplayClock(minute(0), perf=lambda: next(perf))
    assert clock() == minute(0)
    clock.advance_to(minute(1))  # perf reads 5.0 twice: now, then the new anchor
    assert clock() == minute(1)
    assert clock() == minute(1) + timedelta(seconds=0.25)
    clock.advance_to(minute(0))  # never backwards
    assert clock() == minute(1) + timedelta(seconds=1)


@pytest.mark.parametrize(("n", "done", "previous", "expected"), [
    (49, 49, 48, Phase.WARMUP),
    (50, 50, 49, Phase.DECIDE),
    (384, 384, 383, Phase.FLATTEN),  # 15:54 ET: closes at 15:55
    (385, 385, 384, Phase.CLOSED),
    (386, 300, None, Phase.FLATTEN),  # first minute past 15:55 after a gap is the flatten
])
def test_phases_follow_the_env_schedule(n: int, done: int, previous: int | None,
                                        expected: Phase) -> None:
    before = None if previous is None else minute(previous)
    assert minute_phase(CONFIG, minute(n), done, before, lambda: True) is expected


def test_half_day_flattens_at_1255_et() -> None:
    half = SessionConfig(date(2024, 11, 29))
    assert half.flatten_at == datetime(2024, 11, 29, 17, 55, tzinfo=UTC)


def observation(step: int = 0) -> Observation:
    return Observation(SESSION, minute(60), step, ("NVDA", "MSFT"), ("f",), np.zeros((2, 1)),
                       (1.0, 1.0), (0, 0), (0.0, 0.0))


def test_random_policy_replays_the_same_actions_after_reset() -> None:
    policy = RandomPolicy(seed=5)
    policy.reset(SESSION)
    first = [policy.act(observation(k)) for k in range(20)]
    policy.reset(SESSION)
    assert [policy.act(observation(k)) for k in range(20)] == first
    assert len(set(first)) > 3


def test_policy_factory_names_and_failures() -> None:
    assert isinstance(make_policy("always-buy"), ConstantPolicy)
    assert make_policy("always-buy").act(observation()) == (BUY, BUY)
    failed = make_policy("promoted")
    assert isinstance(failed, FailedPolicy) and "loader" in failed.error
    assert failed.act(observation()) == (HOLD, HOLD)
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("yolo")
