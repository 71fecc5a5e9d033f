"""The TWS API wire format: length-prefixed frames of NUL-terminated text fields.

After the handshake every message in both directions is a 4-byte big-endian length followed by
that many bytes of ``field\\0field\\0...``. The handshake itself is ``API\\0`` plus one framed
``v<min>..<max>[ options]`` string from the client, answered by one framed message of two
fields: the negotiated server version and the connection time.

Why server version 178: a client announces a range (``ib_async`` 2.1.0 announces
``v157..178``) and a real TWS/Gateway answers with the highest version both support. Any TWS
or IB Gateway released since 2023 supports more than 178, so against production ``ib_async``
2.1.0 always runs at 178; pinning the fake there tests the message layouts users actually get.
173 is also accepted (``server_version=173``) because the only recorded TWS session we have
(``fixtures/ibkr/tws_interactions_server173.json``) ran at 173; the messages it holds have the
same layout at both versions, which the tests check byte for byte. Versions 201+ can switch to
protobuf framing, which ``ib_async`` 2.1.0 does not speak.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Iterable
from datetime import UTC, datetime

#: The server version the fake gateway negotiates by default (see the module docstring).
SERVER_VERSION = 178
#: Versions whose layouts this fake implements and tests.
SUPPORTED_SERVER_VERSIONS = (173, 178)
#: The oldest client version a TWS of this vintage accepts (ib_async's own minimum).
MIN_CLIENT_VERSION = 157

API_SIGN = b"API\0"
_LENGTH = struct.Struct(">I")


class ProtocolError(ValueError):
    """The peer sent bytes that are not the TWS API protocol."""


def format_field(value: object) -> str:
    """Render one field the way TWS does: bools as 1/0, None as empty, floats via repr."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isinf(value):
            return "Infinite"
        return repr(value)
    return str(value)


def encode(fields: Iterable[object]) -> bytes:
    """Frame one message: length prefix plus NUL-terminated fields."""
    payload = "".join(format_field(f) + "\0" for f in fields).encode()
    return _LENGTH.pack(len(payload)) + payload


def decode_payload(payload: bytes) -> list[str]:
    """Split one frame's payload into its text fields (the trailing NUL ends the last one)."""
    text = payload.decode(errors="backslashreplace")
    fields = text.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


def parse_version_range(payload: bytes) -> tuple[int, int]:
    """Parse the client's ``v<min>..<max>[ options]`` handshake string."""
    text = payload.decode(errors="replace").strip()
    if not text.startswith("v"):
        raise ProtocolError(f"handshake {text!r} does not start with 'v'")
    versions = text[1:].split(" ", 1)[0]
    low, sep, high = versions.partition("..")
    try:
        lo = int(low)
        hi = int(high) if sep else lo
    except ValueError:
        raise ProtocolError(f"handshake {text!r} has no version range") from None
    return lo, hi


def negotiate(client_min: int, client_max: int, server_max: int) -> int:
    """The version a real server picks: the highest both sides support."""
    version = min(client_max, server_max)
    if version < max(client_min, MIN_CLIENT_VERSION):
        raise ProtocolError(
            f"no common version: client v{client_min}..{client_max}, server <= {server_max}")
    return version


def connection_time(now: datetime) -> str:
    """The handshake's second field; TWS sends local time, we send UTC (clients ignore it)."""
    return now.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")


def ib_datetime(ts: datetime) -> str:
    """``YYYYmmdd HH:MM:SS UTC``: the explicit-zone format ib_async parses and sends."""
    return ts.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """Read one length-prefixed frame."""
    head = await reader.readexactly(_LENGTH.size)
    (size,) = _LENGTH.unpack(head)
    if size > 16 * 1024 * 1024:
        raise ProtocolError(f"frame of {size} bytes is larger than any TWS message")
    return await reader.readexactly(size)
