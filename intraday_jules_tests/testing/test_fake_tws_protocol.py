"""The fake gateway's wire protocol: handshake with the real client, and byte-for-byte
agreement with the recorded TWS session (server version 173)."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from ib_async import IB, Stock

from intraday_jules.testing.fake_tws import SERVER_VERSION, FakeTwsThread
from intraday_jules.testing.fake_tws.wire import (
    ProtocolError,
    decode_payload,
    encode,
    negotiate,
    parse_version_range,
)

TRACE = "ibkr/tws_interactions_server173.json"
RECORDED_AT = 1752606307
TRACE_ACCOUNT_VALUES = {"GrossPositionValue": "23172.60", "NetLiquidation": "246447.83",
                        "TotalCashValue": "269339.33"}


@pytest.fixture(scope="module")
def trace(fixtures_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((fixtures_dir / TRACE).read_text())
    return {i["name"]: i for i in data["interactions"]}


@pytest.fixture(scope="module")
def tiny_replay() -> pd.DataFrame:
    return pd.DataFrame({"symbol": ["AAPL", "NVDA"], "ts": pd.to_datetime(
        ["2025-07-15T14:30:00Z"] * 2, utc=True), "open": [1.0, 1.0], "high": [1.0, 1.0],
        "low": [1.0, 1.0], "close": [1.0, 1.0], "volume": [1, 1]})


@pytest.fixture
def recorded_gateway(tiny_replay: pd.DataFrame) -> Iterator[FakeTwsThread]:
    """A 173 gateway in the recorded session's state: its time, account and AAPL position."""
    gw = FakeTwsThread(tiny_replay, server_version=173, accounts=("ACCOUNT_ID",),
                       live_time=datetime.fromtimestamp(RECORDED_AT, UTC))
    gw.gateway.account_values = dict(TRACE_ACCOUNT_VALUES)
    gw.orders.seed_position("ACCOUNT_ID", "AAPL", -110, 201.8829709)
    with gw:
        yield gw


class RawClient:
    """A bare socket speaking the framing by hand, to compare exact bytes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(b"API\0" + struct.pack(">I", 9) + b"v157..178")
        self.handshake = self.read_frame()
        self.sock.sendall(encode([71, 2, 0, ""]))
        self.startup = [self.read_frame() for _ in range(5)]

    def read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def read_frame(self) -> bytes:
        head = self.read_exact(4)
        return head + self.read_exact(struct.unpack(">I", head)[0])


def test_handshake_negotiates_the_highest_common_version() -> None:
    assert parse_version_range(b"v157..178") == (157, 178)
    assert parse_version_range(b"v100..178 +PACEAPI") == (100, 178)
    assert negotiate(157, 178, SERVER_VERSION) == 178
    assert negotiate(157, 200, 173) == 173
    with pytest.raises(ProtocolError):
        negotiate(180, 190, 178)


def test_frames_round_trip() -> None:
    frame = encode([20, 1, "", True, 136.385, None])
    assert frame[:4] == struct.pack(">I", len(frame) - 4)
    assert decode_payload(frame[4:]) == ["20", "1", "", "1", "136.385", ""]


@pytest.mark.parametrize("version", [178, 173])
def test_real_client_connects_at_the_pinned_server_version(tiny_replay: pd.DataFrame,
                                                           version: int) -> None:
    with FakeTwsThread(tiny_replay, server_version=version) as gw:
        ib = IB()
        try:
            ib.connect("127.0.0.1", gw.port, clientId=3, timeout=5)
            assert ib.client.serverVersion() == version
            assert ib.managedAccounts() == ["DU1234567"]
            contract = Stock("NVDA", "SMART", "USD")
            assert ib.qualifyContracts(contract) == [contract]
            assert contract.conId == 4815747
        finally:
            ib.disconnect()


@pytest.mark.parametrize("name", ["server_time", "managed_accounts", "positions",
                                  "account_summary"])
def test_gateway_answers_the_recorded_requests_with_the_recorded_bytes(
        recorded_gateway: FakeTwsThread, trace: dict[str, Any], name: str) -> None:
    exchange = trace[name]
    client = RawClient(recorded_gateway.port)
    client.sock.sendall(bytes.fromhex(exchange["request"]["framed_hex"]))
    # the recorded positions include an ES future the fake (stocks only) does not model
    expected = [r["framed_hex"] for r in exchange["responses"]
                if r["payload_text_fields"][5:6] != ["FUT"]]
    got = [client.read_frame().hex() for _ in expected]
    client.sock.close()
    assert got == expected


def test_real_client_sends_the_recorded_request_bytes(recorded_gateway: FakeTwsThread,
                                                      trace: dict[str, Any]) -> None:
    ib = IB()
    try:
        ib.connect("127.0.0.1", recorded_gateway.port, clientId=4, timeout=5, readonly=True)
        ib.client.reqManagedAccts()
        ib.reqPositions()
        assert ib.reqCurrentTime() == datetime.fromtimestamp(RECORDED_AT, UTC)
    finally:
        ib.disconnect()
    sent = {m.name: m.fields for m in recorded_gateway.messages}
    for name, recorded in [("reqCurrentTime", "server_time"), ("reqPositions", "positions"),
                           ("reqManagedAccts", "managed_accounts")]:
        assert encode(sent[name]).hex() == trace[recorded]["request"]["framed_hex"]


def test_positions_decode_in_the_real_client(recorded_gateway: FakeTwsThread) -> None:
    ib = IB()
    try:
        ib.connect("127.0.0.1", recorded_gateway.port, clientId=5, timeout=5)
        (position,) = ib.positions()
    finally:
        ib.disconnect()
    assert (position.account, position.contract.symbol, position.contract.conId) == \
        ("ACCOUNT_ID", "AAPL", 265598)
    assert (position.position, position.avgCost) == (-110.0, 201.8829709)


def test_unsupported_request_gets_an_error_not_silence(tiny_replay: pd.DataFrame) -> None:
    with FakeTwsThread(tiny_replay) as gw:
        client = RawClient(gw.port)
        client.sock.sendall(encode([1, 11, 7, 0, "NVDA", "STK", "", 0.0, "", "", "SMART", "",
                                    "USD", "", "", 0, "", 0, 0, ""]))
        fields = decode_payload(client.read_frame()[4:])
        client.sock.close()
    assert fields[:4] == ["4", "2", "-1", "321"]
    assert "reqMktData" in fields[4]
