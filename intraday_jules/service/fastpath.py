"""The hot route without the framework: ``POST /sessions/{id}/bars`` answered before routing.

A session's bars request is one bar's work (features and one LSTM step, well under a
millisecond); FastAPI's routing, dependency solving and exception-middleware layers around
it cost about as much again on every request (measured with cProfile on the stateful
benchmark: ~0.15 ms of ~1 ms). ``SessionBarsFastPath`` is a pure ASGI middleware, placed
inside ``Guard`` (so authentication, the body limit and admission still apply first), that
recognises the route by method and path and calls the same ``bars_answer`` the FastAPI route
calls: the same answers, bytes for bytes. A body that is not ``SessionBars`` goes on to the
FastAPI app, whose handler writes the standard 422; every other path goes on untouched.
"""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError

from intraday_jules.service.protection import ASGIApp, Receive, Scope, Send, replaying
from intraday_jules.service.session_routes import bars_answer


def bars_session_id(scope: Scope) -> str | None:
    """The ``{id}`` of a ``POST /sessions/{id}/bars`` request (as the router would match
    it: one non-empty path segment), else None (any other request, or one under a
    ``root_path``, which the router resolves)."""
    if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("root_path"):
        return None
    parts = scope.get("path", "").split("/")
    if len(parts) != 4 or parts[0] or parts[1] != "sessions" or parts[3] != "bars":
        return None
    return parts[2] or None


class SessionBarsFastPath:
    """Pure ASGI middleware: ``POST /sessions/{id}/bars`` straight to ``bars_answer``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session_id = bars_session_id(scope)
        if session_id is None:
            await self.app(scope, receive, send)
            return
        body = await _body(receive)
        if body is None:
            return  # the client went away
        try:
            response = bars_answer(scope["app"].state, session_id, body)
        except RequestValidationError:
            await self.app(scope, replaying(body, receive), send)  # FastAPI's 422
            return
        await response(scope, receive, send)


async def _body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)

