"""The service's front door: bearer-token authentication, a request-size limit and admission
control, as one pure ASGI middleware (``Guard``) in front of every route.

- **Authentication.** With a service token (secret ``service_token``, env override
  ``INTRADAY_JULES_SERVICE_TOKEN``) every endpoint but ``GET /health`` needs
  ``Authorization: Bearer <token>``; a missing or wrong token is a 401 (compared in constant
  time). Without a token the service refuses to start when it binds beyond loopback
  (``require_token_if_exposed``), and, as a backstop for a bind it could not see, refuses
  (403) any request arriving on a non-loopback local address.
- **Size.** A body larger than ``max_body_bytes`` (default 1 MiB) is a 413, decided on the
  ``Content-Length`` header and again while the body streams in, before anything parses it:
  at most ``max_body_bytes`` are ever held. The rest of an oversized body is read and
  discarded (up to ``DRAIN_LIMIT_BYTES``) so the client sees the 413 rather than a reset.
- **Admission.** At most ``max_concurrency`` model requests (``/predict`` and
  ``POST /sessions/{id}/bars``, ``admitted``) run at once (per worker
  process) and at most ``max_queue`` more wait for a slot; any further one is answered 503
  with ``Retry-After`` at once. ``/health`` never waits for a slot.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from intraday_jules.settings import Settings

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_SECRET = "service_token"  # noqa: S105  # the secret's name, not a secret
TOKEN_ENV = "INTRADAY_JULES_SERVICE_TOKEN"  # noqa: S105  # a variable name, no secret
DEFAULT_MAX_BODY_BYTES = 1_048_576
DEFAULT_MAX_CONCURRENCY = 4
DEFAULT_MAX_QUEUE = 4
RETRY_AFTER_S = 1
#: An oversized body is read and dropped up to this many bytes so that the client, still
#: sending, receives the 413; beyond it the connection is simply closed after the 413.
DRAIN_LIMIT_BYTES = 64 * 1_048_576
#: Endpoints open without the token (an orchestrator's liveness probe).
OPEN_PATHS = frozenset({"/health"})
#: Endpoints that run the model and so count against the concurrency limit (with a
#: session's bars, ``admitted``).
ADMITTED_PATHS = frozenset({"/predict"})
#: uvicorn's default bind address (``--host`` not given).
UVICORN_DEFAULT_HOST = "127.0.0.1"


class ServiceConfigError(RuntimeError):
    """The service cannot start as configured (e.g. exposed without a token)."""


@dataclass(frozen=True)
class ServiceLimits:
    """Per-worker limits: body size (bytes), model requests at once, and waiting ones."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_queue: int = DEFAULT_MAX_QUEUE

    def __post_init__(self) -> None:
        if self.max_body_bytes <= 0 or self.max_concurrency <= 0 or self.max_queue < 0:
            raise ServiceConfigError(f"invalid service limits {self}")

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceLimits:
        return cls(max_body_bytes=settings.service_max_body_bytes,
                   max_concurrency=settings.service_max_concurrency,
                   max_queue=settings.service_max_queue)


@functools.lru_cache(maxsize=64)  # a pure function of a few strings, asked per request
def is_loopback(host: str | None) -> bool:
    """True for a loopback address or name (``127.0.0.0/8``, ``::1``, ``localhost``) and for
    a unix socket (``None``); False for anything else, wildcards (``0.0.0.0``, ``::``)
    included."""
    if host is None:
        return True
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost resolves who knows where


def command_line_host(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """The address the uvicorn command line binds: ``--host X`` / ``--host=X``, else
    ``UVICORN_HOST``; ``--uds`` (a unix socket) is local (None); ``--fd`` (an inherited
    socket, address unknown) counts as exposed. uvicorn's default when none is given."""
    args = list(argv)
    for i, arg in enumerate(args):
        if arg == "--host" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--host="):
            return arg.split("=", 1)[1]
        if arg == "--uds" or arg.startswith("--uds="):
            return None
        if arg == "--fd" or arg.startswith("--fd="):
            return "fd (inherited socket)"
    return environ.get("UVICORN_HOST") or UVICORN_DEFAULT_HOST


def require_token_if_exposed(host: str | None, token: str | None) -> None:
    """Refuse to start bound beyond loopback without a token."""
    if token is None and not is_loopback(host):
        raise ServiceConfigError(
            f"refusing to start: the inference service binds {host}, beyond loopback, and no "
            f"service token is set; set {TOKEN_ENV} or store one with `intraday-jules secrets "
            f"set {TOKEN_SECRET}` (clients then send 'Authorization: Bearer <token>'), or bind "
            "127.0.0.1")


@dataclass
class GuardConfig:
    """What the guard enforces; filled in by the app's lifespan at startup."""

    limits: ServiceLimits
    token: bytes | None = None


def _json(status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()
          ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({"detail": detail}).encode()
    return status, [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), *headers], body


class Guard:
    """Pure ASGI middleware: authentication, then the body limit, then admission."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._running = 0
        self._waiting = 0
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        config: GuardConfig | None = getattr(scope["app"].state, "guard", None)
        if config is None:  # the lifespan did not run (--lifespan off): refuse, never fail open
            await _respond(send, *_json(503, "the service has not started (its lifespan did "
                                             "not run: start it with lifespan on)"))
            return
        path = scope.get("path", "")
        refusal = self._authenticate(scope, config, path)
        if refusal is not None:
            await _respond(send, *refusal)
            return
        body = await self._read_body(scope, receive, send, config.limits.max_body_bytes)
        if body is None:
            return  # answered (413) or the client went away
        replay = replaying(body, receive)
        if not admitted(path):
            await self.app(scope, replay, send)
            return
        await self._admitted(scope, replay, send, config.limits)

    # --- authentication ----------------------------------------------------------------
    @staticmethod
    def _authenticate(scope: Scope, config: GuardConfig, path: str
                      ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        if path in OPEN_PATHS:
            return None
        if config.token is None:
            server = scope.get("server")
            local = server[0] if server else None
            if not is_loopback(local):
                return _json(403, f"refused: this request arrived on {local}, beyond loopback, "
                                  f"and the service has no token (set {TOKEN_ENV})")
            return None
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value
                break
        scheme, _, credentials = given.partition(b" ")
        # compare_digest: the time taken does not depend on how much of the token matched
        if scheme.lower() != b"bearer" or not hmac.compare_digest(credentials.strip(),
                                                                   config.token):
            log.warning("refused %s %s: %s bearer token", scope.get("method"), path,
                        "missing" if not given else "wrong")
            return _json(401, "missing or wrong bearer token (send 'Authorization: Bearer "
                              "<token>')", [(b"www-authenticate", b"Bearer")])
        return None

    # --- body size -----------------------------------------------------------------------
    async def _read_body(self, scope: Scope, receive: Receive, send: Send, limit: int
                         ) -> bytes | None:
        declared = _content_length(scope)
        too_large = _json(413, f"request body larger than {limit} bytes (the limit, "
                               "INTRADAY_JULES_SERVICE_MAX_BODY_BYTES)")
        if declared is not None and declared > limit:
            log.warning("refused %s %s: Content-Length %d > %d", scope.get("method"),
                        scope.get("path"), declared, limit)
            if declared <= DRAIN_LIMIT_BYTES:
                await _drain(receive, declared)
            await _respond(send, *too_large)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                log.warning("refused %s %s: body beyond %d bytes", scope.get("method"),
                            scope.get("path"), limit)
                if message.get("more_body", False):
                    await _drain(receive, DRAIN_LIMIT_BYTES - size)
                await _respond(send, *too_large)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    # --- admission -----------------------------------------------------------------------
    async def _admitted(self, scope: Scope, receive: Receive, send: Send,
                        limits: ServiceLimits) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(limits.max_concurrency)
        if self._running + self._waiting >= limits.max_concurrency + limits.max_queue:
            await _respond(send, *_json(
                503, f"busy: {limits.max_concurrency} requests running and {limits.max_queue} "
                     f"waiting (INTRADAY_JULES_SERVICE_MAX_CONCURRENCY / _MAX_QUEUE); retry "
                     f"after {RETRY_AFTER_S} s", [(b"retry-after", str(RETRY_AFTER_S).encode())]))
            return
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        self._running += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._running -= 1
            self._slots.release()


def admitted(path: str) -> bool:
    """Whether a request to ``path`` runs the model (counts against the concurrency limit):
    ``/predict`` and a session's ``/sessions/{id}/bars``."""
    if path in ADMITTED_PATHS:
        return True
    parts = path.split("/")
    return len(parts) == 4 and parts[1] == "sessions" and parts[3] == "bars"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server itself refuses a malformed length
    return None


async def _drain(receive: Receive, budget: int) -> None:
    """Read and drop the rest of a body, at most ``budget`` bytes (never kept)."""
    read = 0
    while read <= budget:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]],
                   body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
