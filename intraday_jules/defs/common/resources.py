"""Resources, all configured from Settings when the definitions load: the market-data source,
the bar store, the model store, and trading's ledger, risk engine and broker.

Secrets never enter resource config (which the UI shows): the database URL is passed as
``dg.EnvVar`` when it comes from the environment, so the UI shows the variable's name only;
vendor keys are fetched from the secrets helper when the source is built.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg

from intraday_jules.adapters.factory import SourceOptions, build_source
from intraday_jules.broker.base import Broker
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.feed import BarFeed
from intraday_jules.market_data.source import BarSource
from intraday_jules.market_data.store import BarStore
from intraday_jules.pipelines.trading_parts import BrokerOptions
from intraday_jules.risk import RiskEngine, RiskLimits
from intraday_jules.settings import Settings

DATABASE_URL_ENV = "INTRADAY_JULES_DATABASE_URL"


class BarStoreResource(dg.ConfigurableResource):
    """Opens the BarStore (schema migrated on open) for the duration of a step."""

    database_url: str

    def open(self) -> BarStore:
        return BarStore.open(self.database_url)


class MarketDataResource(dg.ConfigurableResource):
    """Builds the configured source or failover chain (no secrets in this config)."""

    sources: list[str]
    cross_vendor_check: bool = False
    replay_path: str | None = None
    sim_seed: int = 7
    extended_hours: bool = False
    ib_host: str = "127.0.0.1"
    ib_port: int = 7497
    ib_client_id: int = 17
    av_base_url: str = "https://www.alphavantage.co/query"
    av_calls_per_minute: int = 5
    av_calls_per_day: int = 25
    home: str = ".intraday_jules"

    def options(self) -> SourceOptions:
        return SourceOptions(
            names=tuple(self.sources), replay_path=Path(self.replay_path) if self.replay_path
            else None, sim_seed=self.sim_seed, extended_hours=self.extended_hours,
            ib_host=self.ib_host, ib_port=self.ib_port, ib_client_id=self.ib_client_id,
            av_base_url=self.av_base_url, av_calls_per_minute=self.av_calls_per_minute,
            av_calls_per_day=self.av_calls_per_day, home=Path(self.home))

    def build(self) -> BarSource:
        return build_source(self.options())

    def build_cross_source(self) -> BarSource | None:
        """The second source of the chain, for the cross-vendor agreement check (or None)."""
        if not self.cross_vendor_check or len(self.sources) < 2:
            return None
        return build_source(replace(self.options(), names=(self.sources[1],)))


def _database_url(settings: Settings) -> str:
    """The URL as resource config: the variable's name when the URL came from it."""
    if os.environ.get(DATABASE_URL_ENV) == settings.database_url:
        return dg.EnvVar(DATABASE_URL_ENV)  # type: ignore[return-value]
    return settings.database_url


def bar_store_resource(settings: Settings) -> BarStoreResource:
    return BarStoreResource(database_url=_database_url(settings))


def market_data_resource(settings: Settings) -> MarketDataResource:
    options = SourceOptions.from_settings(settings)
    return MarketDataResource(
        sources=list(options.names), cross_vendor_check=settings.cross_vendor_check,
        replay_path=str(options.replay_path) if options.replay_path else None,
        sim_seed=options.sim_seed, extended_hours=options.extended_hours,
        ib_host=options.ib_host, ib_port=options.ib_port, ib_client_id=options.ib_client_id,
        av_base_url=options.av_base_url, av_calls_per_minute=options.av_calls_per_minute,
        av_calls_per_day=options.av_calls_per_day, home=str(options.home))


class ModelStoreResource(dg.ConfigurableResource):
    """The model directory + registry, and the training bars (the configured symbols) and
    budgets."""

    database_url: str
    models_dir: str
    tensorboard_dir: str
    foundation_steps: int
    dual_steps: int
    symbols: list[str]
    seed: int = 0
    evaluation_seeds: int = 3
    #: per-split budgets of the gate's CPCV (``pipelines.robustness``)
    cpcv_foundation_steps: int = 8_192
    cpcv_dual_steps: int = 16_384

    def cpcv_budget(self):  # type: ignore[no-untyped-def]
        from intraday_jules.pipelines.robustness import CpcvBudget

        return CpcvBudget(self.cpcv_foundation_steps, self.cpcv_dual_steps,
                          seeds=self.evaluation_seeds)

    def study_lookup(self):  # type: ignore[no-untyped-def]
        """Reads a sweep study of this database (``pipelines.study_stats``)."""
        from intraday_jules.pipelines.study_stats import study_overfitting
        from intraday_jules.settings import Settings

        settings = Settings.from_env(database_url=self.database_url)
        return lambda study: study_overfitting(settings, study)

    def open(self):  # type: ignore[no-untyped-def]
        from intraday_jules.agent import ModelStore
        from intraday_jules.db.engine import create_db_engine

        return ModelStore(Path(self.models_dir), create_db_engine(self.database_url))

    def bars(self):  # type: ignore[no-untyped-def]
        from intraday_jules.market_data.store import BarStore

        store = BarStore.open(self.database_url)
        try:
            return store.read(list(self.symbols))
        finally:
            store.close()

    def blocked(self, store):  # type: ignore[no-untyped-def]
        """Predicate for prepare_data: (symbol, session) -> True if it must not be used."""
        from intraday_jules.domain.calendar import partition_key_for
        from intraday_jules.quality import blocking_reason

        def is_blocked(symbol: str, session: date) -> bool:
            return blocking_reason(store.engine, partition_key_for(session, symbol)) is not None

        return is_blocked


def model_store_resource(settings: Settings, bar_store: BarStoreResource) -> ModelStoreResource:
    return ModelStoreResource(database_url=bar_store.database_url,
                              models_dir=str(settings.models_dir),
                              tensorboard_dir=str(settings.tensorboard_dir),
                              foundation_steps=settings.foundation_steps,
                              dual_steps=settings.dual_steps, symbols=list(settings.symbols),
                              cpcv_foundation_steps=settings.cpcv_foundation_steps,
                              cpcv_dual_steps=settings.cpcv_dual_steps)


class LedgerResource(dg.ConfigurableResource):
    """Opens the ledger (schema migrated on open); the caller disposes its engine."""

    database_url: str

    def open(self) -> Ledger:
        return Ledger.connect(self.database_url)


class RiskEngineResource(dg.ConfigurableResource):
    """The risk limits (exact USD amounts as text) and a risk engine over a ledger."""

    max_position_usd: str
    daily_loss_limit_usd: str
    drawdown_limit_usd: str

    def limits(self) -> RiskLimits:
        return RiskLimits(max_position_usd=Decimal(self.max_position_usd),
                          daily_loss_limit_usd=Decimal(self.daily_loss_limit_usd),
                          drawdown_limit_usd=Decimal(self.drawdown_limit_usd))

    def build(self, ledger: Ledger, clock: Clock = system_clock) -> RiskEngine:
        return RiskEngine(self.limits(), ledger, clock=clock)


class BrokerResource(dg.ConfigurableResource):
    """The configured broker (``BrokerOptions``: simulated, or IBKR paper unless live) and
    the live feed that goes with it; no secrets here (the IB account is read at build)."""

    name: str
    home: str
    database_url: str
    ib_host: str
    ib_port: int
    ib_client_id: int
    deployment: str

    def options(self) -> BrokerOptions:
        return BrokerOptions(name=self.name, home=Path(self.home),
                             database_url=self.database_url, ib_host=self.ib_host,
                             ib_port=self.ib_port, ib_client_id=self.ib_client_id,
                             deployment=self.deployment)

    def journal(self) -> Path:
        return self.options().journal()

    def build(self, clock: Clock = system_clock, *,
              execution: ExecutionModel | None = None) -> Broker:
        return self.options().build(clock, execution=execution)

    def live_feed(self, source: BarSource, session: date, symbols: Sequence[str]) -> BarFeed:
        return self.options().live_feed(source, session, symbols)


def ledger_resource(settings: Settings) -> LedgerResource:
    return LedgerResource(database_url=_database_url(settings))


def risk_engine_resource(settings: Settings) -> RiskEngineResource:
    limits = RiskLimits.from_settings(settings)
    return RiskEngineResource(max_position_usd=str(limits.max_position_usd),
                              daily_loss_limit_usd=str(limits.daily_loss_limit_usd),
                              drawdown_limit_usd=str(limits.drawdown_limit_usd))


def broker_resource(settings: Settings) -> BrokerResource:
    options = BrokerOptions.from_settings(settings)
    return BrokerResource(name=options.name, home=str(options.home),
                          database_url=_database_url(settings), ib_host=options.ib_host,
                          ib_port=options.ib_port, ib_client_id=options.ib_client_id,
                          deployment=options.deployment)
