"""Request and response bodies of the inference service (pydantic v2).

Everything a client sends is checked here, before any model runs, so a bad request is a 422
whose ``loc`` names the offending field (``["body", "bars", 3, "high"]``,
``["body", "observations", 0, 7]``). Numbers are strict: a string or a boolean where a number
belongs is refused, as are NaN, infinities and observation values outside float32.
Physical bounds keep every value inside what the model code can represent (an integer of
2**70 shares, a year-9999 timestamp or a price of 1e308 is a 422, never a 500 or a decision),
and ``implausible_prices`` refuses prices outside a band around the request's own bars.
"""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from intraday_jules.domain.bars import MAX_PLAUSIBLE_PRICE, MIN_PLAUSIBLE_PRICE
from intraday_jules.domain.calendar import NEW_YORK, is_session
from intraday_jules.domain.clock import as_utc
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.features import DEFAULT_SPEC

#: The symbols the service trades, in observation (and action digit) order.
SERVICE_SYMBOLS: tuple[str, ...] = DEFAULT_SYMBOLS
#: The same symbols as a Literal, for pydantic (it needs the values written out); a test checks
#: that it lists SERVICE_SYMBOLS.
ServiceSymbol = Literal["NVDA", "MSFT"]
#: Observation width: 12 features per symbol, then one position per symbol (26).
OBS_DIM = len(SERVICE_SYMBOLS) * len(DEFAULT_SPEC.names) + len(SERVICE_SYMBOLS)
N_ACTIONS = 3 ** len(SERVICE_SYMBOLS)
#: Bounds on one request: a whole extended-hours session of both symbols, a whole session of
#: observations. Larger bodies are refused (422) rather than run.
MAX_BARS = 2 * 16 * 60
MAX_OBSERVATIONS = 960
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Physical bounds: prices as the trading loop judges them (``domain.bars``); no minute bar
#: has 10**12 shares (the whole US market trades ~10**10 a day); no book holds 10**9 shares
#: of one symbol.
MAX_PRICE = float(MAX_PLAUSIBLE_PRICE)
MIN_PRICE = float(MIN_PLAUSIBLE_PRICE)
MAX_VOLUME = 10**12
MAX_SHARES = 10**9
#: Within one request, every price of a symbol lies within a factor PRICE_BAND of the median
#: close of that symbol's bars in the request (one session: NYSE limit-up/limit-down halts
#: stop far smaller moves).
PRICE_BAND = 2.0
#: Timestamps are accepted between these instants (the calendar starts in 2000).
MIN_TS = datetime(2000, 1, 1, tzinfo=UTC)
MAX_TS = datetime(2100, 1, 1, tzinfo=UTC)

Mode = Literal["sample", "argmax"]
Price = Annotated[float, Field(strict=True, gt=0, le=MAX_PRICE, allow_inf_nan=False)]
ObsValue = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-FLOAT32_MAX,
                                  le=FLOAT32_MAX)]
Observation = Annotated[list[ObsValue], Field(min_length=OBS_DIM, max_length=OBS_DIM)]


def _utc_minute(value: datetime) -> datetime:
    """A tz-aware timestamp as UTC, refused unless it falls on a whole minute."""
    try:
        value = as_utc(value, "ts")
    except (OverflowError, ValueError):
        raise ValueError(f"ts {value.isoformat()} cannot be converted to UTC") from None
    if not MIN_TS <= value < MAX_TS:
        raise ValueError(f"ts {value.isoformat()} is outside {MIN_TS.date()} .. "
                         f"{MAX_TS.date()}")
    if value.second or value.microsecond:
        raise ValueError(f"ts {value.isoformat()} is not aligned to the minute "
                         "(a bar's ts is its start, e.g. 2025-02-20T14:30:00Z)")
    return value


def _iso_string(value: Any) -> Any:
    if not isinstance(value, str | datetime):
        raise ValueError("ts must be an ISO 8601 string with a UTC offset, "
                         "e.g. 2025-02-20T14:30:00Z")
    return value


#: A bar start: an ISO 8601 string with an offset, converted to UTC, on a whole minute.
UtcMinute = Annotated[AwareDatetime, BeforeValidator(_iso_string), AfterValidator(_utc_minute)]


def require_trading_day(day: date, what: str) -> date:
    """``day`` if it is an XNYS session, else ValueError "``what``{day} ..." (``/predict``'s
    bars and a session's opening share it)."""
    try:
        session = is_session(day)
    except Exception as exc:  # a day outside the calendar's range
        raise ValueError(f"{what}{day}, outside the XNYS calendar: "
                         f"{type(exc).__name__}") from None
    if not session:
        raise ValueError(f"{what}{day}, which is not an XNYS trading session")
    return day


class BarIn(BaseModel):
    """One 1-minute bar; ``ts`` is the bar START, tz-aware (converted to UTC).

    Fields are validated in declaration order, so ``low`` and ``high`` are checked against
    the prices before them and an insane bar names the field that is wrong."""

    model_config = ConfigDict(extra="forbid")

    symbol: ServiceSymbol
    ts: UtcMinute
    open: Price
    close: Price
    low: Price
    high: Price
    volume: Annotated[int, Field(strict=True, ge=0, le=MAX_VOLUME)]

    @field_validator("low")
    @classmethod
    def _low_sane(cls, low: float, info: ValidationInfo) -> float:
        others = [info.data[k] for k in ("open", "close") if k in info.data]
        if others and low > min(others):
            raise ValueError(f"low {low} is above open/close {others}")
        return low

    @field_validator("high")
    @classmethod
    def _high_sane(cls, high: float, info: ValidationInfo) -> float:
        others = [info.data[k] for k in ("open", "close", "low") if k in info.data]
        if others and high < max(others):
            raise ValueError(f"high {high} is below open/close/low {others}")
        return high


class BookEntry(BaseModel):
    """Shares actually held just before the decision on bar ``ts`` (e.g. after a risk
    denial); bars without an entry use the policy's own intended book."""

    model_config = ConfigDict(extra="forbid")

    ts: UtcMinute
    shares: dict[str, Annotated[int, Field(strict=True, ge=-MAX_SHARES, le=MAX_SHARES)]]

    @field_validator("shares")
    @classmethod
    def _every_symbol(cls, shares: dict[str, int]) -> dict[str, int]:
        if set(shares) != set(SERVICE_SYMBOLS):
            raise ValueError(f"shares must give exactly the symbols {list(SERVICE_SYMBOLS)}, "
                             f"got {sorted(shares)}")
        return shares


class PredictRequest(BaseModel):
    """Either ``bars`` (one session's bars so far, both symbols) or ``observations`` (the
    env's 26-dim observations, oldest first, the last one decided on); never both.

    mode: "sample" draws the action with a uniform keyed on (seed, decision bar ts), as
        evaluation seed ``seed`` and the trading loop do; "argmax" takes the most probable.
        Default: "sample" for bars, and for observations when ``ts`` is given, else "argmax".
    ts: observations only: the start of the bar the last observation belongs to (keys the
        sampling).
    book: bars only: actual shares held before given decision bars.
    """

    model_config = ConfigDict(extra="forbid")

    bars: Annotated[list[BarIn], Field(min_length=1, max_length=MAX_BARS)] | None = None
    observations: Annotated[list[Observation],
                            Field(min_length=1, max_length=MAX_OBSERVATIONS)] | None = None
    ts: UtcMinute | None = None
    mode: Mode | None = None
    seed: Annotated[int, Field(strict=True, ge=0, le=2**32 - 1)] = 0
    book: Annotated[list[BookEntry], Field(max_length=MAX_BARS)] | None = None

    @field_validator("bars")
    @classmethod
    def _one_session_both_symbols(cls, bars: list[BarIn] | None) -> list[BarIn] | None:
        if bars is None:
            return None
        seen: set[tuple[str, datetime]] = set()
        days: dict[date, int] = {}
        for i, bar in enumerate(bars):
            if (bar.symbol, bar.ts) in seen:
                raise ValueError(f"bars[{i}] repeats ({bar.symbol}, {bar.ts.isoformat()})")
            seen.add((bar.symbol, bar.ts))
            days.setdefault(bar.ts.astimezone(NEW_YORK).date(), i)
        if len(days) > 1:
            first, second = list(days.items())[:2]
            raise ValueError(f"bars must be one session's: bars[{first[1]}] is of {first[0]}, "
                             f"bars[{second[1]}] of {second[0]} (America/New_York dates)")
        require_trading_day(next(iter(days)), "bars are of ")
        missing = [s for s in SERVICE_SYMBOLS if s not in {symbol for symbol, _ in seen}]
        if missing:
            raise ValueError(f"bars must include every symbol {list(SERVICE_SYMBOLS)}; "
                             f"none for {missing}")
        return bars

    @model_validator(mode="after")
    def _one_input(self) -> PredictRequest:
        if (self.bars is None) == (self.observations is None):
            raise ValueError("give exactly one of 'bars' or 'observations'")
        if self.bars is not None and self.ts is not None:
            raise ValueError("'ts' is for observations; with bars the decision bar is the "
                             "latest one")
        if self.observations is not None and self.book is not None:
            raise ValueError("'book' is for bars; observations already carry the positions")
        if self.observations is not None and self.mode == "sample" and self.ts is None:
            raise ValueError("mode 'sample' with observations needs 'ts' (the decision bar's "
                             "start), which keys the draw")
        return self

    def resolved_mode(self) -> Mode:
        if self.mode is not None:
            return self.mode
        return "sample" if self.bars is not None or self.ts is not None else "argmax"


def implausible_prices(request: PredictRequest, limit: int = 20) -> list[dict[str, Any]]:
    """422 items (``loc`` = the bar's field) for prices below ``MIN_PRICE`` or outside the
    band [median / PRICE_BAND, median * PRICE_BAND] around the median close of the same
    symbol's bars in this request; at most ``limit`` of them."""
    if request.bars is None:
        return []
    medians = {symbol: statistics.median(b.close for b in request.bars if b.symbol == symbol)
               for symbol in {b.symbol for b in request.bars}}
    problems: list[dict[str, Any]] = []
    for i, bar in enumerate(request.bars):
        median = medians[bar.symbol]
        low, high = max(MIN_PRICE, median / PRICE_BAND), median * PRICE_BAND
        for name in ("open", "high", "low", "close"):
            value = getattr(bar, name)
            if not low <= value <= high:
                problems.append({
                    "type": "value_error", "loc": ["body", "bars", i, name], "input": value,
                    "msg": f"implausible {bar.symbol} {name} {value!r} at "
                           f"{bar.ts.isoformat()}: outside [{low:.6g}, {high:.6g}] (at least "
                           f"{MIN_PRICE}, and within a factor {PRICE_BAND:g} of the median "
                           f"close {median:.6g} of this request's {bar.symbol} bars)"})
                if len(problems) >= limit:
                    return problems
    return problems


def json_safe(value: Any) -> Any:
    """``value`` with every string (dict keys included) encodable as UTF-8: a lone surrogate
    such as ``"\\ud800"`` (valid in JSON, not in UTF-8) is written as its escape."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    return value


class PredictResponse(BaseModel):
    """The decision on the latest bar (or observation). ``decided`` is false, with the
    ``reason``, when that bar is not a decision bar (warm-up, or after the forced flatten);
    the decision fields are then null."""

    model_id: str
    spec_version: str
    decided: bool
    reason: str | None = None
    ts: datetime | None = None
    action: int | None = Field(None, description="joint action 3*a_nvda + a_msft")
    per_asset: dict[str, str] | None = Field(None, description="sell | hold | buy per symbol")
    probabilities: list[float] | None = Field(None, description="the 9 joint probabilities")
    per_asset_probabilities: dict[str, dict[str, float]] | None = None
    forced_flatten: bool | None = None
    shares_before: dict[str, int] | None = None
    mode: Mode
    seed: int
    steps: int = Field(description="LSTM steps run from a zero state for this answer")


class Readiness(BaseModel):
    """``GET /ready``: 200 when ``ready``, else 503 with the ``reason``."""

    ready: bool
    reason: str | None = None
    model_id: str | None = None
    model_spec_version: str | None = None
    live_spec_version: str


class ModelInfo(BaseModel):
    """``GET /model``: the model being served."""

    id: str
    kind: str
    parent_id: str | None
    symbols: list[str]
    status: str
    seed: int
    spec_version: str
    training_window: dict[str, str]
    created_at: datetime
    promoted_since: datetime | None
    loaded_at: datetime
    obs_shape: list[int]
    n_actions: int
    metrics: dict[str, Any]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    uptime_s: float
