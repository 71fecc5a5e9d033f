"""The configured parts of a trading session, mapped from Settings in one place: one IB
client-id scheme, the IBKR broker paper unless the deployment is live, the account secret."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from intraday_jules.adapters.alpha_vantage import AlphaVantageSource
from intraday_jules.adapters.factory import SourceOptions, build_source
from intraday_jules.adapters.ibkr.config import ClientRole
from intraday_jules.adapters.ibkr.data.live_feed import IbkrBarFeed
from intraday_jules.adapters.ibkr.execution import IbkrBroker, LiveTradingRefused
from intraday_jules.adapters.vendors import build_ibkr_source
from intraday_jules.broker.simulated import SimulatedBroker
from intraday_jules.domain.clock import system_clock
from intraday_jules.market_data.failover import FailoverSource
from intraday_jules.market_data.live_failover import FailoverFeed
from intraday_jules.pipelines.trading_parts import BrokerOptions
from intraday_jules.settings import Settings


def _settings(tmp_path: Path, **env: str) -> tuple[Settings, dict[str, str]]:
    environ = {"INTRADAY_JULES_HOME": str(tmp_path), "INTRADAY_JULES_IB_ACCOUNT": "DU1234567",
               "INTRADAY_JULES_BROKER": "ibkr", **env}
    return Settings.from_env(environ), environ


def test_the_ibkr_broker_is_paper_with_the_broker_client_id_and_the_account_secret(
        tmp_path: Path) -> None:
    settings, environ = _settings(tmp_path)
    options = BrokerOptions.from_settings(settings)
    broker = options.build(system_clock, environ=environ)
    assert isinstance(broker, IbkrBroker)
    try:
        assert (broker.config.port, broker.config.client_id) == (7497, settings.ib_client_id + 1)
        assert broker.config.readonly is False and broker.guard.expected == "DU1234567"
        assert "1234567" not in repr(broker)
    finally:
        broker.close()
    with pytest.raises(LiveTradingRefused, match="allow_live=True"):
        replace(options, ib_port=7496).build(system_clock, environ=environ)
    live, _ = _settings(tmp_path, INTRADAY_JULES_DEPLOYMENT="live")
    assert live.ib_port == 7496
    opted_in = BrokerOptions.from_settings(live).build(system_clock, environ=environ)
    opted_in.close()  # a live deployment is the explicit opt-in


def test_data_broker_live_feed_and_clock_each_get_their_own_client_id(tmp_path: Path) -> None:
    settings, _ = _settings(tmp_path)
    base = settings.ib_client_id
    options = BrokerOptions.from_settings(settings)
    roles = {role: options.ibkr_config(role) for role in ClientRole}
    assert {role: c.client_id for role, c in roles.items()} == {
        ClientRole.DATA: base, ClientRole.BROKER: base + 1, ClientRole.LIVE_FEED: base + 2,
        ClientRole.CLOCK: base + 3}
    assert [role for role, c in roles.items() if not c.readonly] == [ClientRole.BROKER]
    source = build_ibkr_source(SourceOptions.from_settings(settings))
    try:
        assert source.config.client_id == roles[ClientRole.DATA].client_id  # type: ignore[attr-defined]
    finally:
        source.close()


def test_the_simulated_broker_journals_next_to_its_database(tmp_path: Path) -> None:
    settings, _ = _settings(tmp_path, INTRADAY_JULES_BROKER="simulated")
    options = BrokerOptions.from_settings(settings)
    broker = options.build(system_clock)
    assert isinstance(broker, SimulatedBroker)
    assert options.journal().parent == tmp_path / "simulated_broker"
    other = replace(options, database_url="sqlite:///elsewhere.db")
    assert other.journal() != options.journal()


def test_the_ib_live_feed_fails_over_to_the_chains_alpha_vantage_when_its_key_is_set(
        tmp_path: Path) -> None:
    settings, environ = _settings(tmp_path, INTRADAY_JULES_MARKET_SOURCE="ibkr,alpha_vantage")
    options, day = BrokerOptions.from_settings(settings), date(2025, 2, 3)
    chain = build_source(SourceOptions.from_settings(settings))
    assert isinstance(chain, FailoverSource)
    with_key = {**environ, "INTRADAY_JULES_ALPHA_VANTAGE_KEY": "AV-KEY"}
    feed = options.live_feed(chain, day, settings.symbols, environ=with_key)
    assert isinstance(feed, FailoverFeed) and isinstance(feed.primary, IbkrBarFeed)
    fallback = feed.fallback
    assert isinstance(fallback, AlphaVantageSource) and fallback is not chain.sources[1]
    assert fallback.cache.directory is None  # the live twin: ingestion's disk cache untouched
    assert feed.primary.source.config.client_id == settings.ib_client_id + 2
    assert (feed.name, feed.session, feed.symbols) == ("ibkr", day, tuple(settings.symbols))
    feed.close()
    alone = options.live_feed(chain, day, settings.symbols, environ=environ)  # no key
    assert isinstance(alone, IbkrBarFeed)
    alone.close()
    only_ib, _ = _settings(tmp_path, INTRADAY_JULES_MARKET_SOURCE="ibkr")
    ib_source = build_source(SourceOptions.from_settings(only_ib))
    no_chain = options.live_feed(ib_source, day, settings.symbols, environ=with_key)
    assert isinstance(no_chain, IbkrBarFeed)
    no_chain.close()
    for source in (chain, ib_source):
        source.close()
