"""A live session on the simulated broker fills with the traded model's cost model (its
ExecutionSpec's), not the default one, so its fills equal the evaluation's.

Regression: ``BrokerOptions.build`` gave the live simulated broker ``ExecutionModel()``
whatever the model, so a model saved with other costs traded (and reconciled) at prices its
evaluation never saw. The session here runs through ``run_configured_session``'s live path
(the trading job's): the real ``BrokerOptions`` and its paced feed over the simulated market;
only the session clock follows the bars (the recorded session is in the past), so the
minutes are traded at full speed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from intraday_jules.broker.base import Broker
from intraday_jules.broker.simulated import SimulatedBroker
from intraday_jules.db import create_db_engine, upgrade_to_head
from intraday_jules.domain.bars import BAR
from intraday_jules.domain.clock import Clock
from intraday_jules.env.execution_model import ExecutionConfig, ExecutionModel
from intraday_jules.market_data.feed import BarFeed, FeedItem, StreamFeed
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.market_data.source import BarSource
from intraday_jules.pipelines.session_reconciliation import reconcile_at
from intraday_jules.pipelines.trading import (
    FixedRisk,
    LedgerAt,
    run_configured_session,
    session_execution,
)
from intraday_jules.pipelines.trading_parts import BrokerOptions, PushTarget
from intraday_jules.trading import SessionConfig
from intraday_jules_tests.reconcile_support import SESSION, no_halt_limits, save_model, tiny_dual

pytest.importorskip("sb3_contrib")
#: costs no default model has: 7 bps half spread, 3 bps impact
COSTLY = ExecutionConfig(half_spread_bps=Decimal(7), impact_bps=Decimal(3))


class BarClock:
    """The session's clock: one second after the close of the latest bar delivered."""

    def __init__(self) -> None:
        self.now = datetime(2025, 2, 3, 14, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class SimulatedAtBarSpeed:
    """The configured simulated broker (``BrokerOptions``) and its live feed, whose bars move
    ``clock``; records every broker it builds."""

    options: BrokerOptions
    clock: BarClock
    built: list[Broker] = field(default_factory=list)

    def journal(self) -> Path:
        return self.options.journal()

    def build(self, clock: Clock, *, execution: ExecutionModel | None = None) -> Broker:
        broker = self.options.build(clock, execution=execution)
        self.built.append(broker)
        return broker

    def live_feed(self, source: BarSource, session: date, symbols: Sequence[str]) -> BarFeed:
        paced = self.options.live_feed(source, session, symbols)

        def following() -> Iterator[FeedItem]:
            for item in paced.bars(None):
                if item is not None:
                    self.clock.now = item.ts + BAR + timedelta(seconds=1)
                yield item
        return StreamFeed(following(), name="paced")


@pytest.fixture(scope="module")
def costly_model(sim_regular_minute_file: Path, tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[str, Path, str]:
    """(database URL, models dir, id) of the tiny model saved with the ``COSTLY`` costs."""
    folder = tmp_path_factory.mktemp("costly")
    url, models = f"sqlite:///{folder / 'db.sqlite'}", folder / "models"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    bundle = tiny_dual(sim_regular_minute_file)
    costly = replace(bundle, execution=replace(bundle.execution, costs=COSTLY), model_id=None)
    model_id = save_model(costly, engine, models)
    engine.dispose()
    return url, models, model_id


def test_the_session_execution_is_the_models_for_a_model_and_the_default_otherwise(
        costly_model: tuple[str, Path, str]) -> None:
    url, models, model_id = costly_model
    engine = create_db_engine(url)
    try:
        config = SessionConfig(SESSION)
        traded = session_execution(config, f"model:{model_id}", models, engine)
        assert traded.config == COSTLY
        assert session_execution(config, "random", models, engine).config == ExecutionConfig()
    finally:
        engine.dispose()


def test_the_live_simulated_broker_fills_with_the_models_costs(
        costly_model: tuple[str, Path, str], sim_regular_minute_file: Path,
        tmp_path: Path) -> None:
    url, models, model_id = costly_model
    clock = BarClock()
    broker = SimulatedAtBarSpeed(BrokerOptions(
        name="simulated", home=tmp_path, database_url=url, ib_host="127.0.0.1",
        ib_port=7497, ib_client_id=1, deployment="local"), clock)
    result = run_configured_session(
        SessionConfig(SESSION), feed_kind="live", policy=f"model:{model_id}",
        source=ReplaySource(sim_regular_minute_file), ledger=LedgerAt(url),
        risk=FixedRisk(no_halt_limits()), broker=broker, models_dir=models,
        push=PushTarget(), log=logging.getLogger(__name__), clock=clock, seed=4)
    [built] = broker.built
    assert isinstance(built, SimulatedBroker) and built.model.config == COSTLY
    assert result.fills > 20 and result.risk_events == 0
    # every fill at the model's own price: the replay prices them with the bundle's costs
    reconciled = reconcile_at(SESSION, database_url=url, models_dir=models)
    assert reconciled.verdict == "match" and reconciled.fills == result.fills
    assert reconciled.shortfall_usd == 0, reconciled.to_json()
