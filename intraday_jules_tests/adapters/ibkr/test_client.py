"""The thin client's error surface: 504, 326, dropped sockets, reconnects."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from intraday_jules.adapters.ibkr import (
    IbkrClient,
    IbkrClientIdInUse,
    IbkrConfig,
    IbkrConnectionLost,
    IbkrNotConnected,
)
from intraday_jules.adapters.ibkr.parsing import query_for_session
from intraday_jules.market_data.source import BarRequest
from intraday_jules.testing.fake_tws import FakeTwsThread, SimulatedClock
from intraday_jules_tests.adapters.ibkr.conftest import wait_until

QUERY = query_for_session(BarRequest("NVDA", date(2025, 1, 2)))


@pytest.fixture
def client(gateway: FakeTwsThread) -> Iterator[IbkrClient]:
    made = IbkrClient(IbkrConfig(port=gateway.port, client_id=31, connect_timeout_s=5.0,
                                 request_timeout_s=5.0))
    yield made
    made.close()


def test_request_before_connecting_raises_504_naming_the_endpoint(client: IbkrClient) -> None:
    with pytest.raises(IbkrNotConnected, match=r"IB error 504: not connected to TWS/Gateway "
                                               r"at 127\.0\.0\.1:\d+ \(client id 31\)"):
        client.qualify_stock("NVDA")


def test_request_after_the_socket_dropped_raises_504(client: IbkrClient,
                                                     gateway: FakeTwsThread) -> None:
    client.connect()
    contract = client.qualify_stock("NVDA")
    gateway.drop_connections()
    assert wait_until(lambda: not client.is_connected)
    with pytest.raises(IbkrNotConnected, match="504"):
        client.historical_bars(contract, QUERY)


def test_socket_dropped_during_a_request_raises_connection_lost(
        client: IbkrClient, gateway: FakeTwsThread, sim_clock: SimulatedClock) -> None:
    client.connect()
    contract = client.qualify_stock("NVDA")
    gateway.faults.drop_after_historical(0)
    with pytest.raises(IbkrConnectionLost, match="dropped while reqHistoricalData"):
        client.historical_bars(contract, QUERY)
    client.connect()  # and the same client can connect again
    sim_clock.sleep(15)  # the gateway polices IB's identical-request rule
    assert len(client.historical_bars(contract, QUERY)) == 390


def test_client_id_in_use_is_reported_without_waiting_for_the_handshake_timeout(
        gateway: FakeTwsThread) -> None:
    first = IbkrClient(IbkrConfig(port=gateway.port, client_id=9))
    second = IbkrClient(IbkrConfig(port=gateway.port, client_id=9, connect_timeout_s=30.0))
    try:
        first.connect()
        with pytest.raises(IbkrClientIdInUse, match="client id 9 is already in use"):
            second.connect()
    finally:
        first.close()
        second.close()


def test_server_time_is_the_gateways_clock_in_utc(client: IbkrClient,
                                                  gateway: FakeTwsThread) -> None:
    client.connect()
    now = client.server_time()
    assert now.utcoffset() is not None
    assert now == gateway.gateway.live.now
