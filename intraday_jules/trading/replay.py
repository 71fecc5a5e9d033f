"""``build_replay_session``: every part of a session wired for a replay at full speed.

Used by ``intraday-jules trade``, the tests and the latency benchmark; the Dagster job builds
the same parts from its resources (a live feed, the configured broker) and calls
``run_session`` directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from intraday_jules.broker.base import Broker
from intraday_jules.broker.simulated import SimulatedBroker
from intraday_jules.domain.clock import ReplayClock
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.feed import ReplayFeed
from intraday_jules.market_data.source import BarSource
from intraday_jules.market_data.store import BarStore
from intraday_jules.observability.metrics import TradingMetrics
from intraday_jules.risk import RiskEngine, RiskLimits
from intraday_jules.trading.config import SessionConfig
from intraday_jules.trading.context import Log, MetricsSink
from intraday_jules.trading.policies import (
    Policy,
    PromotedLoader,
    make_policy,
    model_ref,
    no_promoted_loader,
)
from intraday_jules.trading.promoted import promoted_loader
from intraday_jules.trading.result import SessionResult
from intraday_jules.trading.session import Collaborators, run_session

log = logging.getLogger("intraday_jules.trading.session")


@dataclass
class ReplaySession:
    """The parts of one replayed session; ``run()`` trades it."""

    config: SessionConfig
    feed: ReplayFeed
    broker: Broker
    policy: Policy
    ledger: Ledger
    risk: RiskEngine
    store: BarStore
    metrics: MetricsSink
    clock: ReplayClock
    log: Log = log
    extras: Collaborators = field(default_factory=Collaborators)

    def run(self) -> SessionResult:
        return run_session(self.config, feed=self.feed, broker=self.broker, policy=self.policy,
                           ledger=self.ledger, risk=self.risk, store=self.store,
                           metrics=self.metrics, clock=self.clock, log=self.log,
                           extras=self.extras)


def build_replay_session(config: SessionConfig, *, database_url: str, source: BarSource,
                         policy: Policy | str = "random", seed: int = 0,
                         limits: RiskLimits | None = None, broker: Broker | None = None,
                         broker_journal: str | Path | None = None,
                         models_dir: Path | None = None,
                         promoted: PromotedLoader | None = None,
                         until: datetime | None = None,
                         extras: Collaborators | None = None) -> ReplaySession:
    """Wire a replay of ``config.session`` from ``source`` into the database at ``database_url``.

    The clock is a ``ReplayClock`` (time jumps to each bar's close); the broker defaults to a
    ``SimulatedBroker`` with the session's execution model, durable when ``broker_journal``
    is given (needed for restarts across processes). The ``promoted`` policy comes from
    ``promoted`` if given, else from the ``ModelStore`` at ``models_dir``. ``until`` stops
    the replay early (a partial session).
    """
    clock = ReplayClock(config.window.open)
    ledger = Ledger.connect(database_url)
    ref = model_ref(policy) if isinstance(policy, str) else None
    loader = promoted or (promoted_loader(models_dir, ledger.engine, seed=seed,
                                          ref=ref or "promoted")
                          if models_dir is not None else no_promoted_loader)
    chosen = policy if not isinstance(policy, str) else make_policy(policy, seed=seed,
                                                                    loader=loader)
    return ReplaySession(
        config=config,
        feed=ReplayFeed(source, config.session, config.symbols, clock=clock, until=until),
        broker=broker or SimulatedBroker(ExecutionModel(config.execution),
                                         journal=broker_journal, clock=clock),
        policy=chosen, ledger=ledger,
        risk=RiskEngine(limits or RiskLimits(), ledger, clock=clock),
        store=BarStore(ledger.engine), metrics=TradingMetrics(clock=clock), clock=clock,
        extras=extras or Collaborators())
