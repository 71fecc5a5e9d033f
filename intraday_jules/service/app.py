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

Bad input is a 422 whose ``detail`` lists ``{"type", "loc", "msg"}`` per problem, ``loc``
naming the field. Sync endpoints run in the server's thread pool; the model is shared and
only read, each request replaying its own sequence from a zero LSTM state.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from intraday_jules import __version__
from intraday_jules.service.schemas import (
    Health,
    ModelInfo,
    PredictRequest,
    PredictResponse,
    Readiness,
)

if TYPE_CHECKING:
    from intraday_jules.agent import ModelStore
    from intraday_jules.features import FeatureSpec
    from intraday_jules.service.serving import ModelHolder
    from intraday_jules.settings import Settings

log = logging.getLogger(__name__)
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": Readiness, "description": "no servable promoted model (reason)"}}


def create_app(settings: Settings | None = None, store: ModelStore | None = None, *,
               live_spec: FeatureSpec | None = None, torch_threads: int | None = 1) -> FastAPI:
    """The service over ``store`` (default: the ``ModelStore`` of ``settings``, which default
    to ``Settings.from_env()`` read at startup). ``torch_threads``: intra-op threads for the
    process (1: a batch-of-one LSTM gains nothing from more, and requests run in parallel)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from intraday_jules.service.serving import build_holder

        holder, owned_engine = build_holder(settings, store, live_spec, torch_threads)
        app.state.holder = holder
        app.state.started = time.monotonic()
        try:
            yield
        finally:
            if owned_engine:
                holder.store.engine.dispose()

    app = FastAPI(title="IntradayJules inference service", version=__version__,
                  lifespan=lifespan)
    _add_routes(app)
    _add_error_handlers(app)
    return app


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
    return JSONResponse(status_code=422, content={"detail": list(errors)})


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
            elif value is None or isinstance(value, str | int | float | bool):
                item["input"] = value if not isinstance(value, str) else value[:200]
            errors.append(item)
        return _unprocessable(errors)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        holder = getattr(request.app.state, "holder", None)
        text = holder.scrub(exc) if holder is not None else type(exc).__name__
        log.error("%s %s failed: %s: %s", request.method, request.url.path,
                  type(exc).__name__, text, exc_info=exc)
        return JSONResponse(status_code=500, content={
            "detail": f"internal error ({type(exc).__name__}); see the service log"})


app = create_app()
