"""The FastAPI app: ``uvicorn intraday_jules.service.app:app`` (``make serve``, compose).

``create_app(settings=None, store=None)`` builds an app; the module-level ``app`` is one built
with nothing: settings (``Settings.from_env``), logging and the ``ModelStore`` are set up in
the lifespan, when the server starts, never at import. Importing this module imports neither
torch nor the agent, so it is quick; the agent is loaded at startup.

Endpoints (shapes in ``schemas`` and docs/service.md):

- ``GET /health``: the process is up; always 200 ``{"status": "ok", "version", "uptime_s"}``.
- ``GET /ready``: 200 when a promoted model is loaded and its FeatureSpec hash is the live
  one; else 503 with the reason (both hashes on a mismatch).
- ``POST /predict``: a session's bars so far, or 26-dim observations -> the decision.
- ``GET /model``: the served model's registry facts, window, metrics, promotion time.
- ``POST /sessions``, ``POST /sessions/{id}/bars``, ``DELETE /sessions/{id}``: the stateful
  API (``session_routes``): a session keeps its bars and model state, so each new bar's
  decision costs one bar's work. Idle sessions expire (``sessions.SessionLimits``).
- ``GET /docs`` (Swagger UI) and ``GET /redoc``: served with their scripts from local files
  (``fastapi_offline``), so they work on a machine without internet.

Bad input is a 422 whose ``detail`` lists ``{"type", "loc", "msg"}`` per problem, ``loc``
naming the field. In front of every route, ``protection.Guard`` checks the bearer token
(every endpoint but ``/health`` when a token is set), refuses bodies over the size limit
(413) and admits at most N concurrent model requests (``/predict``, session bars) plus a
small queue (else 503 with ``Retry-After``). Bound beyond loopback, the app refuses to start
without a token. Sync endpoints run in the server's thread pool; the model is shared and
only read: ``/predict`` replays its own sequence from a zero LSTM state, a session steps its
own state (one request at a time per session).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from intraday_jules import __version__
from intraday_jules.service.fastpath import SessionBarsFastPath
from intraday_jules.service.protection import (
    TOKEN_SECRET,
    Guard,
    GuardConfig,
    ServiceLimits,
    command_line_host,
    require_token_if_exposed,
)
from intraday_jules.service.schemas import (
    Health,
    ModelInfo,
    PredictRequest,
    PredictResponse,
    Readiness,
    implausible_prices,
    json_safe,
)
from intraday_jules.service.session_routes import add_session_routes

if TYPE_CHECKING:
    from intraday_jules.agent import ModelStore
    from intraday_jules.domain.clock import Clock
    from intraday_jules.features import FeatureSpec
    from intraday_jules.service.serving import ModelHolder
    from intraday_jules.service.sessions import SessionLimits
    from intraday_jules.settings import Settings

log = logging.getLogger(__name__)
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": Readiness, "description": "no servable promoted model (reason)"}}


def create_app(settings: Settings | None = None, store: ModelStore | None = None, *,
               live_spec: FeatureSpec | None = None, torch_threads: int | None = 1,
               limits: ServiceLimits | None = None, service_token: str | None = None,
               bind_host: str | None = None, session_limits: SessionLimits | None = None,
               clock: Clock | None = None) -> FastAPI:
    """The service over ``store`` (default: the ``ModelStore`` of ``settings``, which default
    to ``Settings.from_env()`` read at startup). ``torch_threads``: intra-op threads for the
    process (1: a batch-of-one LSTM gains nothing from more, and requests run in parallel).

    limits: body size / concurrency / queue (default: from the settings, else the defaults).
    service_token: the bearer token (default: the secret ``service_token`` of the settings'
        home, env override ``INTRADAY_JULES_SERVICE_TOKEN``; none for an app over an explicit
        ``store`` without settings).
    bind_host: the address the server binds (default: uvicorn's command line, ``--host`` or
        ``UVICORN_HOST``, else 127.0.0.1); beyond loopback a token is required to start.
    session_limits: idle TTL and most sessions open (default: from the settings, else the
        defaults). clock: judges session idleness (default: the system clock)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from intraday_jules.service.serving import build_holder
        from intraday_jules.service.sessions import SessionLimits, SessionRegistry
        from intraday_jules.settings import Settings

        resolved = settings
        if resolved is None and store is None:
            resolved = Settings.from_env()
        token = _resolve_token(service_token, resolved)
        host = bind_host if bind_host is not None else command_line_host(sys.argv, os.environ)
        require_token_if_exposed(host, token)
        app.state.guard = GuardConfig(
            limits or (ServiceLimits.from_settings(resolved) if resolved else ServiceLimits()),
            token.encode() if token is not None else None)
        holder, owned_engine = build_holder(resolved, store, live_spec, torch_threads)
        log.info("service guard: bind %s, bearer token %s, limits %s", host,
                 "required" if token is not None else "not set (loopback only)",
                 app.state.guard.limits)
        app.state.holder = holder
        app.state.sessions = SessionRegistry(session_limits or (
            SessionLimits.from_settings(resolved) if resolved else SessionLimits()), clock)
        app.state.started = time.monotonic()
        try:
            yield
        finally:
            if owned_engine:
                holder.store.engine.dispose()

    app = FastAPIOffline(title="IntradayJules inference service", version=__version__,
                         lifespan=lifespan)
    app.add_middleware(SessionBarsFastPath)  # inside Guard: guarded like every route
    app.add_middleware(Guard)
    _add_routes(app)
    add_session_routes(app)
    _add_error_handlers(app)
    return app


def _resolve_token(explicit: str | None, settings: Settings | None) -> str | None:
    """The service token: ``explicit``, else the secret ``service_token`` (env override
    first) of the settings' home; the value is registered with the log redactor."""
    from intraday_jules.secrets import SecretStore, register_secret_value

    if explicit:
        register_secret_value(explicit)
        return explicit
    if settings is None:
        return None
    value = SecretStore(settings.home, os.environ).get(TOKEN_SECRET)
    return value.reveal() if value is not None else None


def _holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.holder
    return holder


def _add_routes(app: FastAPI) -> None:
    @app.get("/health", response_model=Health)
    async def health(request: Request) -> Health:
        return Health(version=__version__,
                      uptime_s=round(time.monotonic() - request.app.state.started, 3))

    @app.get("/ready", response_model=Readiness, responses=NOT_READY)
    def ready(request: Request) -> Any:
        readiness, _ = _holder(request).check()
        if not readiness.ready:
            return _not_ready(readiness)
        return readiness

    @app.post("/predict", response_model=PredictResponse, responses=NOT_READY)
    def predict(body: PredictRequest, request: Request) -> Any:
        from intraday_jules.service import inference

        problems = implausible_prices(body)
        if problems:
            return _unprocessable(problems)
        readiness, served = _holder(request).check()
        if served is None:
            return _not_ready(readiness)
        try:
            return inference.predict(served, body)
        except inference.InputRefused as exc:
            return _unprocessable([{"type": "value_error", "loc": list(exc.loc),
                                    "msg": _holder(request).scrub(exc)}])

    @app.get("/model", response_model=ModelInfo, responses=NOT_READY)
    def model(request: Request) -> Any:
        from intraday_jules.service.serving import describe

        holder = _holder(request)
        readiness, served = holder.check()
        if served is None:
            return _not_ready(readiness)
        return describe(served, holder.store.get(served.id))


def _not_ready(readiness: Readiness) -> JSONResponse:
    return JSONResponse(status_code=503, content=readiness.model_dump(mode="json"))


def _unprocessable(errors: Sequence[dict[str, Any]]) -> JSONResponse:
    """A 422; every text made encodable (a lone surrogate in the input would otherwise make
    the answer itself fail, a 500)."""
    return JSONResponse(status_code=422, content={"detail": json_safe(list(errors))})


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """pydantic's errors with ``type``, ``loc`` and ``msg``; the offending value only when
        it is a scalar (a list or object would echo the whole request back)."""
        errors = []
        for error in exc.errors():
            item = {"type": error.get("type"), "loc": list(error.get("loc", ())),
                    "msg": str(error.get("msg"))}
            value = error.get("input")
            if isinstance(value, float) and not math.isfinite(value):
                item["input"] = str(value)  # JSON has no NaN: say it in words
            elif isinstance(value, int) and not isinstance(value, bool) and (
                    abs(value) >= 2**63):
                item["input"] = f"an integer of {value.bit_length()} bits"
            elif value is None or isinstance(value, str | int | float | bool):
                item["input"] = value if not isinstance(value, str) else value[:200]
            errors.append(item)
        return _unprocessable(errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        """FastAPI's 400 for a body its JSON parser cannot read (e.g. a number of more than
        4,300 digits, beyond Python's int conversion limit) is a 422 like any bad value."""
        if exc.status_code == 400 and request.method == "POST":
            return _unprocessable([{"type": "json_invalid", "loc": ["body"],
                                    "msg": f"the body cannot be parsed as JSON: {exc.detail}"}])
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        holder = getattr(request.app.state, "holder", None)
        text = holder.scrub(exc) if holder is not None else type(exc).__name__
        log.error("%s %s failed: %s: %s", request.method, request.url.path,
                  type(exc).__name__, text, exc_info=exc)
        return JSONResponse(status_code=500, content={
            "detail": f"internal error ({type(exc).__name__}); see the service log"})


app = create_app()
