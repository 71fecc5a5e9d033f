"""Reading a live session's bars frame per symbol, and refusing a bad new bar, in NumPy.

``SessionFeatureStream`` reads the whole frame on every call (a vectorised copy of a few
hundred rows: microseconds) but checks and computes only the bars it has not seen. The checks
are those ``validate_bars`` makes (``validate_bars`` itself costs milliseconds per call even
on one bar), raising the same ``BarValidationError`` naming origin, symbol, ts and field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from intraday_jules.domain.bars import BAR_COLUMNS, BarValidationError

OHLCV: tuple[str, ...] = ("open", "high", "low", "close", "volume")
US_PER_MINUTE = 60_000_000


@dataclass(frozen=True, eq=False)
class SymbolBars:
    """One symbol's bars in time order: ``ts`` int64 epoch microseconds (UTC), ``values``
    float64 [5, m] (open, high, low, close, volume)."""

    symbol: str
    ts: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def empty(cls, symbol: str = "") -> SymbolBars:
        return cls(symbol, np.zeros(0, dtype=np.int64), np.zeros((5, 0), dtype=np.float64))

    def starts_with(self, other: SymbolBars) -> bool:
        """Whether these bars are ``other``'s, unchanged, followed by newer ones."""
        m = len(other)
        return (len(self) >= m and np.array_equal(self.ts[:m], other.ts)
                and np.array_equal(self.values[:, :m], other.values))

    def extended(self, newer: SymbolBars) -> SymbolBars:
        """These bars followed by ``newer``."""
        if not len(newer):
            return self
        if not len(self):
            return SymbolBars(self.symbol or newer.symbol, newer.ts, newer.values)
        return SymbolBars(self.symbol, np.concatenate([self.ts, newer.ts]),
                          np.concatenate([self.values, newer.values], axis=1))

    def after(self, m: int) -> SymbolBars:
        """The bars from the m-th on."""
        return SymbolBars(self.symbol, self.ts[m:], self.values[:, m:])


def read_symbols(bars: pd.DataFrame, symbols: Sequence[str], origin: str
                 ) -> list[SymbolBars] | None:
    """Each of ``symbols``' bars in ``bars`` (other symbols ignored), sorted by ts; None if
    one of them has no bar. Raises ``BarValidationError`` for a wrong column layout, naive or
    missing timestamps, or a non-numeric price or volume."""
    names = bars["symbol"].to_numpy()
    masks = [names == s for s in symbols]
    if not all(m.any() for m in masks):
        return None
    present, expected = set(bars.columns), set(BAR_COLUMNS)
    if not expected <= present or not present <= expected | {"source"}:
        raise BarValidationError(origin, f"unknown column layout {list(bars.columns)}; "
                                 f"expected {list(BAR_COLUMNS)} (optionally with 'source')")
    rows = np.flatnonzero(np.logical_or.reduce(masks))
    ts = _timestamps(bars["ts"], rows, origin)
    values = np.empty((5, len(rows)), dtype=np.float64)
    for i, column in enumerate(OHLCV):
        try:
            values[i] = np.asarray(bars[column].to_numpy()[rows], dtype=np.float64)
        except (TypeError, ValueError):
            raise BarValidationError(origin, f"{column} is NaN or not a number",
                                     field=column) from None
    out = []
    for symbol, mask in zip(symbols, masks, strict=True):
        mine = np.flatnonzero(mask[rows])
        order = mine[np.argsort(ts[mine], kind="stable")]
        out.append(SymbolBars(symbol, ts[order], values[:, order]))
    return out


def _timestamps(ts: pd.Series, rows: np.ndarray, origin: str) -> np.ndarray:
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise BarValidationError(origin, f"timestamps must be tz-aware UTC datetimes, got "
                                 f"dtype {ts.dtype}", field="ts")
    instants = np.asarray(ts.array.asi8)[rows]  # epoch counts in the dtype's unit, UTC
    utc = instants.view(f"datetime64[{ts.dtype.unit}]").astype("datetime64[us]")
    if np.isnat(utc).any():
        raise BarValidationError(origin, "missing timestamp", field="ts",
                                 count=int(np.isnat(utc).sum()))
    stamps: np.ndarray = utc.view(np.int64)
    return stamps


def check_new_bars(new: SymbolBars, seen: SymbolBars, symbol: str, origin: str) -> None:
    """Refuse ``new`` (a symbol's bars after ``seen``) as ``validate_bars`` would, naming the
    first offending bar: unaligned ts, NaN/inf or non-positive price, high/low not bracketing
    open and close, NaN, negative or fractional volume, duplicate (symbol, ts)."""
    if not len(new) or (len(new) == 1 and _one_bar_ok(new, seen)):
        return
    o, h, low, c, v = new.values
    finite = np.isfinite(new.values)
    before = seen.ts[-1:] if len(seen) else new.ts[:1] - 1
    duplicate = np.diff(np.concatenate([before, new.ts])) <= 0  # sorted: <= 0 means equal
    checks: list[tuple[np.ndarray, str, str]] = [
        (new.ts % US_PER_MINUTE != 0, "ts", "timestamp is not aligned to the minute")]
    for i, name in enumerate(OHLCV[:4]):
        checks += [(~finite[i], name, f"{name} is NaN or not a number"),
                   (finite[i] & (new.values[i] <= 0), name, f"{name} must be > 0")]
    checks += [
        (h < low, "high", "high < low"),
        (h < np.maximum(o, c), "high", "high is below open or close"),
        (low > np.minimum(o, c), "low", "low is above open or close"),
        (~finite[4], "volume", "volume is NaN or not a number"),
        (finite[4] & (v < 0), "volume", "volume must be >= 0"),
        (finite[4] & (v != np.floor(v)), "volume", "volume must be a whole number of shares"),
        (duplicate, "ts", "duplicate (symbol, ts)"),
    ]
    for bad, field, problem in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            ts = pd.Timestamp(int(new.ts[i]), unit="us", tz="UTC")
            detail = problem if field == "ts" else f"{problem} (bar {new.values[:, i]})"
            raise BarValidationError(origin, detail, symbol=symbol, ts=ts, field=field,
                                     count=int(bad.sum()))


def _one_bar_ok(new: SymbolBars, seen: SymbolBars) -> bool:
    """``check_new_bars``' checks on a single new bar in plain floats (the array checks cost
    ~40 us, the bar's whole feature row less): True when it passes them all; False sends it
    through the array checks, which name the problem. NaN fails every comparison."""
    ts = int(new.ts[0])
    o, h, low, c, v = (float(x) for x in new.values[:, 0])
    return (ts % US_PER_MINUTE == 0 and (not len(seen) or ts > int(seen.ts[-1]))
            and o > 0.0 and h > 0.0 and low > 0.0 and c > 0.0
            and math.isfinite(o + h + low + c) and h >= low and h >= max(o, c)
            and low <= min(o, c) and math.isfinite(v) and v >= 0.0 and v == math.floor(v))
