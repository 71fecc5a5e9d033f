"""Vendor payloads -> our bars frame (``ts`` = bar start, tz-aware UTC), or a typed error.

Alpha Vantage writes wall-clock times with no offset, in the zone named by
``Meta Data."6. Time Zone"`` ("US/Eastern"). We localise explicitly with that zone (so a
session after the November DST change lands an hour later in UTC than one before it) and refuse
times that do not exist or are ambiguous in it. The label convention (``BarLabel``) is a
parameter: END labels are moved back one interval to our bar start.

Anything unexpected (missing keys, another symbol or interval, a timestamp in another format,
a non-number, an impossible bar) raises ``MalformedPayload`` naming vendor, symbol, request and
field; no partial frame is ever returned.
"""

from __future__ import annotations

import io
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from intraday_jules.adapters.alpha_vantage.config import BarLabel
from intraday_jules.adapters.alpha_vantage.errors import MalformedPayload, VendorCall
from intraday_jules.domain.bars import (
    BAR_COLUMNS,
    TS_DTYPE,
    BarValidationError,
    empty_bars_frame,
    validate_bars,
)
from intraday_jules.market_data.source import BarRequest

JSON_FIELDS: dict[str, str] = {"open": "1. open", "high": "2. high", "low": "3. low",
                               "close": "4. close", "volume": "5. volume"}
CSV_FIELDS: dict[str, str] = {name: name for name in JSON_FIELDS}
TS_FORMAT = "%Y-%m-%d %H:%M:%S"
META_KEY = "Meta Data"
ZONE_KEY = "6. Time Zone"


def parse_intraday_json(payload: dict[str, Any], call: VendorCall, *,
                        label: BarLabel = BarLabel.START,
                        request: BarRequest | None = None) -> pd.DataFrame:
    """A TIME_SERIES_INTRADAY JSON answer as a validated bars frame (empty if no bars)."""
    meta = payload.get(META_KEY)
    if not isinstance(meta, dict):
        raise MalformedPayload(call, f"no {META_KEY!r} object: not a time series answer "
                               f"(top-level keys {sorted(payload)[:5]})", request=request,
                               field=META_KEY)
    zone = _zone(meta.get(ZONE_KEY), call, request)
    _expect_meta(meta, "2. Symbol", call.symbol, call, request)
    _expect_meta(meta, "4. Interval", call.interval, call, request)
    series_key = f"Time Series ({call.interval})"
    series = payload.get(series_key)
    if not isinstance(series, dict):
        raise MalformedPayload(call, f"no {series_key!r} object", request=request,
                               field=series_key)
    if not series:
        return empty_bars_frame()
    not_object = next((k for k, v in series.items() if not isinstance(v, dict)), None)
    if not_object is not None:
        raise MalformedPayload(call, f"bar {not_object!r} is not an object", request=request,
                               field=series_key)
    table = pd.DataFrame.from_dict(series, orient="index", dtype=object)
    table = table.reindex(columns=list(JSON_FIELDS.values())).set_axis(list(JSON_FIELDS),
                                                                        axis=1)
    return _to_bars(table, zone, call, label, request, JSON_FIELDS)


def parse_intraday_csv(text: str, call: VendorCall, *, label: BarLabel,
                       zone: str = "US/Eastern",
                       request: BarRequest | None = None) -> pd.DataFrame:
    """A CSV answer (``time|timestamp,open,high,low,close,volume``) as a validated bars frame.

    CSV has no Meta Data, so the zone and the label must be given: the retired
    TIME_SERIES_INTRADAY_EXTENDED CSV is END-labelled, the current ``datatype=csv`` START.
    """
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise MalformedPayload(call, f"not a readable CSV ({type(exc).__name__})",
                               request=request, field="body") from None
    ts_column = next((c for c in ("timestamp", "time") if c in raw.columns), None)
    if ts_column is None:
        raise MalformedPayload(call, f"no time column in CSV header {list(raw.columns)}",
                               request=request, field="timestamp")
    table = raw.set_index(ts_column).reindex(columns=list(CSV_FIELDS))
    return _to_bars(table, _zone(zone, call, request), call, label, request, CSV_FIELDS)


def _zone(name: Any, call: VendorCall, request: BarRequest | None) -> ZoneInfo:
    field = f"{META_KEY}.{ZONE_KEY}"
    if not isinstance(name, str) or not name:
        raise MalformedPayload(call, "the time zone is missing", request=request, field=field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MalformedPayload(call, f"unknown time zone {name!r}", request=request,
                               field=field) from None


def _expect_meta(meta: dict[str, Any], key: str, expected: str, call: VendorCall,
                 request: BarRequest | None) -> None:
    value = meta.get(key)
    if not isinstance(value, str) or value.strip().upper() != expected.upper():
        raise MalformedPayload(call, f"expected {expected!r}, the answer says {value!r}",
                               request=request, field=f"{META_KEY}.{key}")


def _to_bars(table: pd.DataFrame, zone: ZoneInfo, call: VendorCall, label: BarLabel,
             request: BarRequest | None, fields: dict[str, str]) -> pd.DataFrame:
    """Vendor strings (index: wall-clock times; columns: our names) -> validated bars."""
    stamps = [str(k) for k in table.index]
    ts = _timestamps(stamps, zone, call, request)
    if label is BarLabel.END:
        ts = ts - pd.Timedelta(call.interval)
    frame = pd.DataFrame({"symbol": call.symbol, "ts": ts.tz_convert("UTC").as_unit("us")})
    for name in (c for c in BAR_COLUMNS if c not in ("symbol", "ts")):
        frame[name] = _numbers(table[name], stamps, fields[name], call, request)
    frame["ts"] = frame["ts"].astype(TS_DTYPE)
    problem = None
    try:
        return validate_bars(frame, origin=f"alpha_vantage {call.symbol}")
    except BarValidationError as exc:
        reverse = {"ts": "timestamp", **fields}
        problem, field = f"{exc.problem} (bar starting {exc.ts})", reverse.get(exc.field or "")
    raise MalformedPayload(call, problem, request=request, field=field)


def _timestamps(stamps: list[str], zone: ZoneInfo, call: VendorCall,
                request: BarRequest | None) -> pd.DatetimeIndex:
    naive = pd.to_datetime(pd.Index(stamps), format=TS_FORMAT, errors="coerce")
    bad = np.flatnonzero(naive.isna())
    if bad.size:
        raise MalformedPayload(
            call, f"timestamp {stamps[bad[0]]!r} is not 'YYYY-MM-DD HH:MM:SS' wall-clock time "
            f"({bad.size} of {len(stamps)} bars): did the vendor change its format?",
            request=request, field="timestamp")
    problem = None
    try:
        return naive.tz_localize(zone, ambiguous="raise", nonexistent="raise")
    except (ValueError, TypeError) as exc:  # pytz-style Ambiguous/NonExistentTimeError
        problem = f"wall-clock time does not map to one instant in {zone.key}: {exc}"
    raise MalformedPayload(call, problem, request=request, field="timestamp")


def _numbers(raw: pd.Series, stamps: list[str], field: str, call: VendorCall,
             request: BarRequest | None) -> np.ndarray:
    missing = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
    text = raw.astype(str).where(~missing)
    values: np.ndarray = pd.to_numeric(text, errors="coerce").astype(np.float64).to_numpy()
    not_number = ~missing & ~np.isfinite(values)
    for bad, what in ((missing, "is missing"), (not_number, "is not a number")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            shown = "" if missing[i] else f" ({raw.iloc[i]!r})"
            raise MalformedPayload(call, f"{field} {what}{shown} at {stamps[i]} "
                                   f"({int(bad.sum())} bars)", request=request, field=field)
    return values
