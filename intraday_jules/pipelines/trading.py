"""Building a session from settings-like values: what the Dagster job and the CLI share.

- ``StoredQualityGate``: the blocking data-quality verdict the loop consults every minute:
  the previous session's partitions of every traded symbol (and today's, once a report
  exists) must have passed their ERROR checks; otherwise trading goes to REDUCING.
- ``session_report_from_ledger``: the session report rebuilt from the ledger and the stored
  bars alone (the end-of-session asset, or after a crash).
- ``paced_feed``: a live-clock feed over any ``BarSource`` (the local default trades the
  simulated market in real time; paper/live use the IB stream instead).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from intraday_jules.broker.base import Broker
from intraday_jules.broker.simulated import SimulatedBroker
from intraday_jules.domain.bars import BAR, frame_to_bars
from intraday_jules.domain.calendar import partition_key_for, previous_session, session_window
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.feed import BarFeed, FeedItem, StreamFeed
from intraday_jules.market_data.source import BarRequest, BarSource, SourceError
from intraday_jules.market_data.store import BarStore
from intraday_jules.observability.metrics import TradingMetrics
from intraday_jules.quality import blocking_reason, load_latest_report
from intraday_jules.risk import RiskEngine, RiskLimits
from intraday_jules.settings import Settings
from intraday_jules.trading.config import SessionConfig
from intraday_jules.trading.context import Log
from intraday_jules.trading.intake import Minute
from intraday_jules.trading.policies import make_policy
from intraday_jules.trading.promoted import promoted_loader
from intraday_jules.trading.report import SessionReport, build_session_report
from intraday_jules.trading.result import SessionResult
from intraday_jules.trading.session import Collaborators, run_session

HEARTBEAT_S = 5.0
GATE_CACHE_S = 60.0


class StoredQualityGate:
    """Blocking checks from ``data_quality_reports``, re-read at most once a minute.

    Trading reduces when the previous or the current session's partition of a traded symbol
    has a latest report that failed an ERROR check. A partition without a report yet (today's
    is ingested after the close; a replay of a file never ingested) does not block.
    """

    def __init__(self, engine: Engine, session: date, symbols: Sequence[str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.keys = tuple(partition_key_for(day, symbol)
                          for day in (previous_session(session), session) for symbol in symbols)
        self._clock = clock
        self._cached: tuple[float, str | None] | None = None

    def blocking_failure(self, minute: Minute) -> str | None:
        now = self._clock()
        if self._cached is None or now - self._cached[0] >= GATE_CACHE_S:
            self._cached = (now, self._verdict())
        return self._cached[1]

    def _verdict(self) -> str | None:
        for key in self.keys:
            report = load_latest_report(self.engine, partition_key=key)
            if report is not None and report.blocking_failed:
                return blocking_reason(self.engine, key)
        return None


def session_report_from_ledger(database_url: str, session: date, symbols: Sequence[str],
                               header: dict[str, object]) -> SessionReport:
    ledger = Ledger.connect(database_url)
    try:
        store = BarStore(ledger.engine)
        window = session_window(session)
        bars = store.read(list(symbols), window.open, window.close)
        return build_session_report(ledger.session_ledger(session), bars, ExecutionModel(),
                                    {"session": session.isoformat(), **header})
    finally:
        ledger.engine.dispose()


def paced_feed(source: BarSource, session: date, symbols: Sequence[str], *,
               now: Callable[[], datetime] = lambda: datetime.now(UTC),
               sleep: Callable[[float], None] = time.sleep) -> StreamFeed:
    """Each minute's bars delivered when that minute has closed by the wall clock."""
    return StreamFeed(_paced(source, session, tuple(symbols), now, sleep), name=source.name)


def _paced(source: BarSource, session: date, symbols: tuple[str, ...],
           now: Callable[[], datetime], sleep: Callable[[float], None]) -> Iterator[FeedItem]:
    frames = []
    for symbol in symbols:
        try:
            frames.append(source.fetch_session(BarRequest(symbol, session)))
        except SourceError:
            continue  # the loop notices the silence (stale data) and reduces
    bars = sorted((b for f in frames for b in frame_to_bars(f)),
                  key=lambda b: (b.ts, symbols.index(b.symbol)))
    for bar in bars:
        while now() < bar.ts + BAR:
            yield None
            sleep(min(HEARTBEAT_S, max(0.0, (bar.ts + BAR - now()).total_seconds())))
        yield bar
    close = session_window(session).close
    while now() < close + timedelta(minutes=1):
        yield None
        sleep(HEARTBEAT_S)


def simulated_broker_journal(home: Path, database_url: str) -> Path:
    """One simulated-broker journal per database: the broker's memory follows the ledger's."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return home / "simulated_broker" / f"{digest}.jsonl"


def build_broker(name: str, *, home: Path, database_url: str, ib_host: str, ib_port: int,
                 ib_client_id: int, deployment: str, clock: Clock) -> Broker:
    """The configured broker: the simulated one (journaled), or IBKR (paper unless live)."""
    if name == "simulated":
        return SimulatedBroker(ExecutionModel(), clock=clock,
                               journal=simulated_broker_journal(home, database_url))
    if name == "ibkr":
        from intraday_jules.adapters.ibkr.execution.broker import build_ibkr_broker

        return build_ibkr_broker(host=ib_host, port=ib_port, client_id=ib_client_id + 1,
                                 live=deployment == "live", home=home)
    raise ValueError(f"unknown broker {name!r}: simulated or ibkr")


@dataclass(frozen=True)
class LiveParts:
    """Everything a live (wall-clock) session needs besides the feed and the broker."""

    database_url: str
    models_dir: Path
    policy: str
    limits: RiskLimits
    extras: Collaborators
    seed: int = 0


def run_live_session(config: SessionConfig, parts: LiveParts, *, feed: BarFeed,
                     broker: Broker, log: Log, clock: Clock = system_clock) -> SessionResult:
    """The live loop: same ``run_session`` as replays, on a real clock and a live feed."""
    ledger = Ledger.connect(parts.database_url)
    policy = make_policy(parts.policy, seed=parts.seed,
                         loader=promoted_loader(parts.models_dir, ledger.engine,
                                                seed=parts.seed))
    return run_session(config, feed=feed, broker=broker, policy=policy, ledger=ledger,
                       risk=RiskEngine(parts.limits, ledger, clock=clock),
                       store=BarStore(ledger.engine), metrics=TradingMetrics(clock=clock),
                       clock=clock, log=log, extras=parts.extras)


def _collaborators(settings: Settings, engine: Engine, day: date) -> Collaborators:
    return Collaborators(gate=StoredQualityGate(engine, day, settings.symbols),
                         push_url=settings.pushgateway_url,
                         push_group=(("deployment", settings.deployment),))


def _ledger_engine(settings: Settings) -> Engine:
    from intraday_jules.db.engine import create_db_engine
    from intraday_jules.db.migrate import upgrade_to_head

    engine = create_db_engine(settings.database_url)
    upgrade_to_head(engine)
    return engine


def run_configured_session(settings: Settings, day: date, *, feed_kind: str, policy: str,
                           source: BarSource, log: Log) -> SessionResult:
    """The trading job's session from settings: ``replay`` (full speed, simulated broker) or
    ``live`` (wall clock; the IB stream with the ibkr broker, else the configured source)."""
    config = SessionConfig(day, symbols=settings.symbols)
    limits = RiskLimits.from_settings(settings)
    engine = _ledger_engine(settings)
    try:
        extras = _collaborators(settings, engine, day)
        if feed_kind == "replay":
            from intraday_jules.trading.replay import build_replay_session

            return build_replay_session(
                config, database_url=settings.database_url, source=source, policy=policy,
                limits=limits, models_dir=settings.models_dir, extras=extras,
                broker_journal=simulated_broker_journal(settings.home, settings.database_url),
            ).run()
        if feed_kind != "live":
            raise ValueError(f"feed {feed_kind!r}: expected replay or live")
        broker = build_broker(settings.broker, home=settings.home,
                              database_url=settings.database_url, ib_host=settings.ib_host,
                              ib_port=settings.ib_port, ib_client_id=settings.ib_client_id,
                              deployment=settings.deployment, clock=system_clock)
        parts = LiveParts(settings.database_url, settings.models_dir, policy, limits, extras)
        try:
            return run_live_session(config, parts, feed=_live_feed(settings, source, day),
                                    broker=broker, log=log)
        finally:
            _close(broker)
    finally:
        engine.dispose()


def _close(broker: Broker) -> None:
    """Disconnect, and release the client's loop thread where the broker has one (IBKR)."""
    close = getattr(broker, "close", None)
    if callable(close):
        close()
    else:
        broker.disconnect()


def _live_feed(settings: Settings, source: BarSource, day: date) -> BarFeed:
    if settings.broker == "ibkr":
        from intraday_jules.adapters.ibkr.data.live_feed import ib_live_feed

        return ib_live_feed(host=settings.ib_host, port=settings.ib_port,
                            client_id=settings.ib_client_id + 2, symbols=settings.symbols,
                            session=day)
    return paced_feed(source, day, settings.symbols)


def reconcile_configured_broker(settings: Settings) -> dict[str, object]:
    """Broker positions vs the ledger's; a mismatch latches HALTED (recorded)."""
    broker = build_broker(settings.broker, home=settings.home,
                          database_url=settings.database_url, ib_host=settings.ib_host,
                          ib_port=settings.ib_port, ib_client_id=settings.ib_client_id,
                          deployment=settings.deployment, clock=system_clock)
    ledger = Ledger.connect(settings.database_url)
    try:
        broker.connect()
        result = ledger.reconcile(broker.positions())
        state = RiskEngine(RiskLimits.from_settings(settings), ledger).on_reconciliation(result)
        return {"matches": result.matches, "detail": result.describe(), "state": state.value}
    finally:
        _close(broker)
        ledger.engine.dispose()
