"""The trading loop computes each bar's features once, and they are ``build_features``' rows.

A recording policy (our own ``Policy`` interface) keeps what the loop handed it on every
minute it was consulted. Over a whole simulated session, with minutes one symbol's bar never
came for (abandoned: its other bars are still stored and counted, as in the batch build) and
a crash and restart in the middle (the restarted run's stream is rebuilt from the stored bars),
every observation's raw feature matrix and warm flag equal ``build_features`` over the
session's accepted bars, bit for bit; the loop never calls ``build_features``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from intraday_jules.domain.bars import Bar
from intraday_jules.env.actions import HOLD
from intraday_jules.features import DEFAULT_SPEC, build_features
from intraday_jules.market_data.feed import FeedItem
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.trading import Observation
from intraday_jules_tests.trading.conftest import (
    SESSION,
    ScriptedFeed,
    SimulatedCrash,
    item_index,
    minute,
    replay,
)

DROPPED = {("MSFT", minute(n)) for n in (10, 120, 121, 300)}
NAMES = list(DEFAULT_SPEC.names)


@dataclass
class RecordingPolicy:
    """Holds; records each observation's minute, raw features, warm flag and row."""

    name: str = "recording"
    seen: list[tuple[datetime, np.ndarray, bool, int, bool]] = field(default_factory=list)

    def reset(self, session: date) -> None:
        """Stateless."""

    def act(self, observation: Observation) -> tuple[int, ...]:
        self.seen.append((observation.ts, np.array(observation.features, copy=True),
                          observation.warm, observation.row, observation.replaying))
        return (HOLD,) * len(observation.symbols)


@dataclass
class DroppingFeed:
    """Wraps a feed and never delivers the bars in ``DROPPED`` (a symbol's minute missing)."""

    inner: Any

    @property
    def name(self) -> str:
        return str(self.inner.name)

    def bars(self, after: datetime | None) -> Iterator[FeedItem]:
        for item in self.inner.bars(after):
            if isinstance(item, Bar) and (item.symbol, item.ts) in DROPPED:
                continue
            yield item


def expected_rows(source: ReplaySource) -> pd.DataFrame:
    """``build_features`` over the session's bars the loop accepted (all but ``DROPPED``)."""
    bars = source.bars.drop(columns=["source"])
    bars = bars[bars["ts"].dt.tz_convert("America/New_York").dt.date == SESSION]
    keep = [(s, ts.to_pydatetime()) not in DROPPED
            for s, ts in zip(bars["symbol"], bars["ts"], strict=True)]
    return build_features(bars[keep], DEFAULT_SPEC)


def assert_rows_equal(seen: list[tuple[datetime, np.ndarray, bool, int, bool]],
                      expected: pd.DataFrame) -> None:
    complete = sorted(set(expected.index.get_level_values("ts")) - {
        pd.Timestamp(ts) for _, ts in DROPPED})
    for ts, matrix, warm, row, _ in seen:
        rows = expected.loc[[("NVDA", pd.Timestamp(ts)), ("MSFT", pd.Timestamp(ts))]]
        assert matrix.tobytes() == rows[NAMES].to_numpy(np.float64).tobytes(), ts
        assert warm is not bool(rows["warmup"].any()) and warm
        assert row == complete.index(pd.Timestamp(ts))  # the minute's aligned row


def test_the_loops_feature_rows_are_build_features_rows_over_a_whole_session(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    policy = RecordingPolicy()
    session = replay(f"sqlite:///{tmp_path / 'run.db'}", replay_source, policy)
    session.feed = DroppingFeed(session.feed)  # type: ignore[assignment]
    session.run()
    assert len(policy.seen) == 390 - len(DROPPED) - 50 - 5  # rows 50 .. the flatten
    assert_rows_equal(policy.seen, expected_rows(replay_source))


@pytest.mark.parametrize("crash_at", [30, 200])
def test_a_restart_rebuilds_the_feature_stream_from_the_stored_bars(
        tmp_path: Path, replay_source: ReplaySource, crash_at: int) -> None:
    url, journal = f"sqlite:///{tmp_path / 'run.db'}", tmp_path / "broker.jsonl"
    first = RecordingPolicy()
    crashing = replay(url, replay_source, first, journal=journal)
    crashing.feed = ScriptedFeed(DroppingFeed(crashing.feed),
                                 crash_after=item_index(crash_at) - 5)
    with pytest.raises(SimulatedCrash):
        crashing.run()
    second = RecordingPolicy()
    restarted = replay(url, replay_source, second, journal=journal)
    restarted.feed = DroppingFeed(restarted.feed)  # type: ignore[assignment]
    restarted.run()
    replayed = [s for s in second.seen if s[4]]
    assert [s[0] for s in replayed] == [s[0] for s in first.seen]  # warm-up saw the same
    assert_rows_equal(first.seen + second.seen, expected_rows(replay_source))
    live = [s[0] for s in second.seen if not s[4]]
    assert len(replayed) + len(live) == 390 - len(DROPPED) - 50 - 5
