"""The session endpoints (``sessions`` holds the logic; docs/service.md has examples).

- ``POST /sessions``: open a session for one XNYS day with the promoted model or
  ``model_id`` -> 201 with its ``id``; 404 unknown model, 409 a model that cannot be served,
  422 not a trading day, 429 too many sessions open, 503 no promoted model.
- ``POST /sessions/{id}/bars``: new bars -> the decision on the session's latest bar;
  404 unknown or expired session, 422 a bar that cannot extend the session.
- ``DELETE /sessions/{id}``: 204; 404 unknown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from intraday_jules.service.schemas import Readiness, json_safe
from intraday_jules.service.session_schemas import (
    SessionBars,
    SessionCreate,
    SessionCreated,
    SessionDecision,
)

if TYPE_CHECKING:
    from intraday_jules.service.serving import ModelHolder, ServedModel
    from intraday_jules.service.sessions import SessionRegistry

_DETAIL = {"content": {"application/json": {"schema": {
    "type": "object", "properties": {"detail": {"type": "string"}}}}}}
OPEN_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such model", **_DETAIL},
    409: {"description": "the model cannot be served (FeatureSpec or shape)", **_DETAIL},
    429: {"description": "too many sessions open", **_DETAIL},
    503: {"model": Readiness, "description": "no servable promoted model (reason)"}}
SESSION_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such session (never opened, deleted or expired)", **_DETAIL}}
BARS_ERRORS: dict[int | str, dict[str, Any]] = {**SESSION_ERRORS, 422: {
    "description": "an invalid body, or a bar that cannot extend the session",
    "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/HTTPValidationError"}}}}}


#: ``SessionBars`` as the documented body of ``POST /sessions/{id}/bars`` (the route reads
#: the raw body itself; its nested models are in the schema through ``/predict``'s body)
BARS_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {k: v for k, v in SessionBars.model_json_schema(
        ref_template="#/components/schemas/{model}").items() if k != "$defs"}}}}}


def _bars_body(raw: bytes) -> SessionBars:
    """The request body, or FastAPI's 422 (``loc`` starting with "body") for a bad one."""
    try:
        return SessionBars.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])}
                                      for e in exc.errors()]) from None


def _registry(request: Request) -> SessionRegistry:
    registry: SessionRegistry = request.app.state.sessions
    return registry


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": json_safe(message)})


def add_session_routes(app: FastAPI) -> None:
    @app.post("/sessions", status_code=201, response_model=SessionCreated,
              responses=OPEN_ERRORS)
    def open_session(body: SessionCreate, request: Request) -> Any:
        from intraday_jules.service.sessions import SessionRefused

        holder: ModelHolder = request.app.state.holder
        served = _model(holder, body.model_id)
        if isinstance(served, Response):
            return served
        registry = _registry(request)
        try:
            session = registry.open(served, body.session, mode=body.mode, seed=body.seed)
        except SessionRefused as exc:
            return _refused(exc.status, str(exc))
        return SessionCreated(
            id=session.id, model_id=served.id, spec_version=served.record.spec_version,
            session=body.session, symbols=list(session.policy.symbols), mode=body.mode,
            seed=body.seed, expires_after_s=registry.limits.ttl_s,
            max_bars=session.buffer.capacity)

    @app.post("/sessions/{session_id}/bars", response_model=SessionDecision,
              responses=BARS_ERRORS, openapi_extra=BARS_BODY)
    async def session_bars(session_id: str, request: Request) -> Any:
        # what ``SessionBarsFastPath`` answers before routing; kept so that the OpenAPI
        # document describes the route and an app without the fast path still serves it
        return bars_answer(request.app.state, session_id, await request.body())

    @app.delete("/sessions/{session_id}", status_code=204, response_class=Response,
                responses=SESSION_ERRORS)
    def close_session(session_id: str, request: Request) -> Response:
        from intraday_jules.service.sessions import SessionRefused

        try:
            _registry(request).close(session_id)
        except SessionRefused as exc:
            return _refused(exc.status, str(exc))
        return Response(status_code=204)


def bars_answer(state: Any, session_id: str, raw: bytes) -> Response:
    """``POST /sessions/{id}/bars``: the decision on the session's latest bar, or the refusal
    (404, 422); ``RequestValidationError`` for a body that is not ``SessionBars``. Plain and
    synchronous: the decision is one bar's work (well under a millisecond), run on the event
    loop, with the body parsed by pydantic straight from the bytes and the answer serialised
    once (no thread hop, no re-validation of the response)."""
    from intraday_jules.service.inference import InputRefused
    from intraday_jules.service.sessions import SessionRefused

    body = _bars_body(raw)
    registry: SessionRegistry = state.sessions
    try:
        session = registry.get(session_id)
    except SessionRefused as exc:
        return _refused(exc.status, str(exc))
    try:
        decision = session.add(body.bars, body.book)
    except InputRefused as exc:
        holder: ModelHolder = state.holder
        return JSONResponse(status_code=422, content={"detail": json_safe([
            {"type": "value_error", "loc": list(exc.loc), "msg": holder.scrub(exc)}])})
    return Response(decision.model_dump_json(), media_type="application/json")


def _model(holder: ModelHolder, model_id: str | None) -> ServedModel | JSONResponse:
    """The model a new session names (default: the promoted one), or the refusal."""
    from sqlalchemy.exc import SQLAlchemyError

    from intraday_jules.agent import ModelStoreError

    if model_id is None:
        readiness, served = holder.check()
        if served is None:
            return JSONResponse(status_code=503, content=readiness.model_dump(mode="json"))
        return served
    try:
        holder.store.get(model_id)
    except ModelStoreError:
        return _refused(404, f"no model {model_id!r} in the registry")
    except SQLAlchemyError as exc:
        return _refused(503, f"model registry unavailable: {holder.scrub(exc)}")
    try:
        return holder.named(model_id)
    except Exception as exc:  # any failure to load: this model cannot be served
        return _refused(409, f"cannot serve model {model_id}: {holder.scrub(exc)}")
