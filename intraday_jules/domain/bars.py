"""The 1-minute bar: our one representation of market data, whatever the vendor.

Two shapes of the same thing:
- ``Bar``: a frozen record, used where bars arrive one at a time (live streaming, the trading loop).
- a *bars frame*: a pandas DataFrame with ``BAR_COLUMNS`` (plus an optional ``source`` column),
  ``ts`` as ``datetime64[us, UTC]``; used for bulk ingestion, features and training.

``ts`` is always the bar START as a tz-aware UTC timestamp (the 09:30-09:31 ET bar has
``ts`` 14:30Z in winter). Vendors that label bars by their end are converted at the boundary.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

BAR_COLUMNS: tuple[str, ...] = ("symbol", "ts", "open", "high", "low", "close", "volume")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
TS_DTYPE = "datetime64[us, UTC]"
#: Physical bounds of a US equity price, for code that judges ticks (the trading loop's
#: plausibility band, the inference service): no share trades below the sub-penny tick or
#: above $1,000,000 (the dearest, BRK.A, is under it).
MIN_PLAUSIBLE_PRICE = Decimal("0.0001")
MAX_PLAUSIBLE_PRICE = Decimal("1000000")


class BarValidationError(ValueError):
    """A batch of bars was refused. Names where (origin), which bar (symbol, ts) and which field."""

    def __init__(
        self,
        origin: str,
        problem: str,
        *,
        symbol: str | None = None,
        ts: Any = None,
        field: str | None = None,
        count: int = 1,
    ) -> None:
        self.origin = origin
        self.problem = problem
        self.symbol = symbol
        self.ts = _format_ts(ts) if ts is not None else None
        self.field = field
        self.count = count
        where = [f"symbol {symbol}" if symbol else None, f"ts {self.ts}" if self.ts else None,
                 f"field {field}" if field else None]
        located = ", ".join(w for w in where if w)
        more = f" ({count - 1} more rows have the same problem)" if count > 1 else ""
        located_part = f" [{located}]" if located else ""
        super().__init__(f"{origin}{located_part}: {problem}{more}; nothing was written")


def _format_ts(ts: Any) -> str:
    if isinstance(ts, pd.Timestamp | datetime):
        if ts.tzinfo is None:
            return ts.isoformat() + " (naive)"
        return str(pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"))
    return str(ts)


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar. ``ts`` is the bar start, tz-aware UTC, aligned to the minute."""

    symbol: str
    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int

    def __post_init__(self) -> None:
        origin = f"bar {self.symbol}"
        if self.ts.tzinfo is None:
            raise BarValidationError(origin, "timestamp is naive; bars need tz-aware UTC",
                                     symbol=self.symbol, ts=self.ts, field="ts")
        if self.ts.second or self.ts.microsecond:
            raise BarValidationError(origin, "timestamp is not aligned to the minute",
                                     symbol=self.symbol, ts=self.ts, field="ts")
        object.__setattr__(self, "ts", self.ts.astimezone(UTC))
        for name in PRICE_COLUMNS:
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise BarValidationError(origin,
                                         f"{name} must be a finite price > 0, got {value!r}",
                                         symbol=self.symbol, ts=self.ts, field=name)
        if self.high < max(self.open, self.close, self.low):
            raise BarValidationError(origin, f"high {self.high} is below open/close/low",
                                     symbol=self.symbol, ts=self.ts, field="high")
        if self.low > min(self.open, self.close, self.high):
            raise BarValidationError(origin, f"low {self.low} is above open/close/high",
                                     symbol=self.symbol, ts=self.ts, field="low")
        if isinstance(self.volume, bool) or not isinstance(self.volume, int) or self.volume < 0:
            raise BarValidationError(origin, f"volume must be an integer >= 0, got {self.volume!r}",
                                     symbol=self.symbol, ts=self.ts, field="volume")


def bars_to_frame(bars: list[Bar], source: str | None = None) -> pd.DataFrame:
    """Turn Bar records into a bars frame (already valid: Bars validate themselves)."""
    frame = pd.DataFrame(
        {
            "symbol": pd.Series([b.symbol for b in bars], dtype=object),
            "ts": pd.to_datetime([b.ts for b in bars], utc=True).as_unit("us"),
            **{c: np.array([getattr(b, c) for b in bars], dtype=np.float64) for c in PRICE_COLUMNS},
            "volume": np.array([b.volume for b in bars], dtype=np.int64),
        }
    )
    if source is not None:
        frame["source"] = source
    return frame


def frame_to_bars(frame: pd.DataFrame) -> list[Bar]:
    """Turn a bars frame into Bar records (in frame order)."""
    stamps: list[datetime] = [pd.Timestamp(t).to_pydatetime() for t in frame["ts"]]
    prices = [frame[c].to_numpy(dtype=np.float64).tolist() for c in PRICE_COLUMNS]
    volumes = frame["volume"].to_numpy(dtype=np.int64).tolist()
    return [
        Bar(symbol=str(symbol), ts=ts, open=o, high=h, low=lo, close=c, volume=int(v))
        for symbol, ts, o, h, lo, c, v in zip(frame["symbol"].tolist(), stamps, *prices, volumes,
                                               strict=True)
    ]


def empty_bars_frame(with_source: bool = False) -> pd.DataFrame:
    columns: dict[str, pd.Series[Any]] = {
        "symbol": pd.Series([], dtype=object),
        "ts": pd.Series([], dtype=TS_DTYPE),
        **{c: pd.Series([], dtype=np.float64) for c in PRICE_COLUMNS},
        "volume": pd.Series([], dtype=np.int64),
    }
    if with_source:
        columns["source"] = pd.Series([], dtype=object)
    return pd.DataFrame(columns)


def _first_offender(frame: pd.DataFrame, mask: np.ndarray[Any, Any]) -> tuple[str, Any, int]:
    idx = np.flatnonzero(mask)
    row = frame.iloc[int(idx[0])]
    return str(row["symbol"]), row["ts"], len(idx)


def validate_bars(frame: pd.DataFrame, origin: str, *, allow_empty: bool = False) -> pd.DataFrame:
    """Check a bars frame and return it normalised (dtypes, sorted by symbol then ts).

    Raises ``BarValidationError`` on the first problem found, naming origin, symbol, ts and
    field: missing/unknown columns, empty batch, naive or non-minute-aligned ts, NaN or
    non-positive prices, high < low (or not bracketing open/close), negative or fractional
    volume, duplicate (symbol, ts). The caller writes nothing of a refused batch.
    """
    expected = set(BAR_COLUMNS)
    present = set(frame.columns)
    if not expected <= present or not present <= expected | {"source"}:
        raise BarValidationError(
            origin,
            f"unknown column layout {list(frame.columns)}; expected {list(BAR_COLUMNS)}"
            " (optionally with 'source')",
        )
    if frame.empty:
        if allow_empty:
            return empty_bars_frame(with_source="source" in present)
        raise BarValidationError(origin, "no bars (empty batch)")
    out = frame.copy()
    _check_symbols(out, origin)
    _normalise_ts(out, origin)
    _check_prices(out, origin)
    _check_volume(out, origin)
    out = out.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)
    dup = out.duplicated(["symbol", "ts"], keep="first").to_numpy()
    if dup.any():
        symbol, ts, count = _first_offender(out, dup)
        raise BarValidationError(origin, "duplicate (symbol, ts)", symbol=symbol, ts=ts,
                                 field="ts", count=count)
    columns = list(BAR_COLUMNS)
    if "source" in out.columns:
        out["source"] = out["source"].astype(object)
        columns.append("source")
    return out[columns]


def _check_symbols(frame: pd.DataFrame, origin: str) -> None:
    symbols = frame["symbol"]
    bad = (symbols.isna() | (symbols.astype(str).str.strip() == "")).to_numpy()
    if bad.any():
        row = frame.iloc[int(np.flatnonzero(bad)[0])]
        raise BarValidationError(origin, "missing symbol", ts=row["ts"], field="symbol",
                                 count=int(bad.sum()))
    frame["symbol"] = symbols.astype(str).astype(object)


def _normalise_ts(frame: pd.DataFrame, origin: str) -> None:
    ts = frame["ts"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise BarValidationError(
            origin, f"timestamps must be tz-aware UTC datetimes, got dtype {ts.dtype}",
            symbol=str(frame["symbol"].iloc[0]), ts=ts.iloc[0], field="ts")
    ts = ts.dt.tz_convert("UTC").dt.as_unit("us")
    nat = ts.isna().to_numpy()
    if nat.any():
        symbol, _, count = _first_offender(frame, nat)
        raise BarValidationError(origin, "missing timestamp", symbol=symbol, field="ts",
                                 count=count)
    unaligned = (ts.dt.second.to_numpy() != 0) | (ts.dt.microsecond.to_numpy() != 0)
    if unaligned.any():
        symbol, bad_ts, count = _first_offender(frame.assign(ts=ts), unaligned)
        raise BarValidationError(origin, "timestamp is not aligned to the minute", symbol=symbol,
                                 ts=bad_ts, field="ts", count=count)
    frame["ts"] = ts


def _check_prices(frame: pd.DataFrame, origin: str) -> None:
    values = {}
    for name in PRICE_COLUMNS:
        col = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
        arr = col.to_numpy()
        bad = ~np.isfinite(arr)
        if bad.any():
            symbol, ts, count = _first_offender(frame, bad)
            raise BarValidationError(origin, f"{name} is NaN or not a number", symbol=symbol,
                                     ts=ts, field=name, count=count)
        bad = arr <= 0
        if bad.any():
            symbol, ts, count = _first_offender(frame, bad)
            raise BarValidationError(origin, f"{name} must be > 0, got {arr[bad][0]}",
                                     symbol=symbol, ts=ts, field=name, count=count)
        values[name] = arr
        frame[name] = arr
    o, h, lo, c = values["open"], values["high"], values["low"], values["close"]
    checks = [
        ("high", h < lo, "high < low"),
        ("high", h < np.maximum(o, c), "high is below open or close"),
        ("low", lo > np.minimum(o, c), "low is above open or close"),
    ]
    for field, bad, problem in checks:
        if bad.any():
            symbol, ts, count = _first_offender(frame, bad)
            i = int(np.flatnonzero(bad)[0])
            top = max(o[i], c[i])
            if problem == "high < low" and lo[i] > top and h[i] >= top:
                field = "low"  # the high brackets open/close, the low does not: low is wrong
            detail = f"{problem} (open {o[i]}, high {h[i]}, low {lo[i]}, close {c[i]})"
            raise BarValidationError(origin, detail, symbol=symbol, ts=ts, field=field,
                                     count=count)


#: The largest volume a bar can hold: the ``market_data.volume`` column is a signed 64-bit
#: integer (BIGINT), and so is the frame's ``volume`` dtype.
MAX_VOLUME = int(np.iinfo(np.int64).max)


def _check_volume(frame: pd.DataFrame, origin: str) -> None:
    """Volume must be a whole number of shares in [0, 2**63 - 1], checked without lossy casts.

    Integer columns (including uint64 and Python ints beyond int64 in an object column) are
    compared exactly; a float volume must be finite, whole and below 2**63 (a float at or above
    2**63 cannot be cast to int64: numpy would wrap it to a negative number with a warning).
    """
    raw = frame["volume"]
    if raw.dtype.kind in "iu":
        ints = raw.to_numpy()
        if raw.dtype.kind == "u":
            _refuse_volume(frame, origin, ints > np.uint64(MAX_VOLUME), ints,
                           "volume is larger than a 64-bit integer holds (max 2**63-1)")
        else:
            _refuse_volume(frame, origin, ints < 0, ints, "volume must be >= 0")
        frame["volume"] = ints.astype(np.int64)
        return
    if raw.dtype == object:
        exact = _exact_ints(raw)
        if exact is not None:
            values = np.array(exact, dtype=object)
            _refuse_volume(frame, origin, values < 0, values, "volume must be >= 0")
            _refuse_volume(frame, origin, values > MAX_VOLUME, values,
                           "volume is larger than a 64-bit integer holds (max 2**63-1)")
            frame["volume"] = values.astype(np.int64)
            return
    vol = pd.to_numeric(raw, errors="coerce").astype(np.float64).to_numpy()
    finite = np.isfinite(vol)
    with np.errstate(invalid="ignore"):
        checks = [
            (~finite, "volume is NaN or not a number"),
            (finite & (vol < 0), "volume must be >= 0"),
            (finite & (vol != np.floor(vol)), "volume must be a whole number of shares"),
            (finite & (vol >= 2.0 ** 63),
             "volume is larger than a 64-bit integer holds (max 2**63-1)"),
        ]
    for bad, problem in checks:
        _refuse_volume(frame, origin, bad, vol, problem)
    frame["volume"] = vol.astype(np.int64)


def _exact_ints(raw: pd.Series) -> list[int] | None:
    """An object column of Python/numpy ints (or integer strings) as exact ints, else None."""
    out: list[int] = []
    for value in raw.tolist():
        if isinstance(value, bool):
            return None
        is_int = isinstance(value, int | np.integer)
        if not is_int and not (isinstance(value, str)
                               and re.fullmatch(r"\s*[+-]?\d+\s*", value)):
            return None
        out.append(int(value))
    return out


def _refuse_volume(frame: pd.DataFrame, origin: str, bad: np.ndarray[Any, Any],
                   values: np.ndarray[Any, Any], problem: str) -> None:
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        symbol, ts, count = _first_offender(frame, bad)
        value = values[int(np.flatnonzero(bad)[0])]
        shown = repr(int(value)) if isinstance(value, int | np.integer) else repr(float(value))
        raise BarValidationError(origin, f"{problem}, got {shown}", symbol=symbol, ts=ts,
                                 field="volume", count=count)


BAR = timedelta(minutes=1)
