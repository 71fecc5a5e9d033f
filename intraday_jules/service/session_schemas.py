"""Bodies of the stateful session API (``/sessions``), beside the stateless ``/predict``.

A client opens a session for one XNYS trading day (``SessionCreate``), then sends that day's
new bars as they close (``SessionBars``); the service keeps the session's bars and the
model's state, so each answer costs one bar's work. Bars use ``/predict``'s schema
(``BarIn``) and its checks; those that need the session (right day, extends what was sent,
plausible against the session's prices) are made in ``sessions``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from intraday_jules.service.schemas import (
    MAX_BARS,
    BarIn,
    BookEntry,
    Mode,
    PredictResponse,
    require_trading_day,
)


def _iso_date(value: Any) -> Any:
    """Only 'YYYY-MM-DD' (pydantic would also take a number of seconds or a datetime)."""
    if not isinstance(value, str | date) or isinstance(value, datetime):
        raise ValueError("session must be a date 'YYYY-MM-DD' (the XNYS trading day)")
    return value


class SessionCreate(BaseModel):
    """``POST /sessions``: the trading day, and which model decides (default: the promoted
    one). ``mode`` and ``seed`` as for ``/predict`` with bars (default: sample, seed 0)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    session: Annotated[date, BeforeValidator(_iso_date)]
    model_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    mode: Mode = "sample"
    seed: Annotated[int, Field(strict=True, ge=0, le=2**32 - 1)] = 0

    @field_validator("session")
    @classmethod
    def _trading_day(cls, day: date) -> date:
        return require_trading_day(day, "session ")


class SessionCreated(BaseModel):
    """The new session: its ``id`` (for ``/sessions/{id}/bars``), what decides, and how long
    it may stay idle before it is dropped."""

    model_config = ConfigDict(protected_namespaces=())

    id: str
    model_id: str
    spec_version: str
    session: date
    symbols: list[str]
    mode: Mode
    seed: int
    expires_after_s: float = Field(description="idle seconds after which the session is "
                                               "dropped (a later request gets 404)")
    max_bars: int = Field(description="bars one session may hold (both symbols)")


class SessionBars(BaseModel):
    """``POST /sessions/{id}/bars``: one or more new bars of the session, each newer than the
    session's latest bar of its symbol; ``book``: actual shares held before given decision
    bars (kept for the rest of the session), as in ``/predict``."""

    model_config = ConfigDict(extra="forbid")

    bars: Annotated[list[BarIn], Field(min_length=1, max_length=MAX_BARS)]
    book: Annotated[list[BookEntry], Field(max_length=MAX_BARS)] | None = None


class SessionDecision(PredictResponse):
    """The decision on the session's latest bar (``decided`` false with the ``reason`` in
    the warm-up, after the forced flatten, or before the first regular-hours bar).
    ``steps``: LSTM steps run in this session so far."""

    id: str
    bars: int = Field(description="bars the session holds, this request's included")
