"""Trading-loop fixtures: a session of the simulated stand-in for the recorded file (no
../shared needed), fresh databases, replay builders, fakes of our own interfaces (scripted
policies, fault-injecting feeds). Real databases, real broker code."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from intraday_jules.domain.bars import Bar
from intraday_jules.env.actions import HOLD
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.feed import FeedItem
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.market_data.source import BarSource
from intraday_jules.risk import RiskLimits
from intraday_jules.trading import (
    Collaborators,
    Observation,
    ReplaySession,
    SessionConfig,
    build_replay_session,
)
from intraday_jules_tests.observability.conftest import pushgateway_url  # noqa: F401 - fixture

SESSION = date(2025, 2, 3)
OPEN = datetime(2025, 2, 3, 14, 30, tzinfo=UTC)  # 09:30 ET
NO_REPORT = Collaborators(report=False)


def minute(n: int) -> datetime:
    """The n-th bar start of the session (0 = 09:30 ET)."""
    return OPEN + timedelta(minutes=n)


@pytest.fixture(scope="session")
def replay_path(sim_regular_minute_file: Path) -> Path:
    """The seeded simulator's NVDA+MSFT minutes, 2025-01-02..2025-02-28, regular hours (the
    loop trades regular hours only), as a replay CSV."""
    return sim_regular_minute_file


@pytest.fixture(scope="session")
def replay_source(replay_path: Path) -> ReplaySource:
    source = ReplaySource(replay_path)
    source.bars  # noqa: B018 - read and validate the file once per test run
    return source


@pytest.fixture
def fresh_url(tmp_path: Path) -> Callable[[str], str]:
    """A new SQLite database per name inside the test's tmp folder."""
    return lambda name: f"sqlite:///{tmp_path / name}.db"


def replay(url: str, source: BarSource, policy: Any = "random", *,
           session: date = SESSION, until: datetime | None = None,
           limits: RiskLimits | None = None, journal: Path | None = None,
           extras: Collaborators = NO_REPORT, **kwargs: Any) -> ReplaySession:
    """A replay session (not yet run) with test defaults: no report, seed 3."""
    kwargs.setdefault("seed", 3)
    return build_replay_session(SessionConfig(session), database_url=url, source=source,
                                policy=policy, until=until, limits=limits,
                                broker_journal=journal, extras=extras, **kwargs)


def ledger_json(url: str, session: date = SESSION) -> dict[str, list[dict[str, Any]]]:
    ledger = Ledger.connect(url)
    try:
        return ledger.session_ledger(session)
    finally:
        ledger.engine.dispose()


@dataclass
class ScriptedPolicy:
    """Plays given per-symbol actions on given minutes; holds otherwise (our own interface)."""

    script: Mapping[datetime, tuple[int, ...]]
    name: str = "scripted"
    seen: list[datetime] = field(default_factory=list)

    def reset(self, session: date) -> None:
        self.seen = []

    def act(self, observation: Observation) -> tuple[int, ...]:
        self.seen.append(observation.ts)
        return self.script.get(observation.ts, (HOLD,) * len(observation.symbols))


class SimulatedCrash(BaseException):
    """Raised by a feed to stop a run in the middle, as a kill would (no clean finish).

    A ``BaseException``, like the SIGKILL it stands for: nothing in the process reacts to it,
    the loop's last line of defence (which handles every ``Exception``) included."""


@dataclass
class ScriptedFeed:
    """Wraps a feed: ``hooks[k]`` runs before the k-th item and returns items to put first;
    ``crash_after`` raises ``SimulatedCrash`` once that many items were delivered."""

    inner: Any
    hooks: Mapping[int, Callable[[], list[FeedItem]]] = field(default_factory=dict)
    crash_after: int | None = None

    @property
    def name(self) -> str:
        return str(self.inner.name)

    def bars(self, after: datetime | None) -> Iterator[FeedItem]:
        items = self.inner.bars(after)
        return self._run(items)

    def _run(self, items: Iterator[FeedItem]) -> Iterator[FeedItem]:
        for k, item in enumerate(items):
            if self.crash_after is not None and k >= self.crash_after:
                raise SimulatedCrash(f"crash before item {k}")
            if k in self.hooks:
                yield from self.hooks[k]()
            yield item


def item_index(n: int, symbol_rank: int = 0, symbols: int = 2) -> int:
    """Index in a full replay feed of the bar of minute ``n`` (symbol rank in the session)."""
    return n * symbols + symbol_rank


def bar_of(source: ReplaySource, symbol: str, n: int, **changes: float) -> Bar:
    """The replayed bar of ``symbol`` at minute ``n``, optionally with changed prices."""
    frame = source.bars
    row = frame[(frame["symbol"] == symbol) & (frame["ts"] == minute(n))].iloc[0]
    values = {k: float(row[k]) for k in ("open", "high", "low", "close")}
    values.update(changes)
    return Bar(symbol, minute(n), values["open"], values["high"], values["low"],
               values["close"], int(row["volume"]))
