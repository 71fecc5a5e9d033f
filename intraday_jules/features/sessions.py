"""Session keys, session bounds and the (symbol, ts) index, computed without per-row Python.

The session of a bar is its America/New_York date. Converting a million timestamps to local
time through pandas costs more than several features, so the UTC offset is looked up once per
distinct UTC hour (New York's offset only changes on the hour) and the exchange calendar once
per distinct date (cached: ``session_window`` is slow per call).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from intraday_jules.domain.calendar import NEW_YORK, is_session, session_window

US_PER_MINUTE = 60_000_000
US_PER_HOUR = 3_600_000_000
US_PER_DAY = 86_400_000_000
_EPOCH = date(1970, 1, 1)


def dense_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, sorted unique keys) of int64 ``keys``: a bitmap over [min, max] when that span
    is modest (no hashing, no sort), else ``pd.factorize``."""
    low = int(keys.min())
    span = int(keys.max()) - low + 1
    if span > 4 * len(keys) + 1_000_000:
        codes, uniques = pd.factorize(keys, sort=True)
        return codes.astype(np.int64), np.asarray(uniques, dtype=np.int64)
    rel = keys - low
    present = np.zeros(span, dtype=bool)
    present[rel] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    return rank[rel], np.flatnonzero(present).astype(np.int64) + low


def new_york_day(ts_us: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of each instant's America/New_York date (the session key)."""
    codes, hours = dense_codes(ts_us // US_PER_HOUR)
    utc = pd.DatetimeIndex((hours * US_PER_HOUR).view("M8[us]")).tz_localize("UTC")
    local = utc.tz_convert(NEW_YORK).tz_localize(None).as_unit("us")
    offset = local.to_numpy().view(np.int64) - hours * US_PER_HOUR
    day: np.ndarray = (ts_us + offset[codes]) // US_PER_DAY
    return day


def session_bounds(day: np.ndarray) -> np.ndarray:
    """(4, rows) int64 epoch us: regular open, regular close, extended open, extended close
    of each row's session; all 0 on a day that is no XNYS session (nothing is inside)."""
    codes, days = dense_codes(day)
    table = np.array([_bounds_of_day(int(d)) for d in days], dtype=np.int64).reshape(-1, 4)
    per_row: np.ndarray = table[codes].T
    return per_row


@lru_cache(maxsize=16_384)
def _bounds_of_day(day_number: int) -> tuple[int, int, int, int]:
    day = _EPOCH + timedelta(days=day_number)
    if not is_session(day):
        return (0, 0, 0, 0)
    w = session_window(day)
    return tuple(int(pd.Timestamp(t).value // 1000)  # type: ignore[return-value]
                 for t in (w.open, w.close, w.extended_open, w.extended_close))


def symbol_ts_index(names: np.ndarray, codes: np.ndarray, ts_us: np.ndarray) -> pd.MultiIndex:
    """The (symbol, ts) index, built from codes: ``MultiIndex.from_arrays`` re-hashes every
    value and costs more than all twelve features together."""
    if (ts_us % US_PER_MINUTE).any():
        ts_codes, level = dense_codes(ts_us)
    else:
        ts_codes, minutes = dense_codes(ts_us // US_PER_MINUTE)
        level = minutes * US_PER_MINUTE
    ts_index = pd.DatetimeIndex(level.view("M8[us]")).tz_localize("UTC")
    return pd.MultiIndex(levels=[pd.Index(list(names)), ts_index], codes=[codes, ts_codes],
                         names=["symbol", "ts"], verify_integrity=False)
