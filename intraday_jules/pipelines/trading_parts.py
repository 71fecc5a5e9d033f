"""The configured parts of a trading session, mapped from ``Settings`` in one place.

The Dagster resources (``defs/common/resources.py``) and ``intraday-jules trade`` both go
through these, so a job run and a CLI run trade with the same broker, journal, quality gate
and push target. Library code below ``pipelines`` receives the built objects, never Settings.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine

from intraday_jules.adapters.ibkr.config import ClientRole, IbkrConfig
from intraday_jules.broker.base import Broker
from intraday_jules.broker.simulated import SimulatedBroker
from intraday_jules.domain.clock import Clock
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.market_data.failover import FailoverSource
from intraday_jules.market_data.feed import BarFeed
from intraday_jules.market_data.live_failover import FailoverFeed
from intraday_jules.market_data.source import BarSource
from intraday_jules.pipelines.paced_feed import paced_feed
from intraday_jules.quality.gate import StoredQualityGate
from intraday_jules.settings import Settings
from intraday_jules.trading.session import Collaborators


def simulated_broker_journal(home: Path, database_url: str) -> Path:
    """One simulated-broker journal per database: the broker's memory follows the ledger's."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return home / "simulated_broker" / f"{digest}.jsonl"


def account_secret(home: Path, environ: Mapping[str, str] | None = None) -> str | None:
    """The ``ib_account`` secret (env override first, then the keyring/vault), if set."""
    from intraday_jules.secrets import SecretStore

    secret = SecretStore(home, os.environ if environ is None else environ).get("ib_account")
    return None if secret is None else secret.reveal()


@dataclass(frozen=True)
class BrokerOptions:
    """The configured broker: the simulated one (journaled next to the database) or IBKR
    (paper unless the deployment is "live", which is the explicit opt-in).

    ib_client_id: the deployment's base client id; each IB connection adds its
        ``ClientRole`` (data +0, broker +1, live feed +2) so that none collides.
    """

    name: str
    home: Path
    database_url: str
    ib_host: str
    ib_port: int
    ib_client_id: int
    deployment: str

    @classmethod
    def from_settings(cls, settings: Settings) -> BrokerOptions:
        return cls(name=settings.broker, home=settings.home, database_url=settings.database_url,
                   ib_host=settings.ib_host, ib_port=settings.ib_port,
                   ib_client_id=settings.ib_client_id, deployment=settings.deployment)

    def ibkr_config(self, role: ClientRole) -> IbkrConfig:
        """The IB connection of ``role`` (the broker's, or the live feed's)."""
        return IbkrConfig.for_role(self.ib_client_id, role, host=self.ib_host, port=self.ib_port)

    def journal(self) -> Path:
        return simulated_broker_journal(self.home, self.database_url)

    def build(self, clock: Clock, *, environ: Mapping[str, str] | None = None,
              execution: ExecutionModel | None = None) -> Broker:
        """The broker itself; IBKR expects the account of the ``ib_account`` secret.

        execution: the simulated broker's cost model; a session trading a model passes the
            model's (its ExecutionSpec's, ``session_execution``), so the simulated fills are
            the ones the model was evaluated with. Default: ``ExecutionModel()``. The IBKR
            broker fills at the market and ignores it."""
        if self.name == "simulated":
            return SimulatedBroker(execution or ExecutionModel(), clock=clock,
                                   journal=self.journal())
        if self.name != "ibkr":
            raise ValueError(f"unknown broker {self.name!r}: simulated or ibkr")
        from intraday_jules.adapters.ibkr.execution.broker import build_ibkr_broker

        return build_ibkr_broker(self.ibkr_config(ClientRole.BROKER),
                                 account=account_secret(self.home, environ),
                                 live=self.deployment == "live", clock=clock)

    def live_feed(self, source: BarSource, session: date, symbols: Sequence[str], *,
                  environ: Mapping[str, str] | None = None) -> BarFeed:
        """A live session's feed: IB's stream with the IBKR broker (failing over to Alpha
        Vantage while it stalls, when the failover chain ``source`` has it and its key is
        configured), else ``source`` paced on the wall clock (locally, the simulated market
        in real time)."""
        if self.name == "ibkr":
            from intraday_jules.adapters.ibkr.data.live_feed import ib_live_feed

            ib = self.ibkr_config(ClientRole.LIVE_FEED)
            stream = ib_live_feed(host=ib.host, port=ib.port, client_id=ib.client_id,
                                  symbols=symbols, session=session)
            fallback = live_fallback(source, self.home, environ)
            if fallback is None:
                return stream
            return FailoverFeed(stream, fallback, session, symbols, connected=stream.connected)
        return paced_feed(source, session, symbols)


def live_fallback(source: BarSource, home: Path,
                  environ: Mapping[str, str] | None = None) -> BarSource | None:
    """The live feed's fallback: the failover chain's Alpha Vantage source, if its
    ``alpha_vantage_key`` secret is set. The chain's other sources cannot stand in for the IB
    stream: IB's history goes through the same gateway, and the simulated or replayed market
    is not today's. Its live twin refetches the month while the session runs (a cached month
    lacks the minutes since) and keeps it out of ingestion's disk cache."""
    from intraday_jules.adapters.alpha_vantage import AlphaVantageSource
    from intraday_jules.secrets import SecretStore

    chain = source.sources if isinstance(source, FailoverSource) else [source]
    vendor = next((s for s in chain if isinstance(s, AlphaVantageSource)), None)
    if vendor is None:
        return None
    store = SecretStore(home, os.environ if environ is None else environ)
    return vendor.for_live_session() if store.get("alpha_vantage_key") is not None else None


def close_broker(broker: Broker) -> None:
    """Disconnect, and release the client's loop thread where the broker has one (IBKR)."""
    close = getattr(broker, "close", None)
    if callable(close):
        close()
    else:
        broker.disconnect()


@dataclass(frozen=True)
class PushTarget:
    """Where a session pushes its metrics (the Pushgateway; none locally) and its labels."""

    url: str | None = None
    group: tuple[tuple[str, str], ...] = (("deployment", "local"),)

    @classmethod
    def from_settings(cls, settings: Settings) -> PushTarget:
        return cls(settings.pushgateway_url, (("deployment", settings.deployment),))

    def extras(self, engine: Engine, session: date, symbols: Sequence[str]) -> Collaborators:
        """The session's optional parts: the stored quality gate and this push target."""
        return Collaborators(gate=StoredQualityGate(engine, session, symbols),
                             push_url=self.url, push_group=self.group)
