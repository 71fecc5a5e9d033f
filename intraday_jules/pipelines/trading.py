"""Running a configured trading session: what the Dagster job and ``intraday-jules trade`` share.

The callers build the collaborators (the Dagster resources, or the CLI through the same
``trading_parts`` mapping) and hand them in; nothing here reads Settings.

- ``run_replay_session``: a session at full speed from a source, with the simulated broker
  (journaled, so a restart resumes it).
- ``run_live_session``: the same ``run_session`` on the wall clock and a live feed.
- ``run_configured_session``: the trading job's choice between the two (and
  ``intraday-jules trade --broker ibkr``'s live session, with ``LedgerAt`` and ``FixedRisk``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from intraday_jules.broker.base import Broker
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.feed import BarFeed
from intraday_jules.market_data.source import BarSource
from intraday_jules.market_data.store import BarStore
from intraday_jules.observability.metrics import TradingMetrics
from intraday_jules.pipelines.trading_parts import PushTarget, close_broker
from intraday_jules.risk import RiskEngine, RiskLimits
from intraday_jules.trading.config import SessionConfig
from intraday_jules.trading.context import Log
from intraday_jules.trading.policies import PromotedLoader, make_policy
from intraday_jules.trading.policies import model_ref as model_id_of
from intraday_jules.trading.promoted import (
    PROMOTED_REF,
    model_execution_spec,
    model_session_config,
    promoted_loader,
)
from intraday_jules.trading.replay import build_replay_session
from intraday_jules.trading.result import SessionResult
from intraday_jules.trading.session import run_session

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class LedgerFactory(Protocol):
    """Opens the configured ledger (``LedgerResource``)."""

    @property
    def database_url(self) -> str: ...

    def open(self) -> Ledger: ...


class RiskFactory(Protocol):
    """The configured limits and a risk engine over a ledger (``RiskEngineResource``)."""

    def limits(self) -> RiskLimits: ...

    def build(self, ledger: Ledger, clock: Clock) -> RiskEngine: ...


class BrokerFactory(Protocol):
    """The configured broker and the feed that goes with it (``BrokerResource``)."""

    def journal(self) -> Path: ...

    def build(self, clock: Clock, *, execution: ExecutionModel | None = None) -> Broker: ...

    def live_feed(self, source: BarSource, session: date, symbols: Sequence[str]) -> BarFeed: ...


@dataclass(frozen=True)
class LedgerAt:
    """A ``LedgerFactory`` for a database URL (the CLI's; the job has ``LedgerResource``)."""

    database_url: str

    def open(self) -> Ledger:
        return Ledger.connect(self.database_url)


@dataclass(frozen=True)
class FixedRisk:
    """A ``RiskFactory`` of given limits (the CLI's: the settings' with its overrides)."""

    fixed: RiskLimits

    def limits(self) -> RiskLimits:
        return self.fixed

    def build(self, ledger: Ledger, clock: Clock) -> RiskEngine:
        return RiskEngine(self.fixed, ledger, clock=clock)


def model_ref(policy: str) -> str | None:
    """The model a policy name trades ("promoted", or "model:ID"), None for a baseline."""
    if policy == "promoted":
        return PROMOTED_REF
    return policy.removeprefix("model:") if policy.startswith("model:") else None


def model_config(config: SessionConfig, policy: str, models_dir: Path,
                 engine: Engine) -> SessionConfig:
    """``config`` under the ExecutionSpec of the model ``policy`` trades (position rules,
    timing, costs); unchanged for a baseline."""
    ref = model_ref(policy)
    if ref is None:
        return config
    return model_session_config(config, model_execution_spec(models_dir, engine, ref))


def session_execution(config: SessionConfig, policy: str, models_dir: Path,
                      engine: Engine) -> ExecutionModel:
    """The simulated broker's cost model for a session of ``policy``: the traded model's
    (its ExecutionSpec's), so live simulated fills equal the evaluation's; the session's
    own for a baseline."""
    return ExecutionModel(model_config(config, policy, models_dir, engine).execution)


def for_model(config: SessionConfig, policy: str, models_dir: Path, engine: Engine,
              limits: RiskLimits, seed: int) -> tuple[SessionConfig, PromotedLoader | None]:
    """The session under the model's ExecutionSpec (``model_config``) and a loader that
    refuses a model ``limits`` cannot honour; unchanged for a baseline."""
    ref = model_ref(policy)
    if ref is None:
        return config, None
    return model_config(config, policy, models_dir, engine), promoted_loader(
        models_dir, engine, seed=seed, ref=ref, limits=limits, symbols=config.symbols)


def run_replay_session(config: SessionConfig, *, database_url: str, source: BarSource,
                       policy: str, limits: RiskLimits, journal: Path, models_dir: Path,
                       push: PushTarget, seed: int = 0) -> SessionResult:
    """``config.session`` replayed from ``source`` at full speed with the simulated broker
    journaled at ``journal``; the stored quality gate and ``push`` apply as in a live run.
    A model policy trades under its ExecutionSpec (``for_model``)."""
    gate_ledger = Ledger.connect(database_url)  # migrates, then the gate reads it
    try:
        config, loader = for_model(config, policy, models_dir, gate_ledger.engine, limits, seed)
        extras = push.extras(gate_ledger.engine, config.session, config.symbols)
        return build_replay_session(config, database_url=database_url, source=source,
                                    policy=policy, seed=seed, limits=limits,
                                    broker_journal=journal, models_dir=models_dir,
                                    promoted=loader, extras=extras).run()
    finally:
        gate_ledger.engine.dispose()


def run_live_session(config: SessionConfig, *, feed: BarFeed, broker: Broker, ledger: Ledger,
                     risk: RiskEngine, policy: str, models_dir: Path, push: PushTarget,
                     log: Log, clock: Clock = system_clock, seed: int = 0) -> SessionResult:
    """The live loop: the same ``run_session`` as replays, on a real clock and a live feed;
    a model policy trades under its ExecutionSpec (``for_model``). A ``model:ID`` policy
    trades only on the simulated broker (refused here, nothing sent)."""
    ref = model_id_of(policy)
    if ref is not None and broker.name != "simulated":
        raise ValueError(f"policy {policy} on the {broker.name} broker: paper and live brokers "
                         "require the promoted model")
    config, loader = for_model(config, policy, models_dir, ledger.engine, risk.limits, seed)
    chosen = make_policy(policy, seed=seed, loader=loader or promoted_loader(
        models_dir, ledger.engine, seed=seed, limits=risk.limits, symbols=config.symbols))
    return run_session(config, feed=feed, broker=broker, policy=chosen, ledger=ledger,
                       risk=risk, store=BarStore(ledger.engine),
                       metrics=TradingMetrics(clock=clock), clock=clock, log=log,
                       extras=push.extras(ledger.engine, config.session, config.symbols))


def run_configured_session(config: SessionConfig, *, feed_kind: str, policy: str,
                           source: BarSource, ledger: LedgerFactory, risk: RiskFactory,
                           broker: BrokerFactory, models_dir: Path, push: PushTarget,
                           log: Log, clock: Clock = system_clock,
                           seed: int = 0) -> SessionResult:
    """The trading job's session: ``replay`` (full speed, simulated broker) or ``live`` (on
    ``clock``, the wall clock unless told otherwise; the IB stream with the ibkr broker, else
    ``source`` paced). A live session stopped from outside (Ctrl-C, a terminated run) cancels
    what still works at the broker before it disconnects; a restart resumes it."""
    if feed_kind == "replay":
        return run_replay_session(config, database_url=ledger.database_url, source=source,
                                  policy=policy, limits=risk.limits(), journal=broker.journal(),
                                  models_dir=models_dir, push=push, seed=seed)
    if feed_kind != "live":
        raise ValueError(f"feed {feed_kind!r}: expected replay or live")
    opened = ledger.open()
    try:
        built = broker.build(clock, execution=session_execution(config, policy, models_dir,
                                                                opened.engine))
        try:
            return run_live_session(
                config, feed=broker.live_feed(source, config.session, config.symbols),
                broker=built, ledger=opened, risk=risk.build(opened, clock), policy=policy,
                models_dir=models_dir, push=push, log=log, clock=clock, seed=seed)
        except Exception:
            raise  # run_session's last line of defence has already cancelled and flattened
        except BaseException:
            cancel_open_orders(built, log)
            raise
        finally:
            close_broker(built)
    finally:
        opened.engine.dispose()


def cancel_open_orders(broker: Broker, log: Log) -> None:
    """Cancel every order the broker still works (a session stopped from outside). The
    ledger learns the cancellations from the broker's order states when the session resumes;
    failures are logged, never raised, so the disconnect still happens."""
    try:
        working = broker.open_orders()
    except Exception as exc:  # a broker that cannot answer now: the restart settles them
        log.error("stopped: cannot list %s's open orders to cancel them: %s", broker.name, exc)
        return
    for order in working:
        try:
            broker.cancel(order.client_order_id)
        except Exception as exc:  # keep cancelling the others
            log.error("stopped: cancel of %s failed: %s", order.client_order_id, exc)
        else:
            log.warning("stopped: cancelled working order %s", order.client_order_id)
