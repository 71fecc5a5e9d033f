"""A lean HTTP/1.1 client for load measurement: asyncio streams, one keep-alive connection
per simulated client, all clients in one event loop.

Why not httpx: on the machine that also runs the server, the load generator's own CPU is
part of every latency it measures. httpx in threads costs ~0.8 ms of client CPU per request
(measured: it caps a trivial ``GET /health`` at ~1,200 requests/s at concurrency 8 on two
cores, where this client reaches ~3,400), so a httpx benchmark would mostly measure httpx.
This client writes each request as bytes and reads the response by ``content-length``;
latency is still request written -> whole answer read, over a real socket to the real
server. It supports what the service sends: ``content-length`` bodies (no chunked
encoding), no redirects, no TLS.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class RawHttpError(RuntimeError):
    """An answer this client cannot read (chunked, malformed, closed early)."""


@dataclass(frozen=True)
class RawResponse:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RawConnection:
    """One keep-alive connection to ``url``'s host (``open`` it inside the event loop)."""

    def __init__(self, url: str, headers: Mapping[str, str] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"need an http://host:port URL, got {url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._head = f"host: {self.host}:{self.port}\r\n{extra}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> RawConnection:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    def request_bytes(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """The whole request, encoded once (callers reuse it for repeated requests)."""
        head = f"{method} {path} HTTP/1.1\r\n{self._head}"
        if body is None:
            return f"{head}content-length: 0\r\n\r\n".encode()
        return (f"{head}content-type: application/json\r\ncontent-length: {len(body)}"
                f"\r\n\r\n").encode() + body

    async def send(self, request: bytes) -> RawResponse:
        """Write ``request`` and read its answer."""
        if self._reader is None or self._writer is None:
            raise RawHttpError("connection not opened")
        self._writer.write(request)
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise RawHttpError("the server closed the connection") from exc
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {k.strip().lower(): v.strip()
                  for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "chunked" in fields.get("transfer-encoding", ""):
            raise RawHttpError("chunked answers are not supported")
        body = await self._reader.readexactly(int(fields.get("content-length", "0")))
        return RawResponse(status, body)

    async def call(self, method: str, path: str, payload: Any = None) -> RawResponse:
        body = None if payload is None else json.dumps(payload).encode()
        return await self.send(self.request_bytes(method, path, body))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()
