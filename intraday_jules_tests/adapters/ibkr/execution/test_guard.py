"""The live-trading guard: paper by default; live only with allow_live=True AND the ib_account
secret matching the connected login; every refusal comes before any order."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from intraday_jules.adapters.ibkr import IbkrConfig
from intraday_jules.adapters.ibkr.config import ClientRole
from intraday_jules.adapters.ibkr.execution import IbkrBroker, LiveTradingRefused
from intraday_jules.adapters.ibkr.execution.broker import build_ibkr_broker
from intraday_jules.broker import BrokerError, ConnectionState, OrderAccepted
from intraday_jules.testing.fake_tws import FakeTwsThread
from intraday_jules.testing.fake_tws.incoming import parse_place_order
from intraday_jules_tests.adapters.ibkr.execution.conftest import (
    FAST_RECONNECT,
    broker_config,
    order,
)


@pytest.fixture
def live_gateway(small_replay: pd.DataFrame) -> Iterator[FakeTwsThread]:
    """A login whose only account is a live one (no 'D' prefix)."""
    with FakeTwsThread(small_replay, accounts=("U7654321",)) as gw:
        yield gw


@pytest.fixture
def advisor_gateway(small_replay: pd.DataFrame) -> Iterator[FakeTwsThread]:
    """A paper login managing two accounts."""
    with FakeTwsThread(small_replay, accounts=("DU1111111", "DU2222222")) as gw:
        yield gw


def _broker(gateway: FakeTwsThread, **options: object) -> IbkrBroker:
    return IbkrBroker(broker_config(gateway), reconnect=FAST_RECONNECT, **options)  # type: ignore[arg-type]


def _orders_placed(gateway: FakeTwsThread) -> list[tuple[str, str]]:
    placed = [parse_place_order(list(m.fields)) for m in gateway.messages
              if m.name == "placeOrder"]
    return [(p.order_ref, p.account) for p in placed]


def test_live_port_without_allow_live_is_refused_before_connecting() -> None:
    with pytest.raises(LiveTradingRefused, match="allow_live=True"):
        IbkrBroker(IbkrConfig(port=7496))
    with pytest.raises(LiveTradingRefused, match="allow_live=True"):
        IbkrBroker(IbkrConfig(port=4001), account="U7654321")


def test_live_deployment_with_opt_in_but_no_account_is_refused(gateway: FakeTwsThread) -> None:
    with pytest.raises(LiveTradingRefused, match="ib_account"):
        IbkrBroker(broker_config(gateway), deployment="live", allow_live=True)


def test_live_with_a_mismatching_account_is_refused_at_connect_before_any_order(
        gateway: FakeTwsThread) -> None:
    broker = _broker(gateway, deployment="live", allow_live=True, account="U9999999")
    try:
        with pytest.raises(LiveTradingRefused, match="not an account of the connected") as err:
            broker.connect()
        assert "9999999" not in str(err.value) and "1234567" not in str(err.value)
        assert broker.connection_state() is ConnectionState.DISCONNECTED
        with pytest.raises(BrokerError, match="not connected"):
            broker.submit(order())
    finally:
        broker.close()
    assert _orders_placed(gateway) == []


def test_a_live_login_on_a_paper_port_is_refused_without_opt_in(
        live_gateway: FakeTwsThread) -> None:
    broker = _broker(live_gateway)
    try:
        with pytest.raises(LiveTradingRefused, match="live account"):
            broker.connect()
    finally:
        broker.close()
    assert _orders_placed(live_gateway) == []


def test_live_trading_with_opt_in_and_the_matching_account_places_orders_on_it(
        live_gateway: FakeTwsThread) -> None:
    broker = _broker(live_gateway, deployment="live", allow_live=True, account="U7654321")
    try:
        assert broker.connect() is ConnectionState.CONNECTED
        assert isinstance(broker.submit(order()), OrderAccepted)
    finally:
        broker.close()
    assert _orders_placed(live_gateway) == [(order().client_order_id, "U7654321")]


def test_paper_with_a_configured_account_the_login_lacks_is_refused(
        gateway: FakeTwsThread) -> None:
    broker = _broker(gateway, account="DU0000001")
    try:
        with pytest.raises(LiveTradingRefused, match="not an account of the connected"):
            broker.connect()
    finally:
        broker.close()


def test_a_login_with_several_accounts_trades_only_the_configured_one(
        advisor_gateway: FakeTwsThread) -> None:
    unnamed = _broker(advisor_gateway)
    try:
        with pytest.raises(LiveTradingRefused, match="several accounts"):
            unnamed.connect()
    finally:
        unnamed.close()
    named = _broker(advisor_gateway, account="DU2222222")
    try:
        named.connect()
        named.submit(order())
    finally:
        named.close()
    assert _orders_placed(advisor_gateway) == [(order().client_order_id, "DU2222222")]


def test_build_ibkr_broker_as_the_trading_job_wires_it_is_paper_unless_live(
        gateway: FakeTwsThread) -> None:
    def config(port: int) -> IbkrConfig:
        return IbkrConfig.for_role(17, ClientRole.BROKER, host="127.0.0.1", port=port)

    paper = build_ibkr_broker(config(gateway.port), account="DU1234567", live=False,
                              reconnect=FAST_RECONNECT)
    try:
        assert paper.connect() is ConnectionState.CONNECTED
        assert isinstance(paper.submit(order()), OrderAccepted)
    finally:
        paper.close()
    with pytest.raises(LiveTradingRefused, match="allow_live=True"):
        build_ibkr_broker(config(7496), account="DU1234567", live=False)
    with pytest.raises(LiveTradingRefused, match="ib_account"):
        build_ibkr_broker(config(7496), account=None, live=True)
    live = build_ibkr_broker(config(gateway.port), account="DU1234567", live=True,
                             reconnect=FAST_RECONNECT)
    try:
        assert live.connect() is ConnectionState.CONNECTED  # the paper login matches
    finally:
        live.close()
