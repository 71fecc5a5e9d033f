"""``intraday-jules trade --broker ibkr`` end to end: the real CLI (typer's CliRunner on the
app) against the fake gateway replaying the last 80 minutes of the 2025-02-03 session on its
live clock (``--clock gateway``). Real ib_async clients over real sockets, a real SQLite
ledger; the only stand-in is time itself (``StoreDriver``), and Ctrl-C (a real SIGINT).

Paper by default; a live deployment without the matching ib_account secret is refused before
any order; an unreachable gateway is one clear error."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from intraday_jules.adapters.ibkr import IbkrConfig
from intraday_jules.adapters.ibkr.clock import GatewayClock
from intraday_jules.adapters.ibkr.config import ClientRole
from intraday_jules.adapters.ibkr.execution import IbkrBroker
from intraday_jules.broker import ConnectionState, OrderAccepted
from intraday_jules.cli import app
from intraday_jules.domain.clock import Clock
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.feed import BarFeed, FeedItem, StreamFeed
from intraday_jules.market_data.simulated import SimulatedSource
from intraday_jules.market_data.source import BarSource
from intraday_jules.market_data.store import BarStore
from intraday_jules.pipelines.trading import FixedRisk, LedgerAt, run_configured_session
from intraday_jules.pipelines.trading_parts import PushTarget
from intraday_jules.risk import RiskLimits
from intraday_jules.testing.fake_tws import FakeTwsThread, OrderReaction
from intraday_jules.trading import SessionConfig
from intraday_jules_tests.adapters.ibkr.conftest import RECORDED_SESSION, wait_until
from intraday_jules_tests.adapters.ibkr.execution.conftest import (
    FAST_RECONNECT,
    SESSION,
    assert_each_execution_booked_once,
    broker_config,
    gateway_on_live_time,
    order,
    placed_refs,
)

START = datetime(2025, 2, 3, 19, 40, tzinfo=UTC)  # 14:40 ET; features warm after 50 bars
STOP_AFTER = datetime(2025, 2, 3, 20, 40, tzinfo=UTC)  # 15:40 ET: Ctrl-C once decided
LAST_COMPLETE = datetime(2025, 2, 3, 20, 58, tzinfo=UTC)  # keepUpToDate: 20:59 never completes
AFTER_CLOSE = datetime(2025, 2, 3, 21, 5, tzinfo=UTC)  # past close + max_bar_delay: loop ends
MINUTE = timedelta(minutes=1)
FIRST_UPDATE = timedelta(seconds=5)
SYMBOLS = ("NVDA", "MSFT")
BASE_CLIENT_ID = 40



class StoreDriver(threading.Thread):
    """The passing of time: moves the gateway's live time one minute on each time the CLI's
    session has stored the minute's bars (read from its database: the test cannot reach into
    the command's loop), then past the close. With ``stop_after``, presses Ctrl-C (SIGINT to
    this process, where the CLI runs) instead, once that minute is decided and its orders
    reached the gateway, so that the loop is idle, waiting for the next minute."""

    def __init__(self, gateway: FakeTwsThread, url: str, *,
                 stop_after: datetime | None = None) -> None:
        super().__init__(daemon=True, name="store-driver")
        self.gateway, self.stop_after = gateway, stop_after
        # opened (and migrated) here, before the CLI runs: alembic is not thread-safe
        self.store, self.ledger = BarStore.open(url), Ledger.connect(url)
        self.stalls: list[datetime] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._drive(self.store, self.ledger)
        except BaseException as exc:  # reported by the test
            self.error = exc
            # else time no longer moves on and the CLI waits for its next minute forever (a
            # hung suite under load, 900 s until pytest-timeout): the session's close ends it
            # (harmless when the CLI is already done; a SIGINT then would stop pytest itself)
            self._advance(AFTER_CLOSE)

    def close(self) -> None:
        self.store.close()
        self.ledger.engine.dispose()

    def _drive(self, store: BarStore, ledger: Ledger) -> None:
        latest = [store.latest_ts(s) for s in SYMBOLS]
        target = START if None in latest else min(t for t in latest if t) + MINUTE
        assert wait_until(lambda: self.gateway.live_subscriptions() >= len(SYMBOLS), 60.0)
        self._advance(target + MINUTE + FIRST_UPDATE)
        while target <= LAST_COMPLETE:
            if not wait_until(partial(self._stored, store, target), 20.0):
                self.stalls.append(target)
            if target == self.stop_after:
                assert wait_until(partial(self._decided_and_sent, ledger, target), 60.0)
                time.sleep(0.3)  # the loop is back waiting for the next minute
                os.kill(os.getpid(), signal.SIGINT)
                return
            target += MINUTE
            self._advance(target + MINUTE + FIRST_UPDATE)
        self._advance(AFTER_CLOSE)

    @staticmethod
    def _stored(store: BarStore, minute: datetime) -> bool:
        return store.count(start=minute, end=minute + MINUTE) >= len(SYMBOLS)

    def _decided_and_sent(self, ledger: Ledger, minute: datetime) -> bool:
        decisions = ledger.decisions(RECORDED_SESSION)
        recorded = {o.client_order_id for o in ledger.orders(RECORDED_SESSION)}
        return bool(decisions) and decisions[-1].ts >= minute and recorded <= set(
            placed_refs(self.gateway))

    def _advance(self, to: datetime) -> None:
        if to > self.gateway.gateway.live.now:
            self.gateway.advance_live(to)


@pytest.fixture
def session_gateway(recorded_session: pd.DataFrame) -> Iterator[FakeTwsThread]:
    with gateway_on_live_time(recorded_session, START) as (gw, _):
        yield gw


def trade(tmp_path: Path, port: int, *args: str, **env: str) -> Result:
    environ = {"INTRADAY_JULES_HOME": str(tmp_path / "home"),
               "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
               "INTRADAY_JULES_DEPLOYMENT": "local", "INTRADAY_JULES_MARKET_SOURCE": "simulated",
               "INTRADAY_JULES_PUSHGATEWAY_URL": "", "INTRADAY_JULES_IB_ACCOUNT": "",
               "INTRADAY_JULES_SECRETS_BACKEND": "vault", **env}
    return CliRunner().invoke(app, [
        "trade", "--session", RECORDED_SESSION.isoformat(), "--broker", "ibkr",
        "--ib-host", "127.0.0.1", "--ib-port", str(port), "--ib-client-id",
        str(BASE_CLIENT_ID), *args], env=environ)


def driven(tmp_path: Path, gateway: FakeTwsThread, *args: str,
           stop_after: datetime | None = None) -> tuple[Result, StoreDriver]:
    driver = StoreDriver(gateway, f"sqlite:///{tmp_path / 'cli.db'}", stop_after=stop_after)
    driver.start()
    outcome = trade(tmp_path, gateway.port, "--clock", "gateway", "--policy", "random",
                    "--seed", "11", "--max-position", "1000", "--daily-loss-limit", "500",
                    "--drawdown-limit", "500", *args)
    driver.join(30.0)
    driver.close()
    assert driver.error is None, driver.error
    assert not driver.is_alive() and driver.stalls == [], outcome.output
    return outcome, driver


def test_trade_ibkr_places_the_ledgers_orders_books_commissions_and_resumes_after_ctrl_c(
        tmp_path: Path, session_gateway: FakeTwsThread) -> None:
    gw = session_gateway
    stopped, _ = driven(tmp_path, gw, "--json", stop_after=STOP_AFTER)
    assert stopped.exit_code == 130, stopped.output  # Ctrl-C
    ledger = Ledger.connect(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        first_refs = placed_refs(gw)
        first_orders = {o.client_order_id for o in ledger.orders(RECORDED_SESSION)}
        assert first_orders and set(first_refs) == first_orders
        assert ledger.decisions(RECORDED_SESSION)[-1].ts == STOP_AFTER
        # the broker's connection was closed on Ctrl-C (a second run may take its client id)
        broker_id = str(BASE_CLIENT_ID + 1)
        assert wait_until(lambda: not gw.call(lambda: gw.gateway.client_id_connected(
            int(broker_id))))

        resumed, _ = driven(tmp_path, gw, "--json")
        assert resumed.exit_code == 0, resumed.output
        payload = json.loads(resumed.stdout)
        assert payload["broker"] == "ibkr" and payload["policy"] == "random"
        assert payload["restarted"] is True and payload["risk_state"] == "ACTIVE", payload
        assert payload["open_positions"] == {} and payload["bad_inputs"] == 0

        refs = placed_refs(gw)
        assert len(refs) == len(set(refs))  # no order was sent twice
        assert not set(refs[len(first_refs):]) & first_orders  # nothing decided re-sent
        orders = {o.client_order_id for o in ledger.orders(RECORDED_SESSION)}
        assert set(refs) == orders and len(orders) > len(first_orders)
        fills = assert_each_execution_booked_once(ledger, gw, RECORDED_SESSION)
        assert all(fill.commission >= Decimal(1) for fill in fills)  # IB's minimum
        assert payload["fills"] == len(fills)
        assert all(quantity == 0 for quantity, _ in gw.orders.positions().values())
        assert ledger.decisions(RECORDED_SESSION)[-1].ts < LAST_COMPLETE + MINUTE
    finally:
        ledger.engine.dispose()


class InterruptedMarket:
    """Our own ``BrokerFactory``: the real IbkrBroker on the gateway, and a market in which an
    order starts working at the broker and then the operator presses Ctrl-C."""

    def __init__(self, gateway: FakeTwsThread, journal: Path) -> None:
        self.gateway, self.journal_path = gateway, journal
        self.built: list[IbkrBroker] = []

    def journal(self) -> Path:
        return self.journal_path

    def build(self, clock: Clock, *, execution: object = None) -> IbkrBroker:
        # ``execution``: the simulated broker's cost model; IBKR fills at the market
        broker = IbkrBroker(broker_config(self.gateway), reconnect=FAST_RECONNECT,
                            ack_timeout_s=2.0, commission_wait_s=0.5, clock=clock)
        self.built.append(broker)
        return broker

    def live_feed(self, source: BarSource, session: object, symbols: object) -> BarFeed:
        return StreamFeed(self._market(), name="ibkr")

    def _market(self) -> Iterator[FeedItem]:
        yield None  # recovery is done: the loop is live
        self.gateway.orders.script(OrderReaction(work=True))
        assert isinstance(self.built[0].submit(order()), OrderAccepted)
        yield None
        raise KeyboardInterrupt


def test_a_live_session_stopped_by_ctrl_c_cancels_what_still_works_and_disconnects(
        gateway: FakeTwsThread, sqlite_url: str, tmp_path: Path) -> None:
    market = InterruptedMarket(gateway, tmp_path / "journal.jsonl")
    before_open = lambda: datetime(2025, 1, 2, 14, 0, tzinfo=UTC)  # noqa: E731
    with pytest.raises(KeyboardInterrupt):
        run_configured_session(
            SessionConfig(SESSION, symbols=SYMBOLS), feed_kind="live", policy="random",
            source=SimulatedSource(), ledger=LedgerAt(sqlite_url),
            risk=FixedRisk(RiskLimits()), broker=market, models_dir=tmp_path,
            push=PushTarget(), log=logging.getLogger("test"), clock=before_open)
    assert placed_refs(gateway) == [order().client_order_id]
    assert [m.name for m in gateway.messages].count("cancelOrder") == 1
    assert gateway.orders.open_orders(None) == []
    assert market.built[0].connection_state() is ConnectionState.DISCONNECTED


def test_the_gateway_clock_reads_the_gateways_time_and_runs_on_from_it_when_it_is_gone(
        gateway: FakeTwsThread) -> None:
    seconds = [0.0]
    clock = GatewayClock(IbkrConfig.for_role(BASE_CLIENT_ID, ClientRole.CLOCK,
                                             port=gateway.port, connect_timeout_s=2.0,
                                             request_timeout_s=2.0),
                         monotonic=lambda: seconds[0])
    try:
        with pytest.raises(RuntimeError, match="start"):
            clock()
        start = clock.start()
        assert start == gateway.gateway.live.now == datetime(2025, 1, 2, 14, 31, tzinfo=UTC)
        gateway.advance_live(start + 10 * MINUTE)
        assert clock() == start + 10 * MINUTE
        gateway.stop()
        seconds[0] = 3.0
        assert clock() == start + 10 * MINUTE + timedelta(seconds=3)
    finally:
        clock.close()
    assert f"{BASE_CLIENT_ID + ClientRole.CLOCK}" in {m.fields[2] for m in gateway.messages
                                                    if m.name == "startApi"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_gateway_is_one_clear_error_and_nothing_is_recorded(
        tmp_path: Path) -> None:
    port = _free_port()
    outcome = trade(tmp_path, port, "--policy", "always-buy")
    assert outcome.exit_code == 1
    assert f"cannot reach the IB gateway at 127.0.0.1:{port}" in str(outcome.exception)
    ledger = Ledger.connect(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        assert ledger.orders(RECORDED_SESSION) == []
        assert ledger.decisions(RECORDED_SESSION) == []
    finally:
        ledger.engine.dispose()


@pytest.mark.parametrize(("account", "words"), [
    ("", "ib_account"),  # live without the secret: refused before connecting
    ("U9999999", "not an account of the connected"),  # not the gateway's: refused at connect
])
def test_a_live_deployment_without_the_matching_account_is_refused_before_any_order(
        tmp_path: Path, gateway: FakeTwsThread, account: str, words: str) -> None:
    outcome = trade(tmp_path, gateway.port, "--policy", "always-buy",
                    INTRADAY_JULES_DEPLOYMENT="live", INTRADAY_JULES_IB_ACCOUNT=account)
    assert outcome.exit_code == 1
    assert "live trading refused" in str(outcome.exception)
    assert words in str(outcome.exception)
    assert [m for m in gateway.messages if m.name == "placeOrder"] == []


@pytest.mark.parametrize(("args", "words"), [
    (["--source", "replay"], "--source cannot be used with --broker ibkr"),
    (["--broker-state", "x.jsonl"], "--broker-state cannot be used with --broker ibkr"),
    (["--clock", "sundial"], "--clock 'sundial' is unknown"),
])
def test_flags_of_the_simulated_broker_are_refused_with_ibkr(
        tmp_path: Path, args: list[str], words: str) -> None:
    outcome = trade(tmp_path, _free_port(), *args)
    assert outcome.exit_code == 1 and words in str(outcome.exception)
