"""``build_features``: the one implementation of the feature table, for training, evaluation
and live trading alike.

Live use calls it on the session's bars so far; training on months of them. Because every
computation is per (symbol, session) and causal (see ``panel``), the rows both calls share come
out identical, bit for bit; ``audit.audit_causality`` checks exactly that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.features.kinds import KIND_FUNCTIONS, Context
from intraday_jules.features.panel import Panel
from intraday_jules.features.sessions import new_york_day, session_bounds, symbol_ts_index
from intraday_jules.features.spec import DEFAULT_SPEC, FeatureSpec

INPUT_COLUMNS: tuple[str, ...] = ("symbol", "ts", "open", "high", "low", "close", "volume")


class FeatureInputError(ValueError):
    """Bars cannot be turned into features. Names the origin (partition or file), and where
    known the symbol, ts and field, so the bad bar can be found."""

    def __init__(self, origin: str, problem: str, *, symbol: str | None = None,
                 ts: Any = None, field: str | None = None, count: int = 1) -> None:
        self.origin, self.problem, self.symbol, self.field = origin, problem, symbol, field
        self.ts = None if ts is None else pd.Timestamp(ts, unit="us", tz="UTC").isoformat()
        where = ", ".join(x for x in (symbol and f"symbol {symbol}",
                                      self.ts and f"ts {self.ts}",
                                      field and f"field {field}") if x)
        more = f" ({count - 1} more rows alike)" if count > 1 else ""
        super().__init__(f"{origin}{f' [{where}]' if where else ''}: {problem}{more}")


def build_features(bars: pd.DataFrame, spec: FeatureSpec | None = None, *,
                   origin: str = "bars") -> pd.DataFrame:
    """Features of ``bars`` (columns as the replay CSV; ``ts`` tz-aware, bar start).

    Returns a frame indexed by (symbol, ts), sorted, with one float64 column per feature in
    spec order and a boolean ``warmup`` (the first ``spec.lookback`` bars of each
    (symbol, session)). Bars outside the spec's hours are dropped. Raises
    ``FeatureInputError`` (naming ``origin``) for no bars, missing columns, NaN or
    non-positive prices, negative volume, naive timestamps or duplicate (symbol, ts).
    """
    spec = DEFAULT_SPEC if spec is None else spec
    names, codes, ts_us, values = _read_input(bars, origin)
    codes, ts_us, values = _sorted_by_symbol_ts(codes, ts_us, values, names, origin)
    day = new_york_day(ts_us)
    bounds = session_bounds(day)
    keep = _inside_hours(ts_us, bounds, spec)
    if not keep.all():
        codes, ts_us, values, bounds, day = (
            codes[keep], ts_us[keep], values[:, keep], bounds[:, keep], day[keep])
    if len(ts_us) == 0:
        raise FeatureInputError(origin, f"no bars inside {spec.hours} session hours")
    # A segment (one symbol's bars of one session) starts where the symbol or the day changes.
    new_segment = np.ones(len(ts_us), dtype=bool)
    new_segment[1:] = (codes[1:] != codes[:-1]) | (day[1:] != day[:-1])
    panel = Panel.build(values, new_segment)
    ctx = Context(panel, ts_us, bounds[0], bounds[1])
    columns = {f.name: ctx.as_rows(KIND_FUNCTIONS[f.kind](ctx, f)) for f in spec.features}
    columns["warmup"] = panel.pos < spec.lookback
    index = symbol_ts_index(names, codes, ts_us)
    frame = pd.DataFrame(columns, index=index, copy=False)
    frame.attrs["spec_version"] = spec.version
    return frame


def _read_input(bars: pd.DataFrame, origin: str) -> tuple[np.ndarray, np.ndarray,
                                                          np.ndarray, np.ndarray]:
    """Symbol names and codes, ts (int64 us UTC) and a (5, rows) float64 OHLCV matrix."""
    missing = [c for c in INPUT_COLUMNS if c not in bars.columns]
    if missing:
        raise FeatureInputError(origin, f"missing columns {missing}; expected {INPUT_COLUMNS}")
    if len(bars) == 0:
        raise FeatureInputError(origin, "no bars (the partition is empty)")
    ts = bars["ts"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise FeatureInputError(origin, f"ts must be tz-aware datetimes, got dtype {ts.dtype}",
                                field="ts")
    if ts.isna().any():
        raise FeatureInputError(origin, "missing timestamp (NaT)", field="ts",
                                count=int(ts.isna().sum()))
    naive_utc = ts.dt.tz_convert("UTC").dt.tz_localize(None).dt.as_unit("us")
    ts_us = naive_utc.to_numpy().view(np.int64)
    codes, uniques = pd.factorize(bars["symbol"], sort=True)  # arrow strings: no object copy
    names = np.asarray(uniques, dtype=object)
    values = np.empty((5, len(bars)), dtype=np.float64)
    for i, col in enumerate(("open", "high", "low", "close", "volume")):
        values[i] = _as_float(bars[col], col, origin)
    _check_values(values, names, codes, ts_us, origin)
    return names, codes.astype(np.int64), ts_us, values


def _as_float(col: pd.Series, name: str, origin: str) -> np.ndarray:
    try:
        values: np.ndarray = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return values
    except (TypeError, ValueError):
        raise FeatureInputError(origin, f"{name} is not numeric (dtype {col.dtype})",
                                field=name) from None


def _check_values(values: np.ndarray, names: np.ndarray, codes: np.ndarray,
                  ts_us: np.ndarray, origin: str) -> None:
    """NaN/inf anywhere, prices <= 0 or volume < 0 make features meaningless: refuse."""
    fields = ("open", "high", "low", "close", "volume")
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise FeatureInputError(origin, "missing symbol", ts=ts_us[i], field="symbol")
    for i, name in enumerate(fields):
        row = values[i]
        limit_ok = row >= 0.0 if name == "volume" else row > 0.0
        bad = ~(np.isfinite(row) & limit_ok)
        if bad.any():
            j = np.flatnonzero(bad)
            first = int(j[0])
            rule = "finite and >= 0" if name == "volume" else "a finite price > 0"
            raise FeatureInputError(origin, f"{name} must be {rule}, got {row[first]}",
                                    symbol=str(names[codes[first]]), ts=ts_us[first],
                                    field=name, count=len(j))


def _sorted_by_symbol_ts(codes: np.ndarray, ts_us: np.ndarray, values: np.ndarray,
                         names: np.ndarray, origin: str) -> tuple[np.ndarray, ...]:
    """Rows ordered by (symbol, ts); duplicate (symbol, ts) is refused."""
    if not _is_sorted(codes, ts_us):
        # Replay files are sorted by (ts, symbol): a stable sort on the symbol code alone
        # (radix for small ints) usually suffices; lexsort is the general fallback.
        order = np.argsort(codes.astype(np.int16 if len(names) < 2**15 else np.int64),
                           kind="stable")
        if not _is_sorted(codes[order], ts_us[order]):
            order = np.lexsort((ts_us, codes))
        codes, ts_us, values = codes[order], ts_us[order], values[:, order]
    same = (codes[1:] == codes[:-1]) & (ts_us[1:] == ts_us[:-1])
    if same.any():
        j = np.flatnonzero(same)
        first = int(j[0]) + 1
        raise FeatureInputError(origin, "duplicate (symbol, ts)", symbol=str(names[codes[first]]),
                                ts=ts_us[first], field="ts", count=len(j))
    return codes, ts_us, values


def _inside_hours(ts_us: np.ndarray, bounds: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Rows inside their session's regular (or, per spec, extended) hours."""
    lo, hi = (bounds[0], bounds[1]) if spec.hours == "regular" else (bounds[2], bounds[3])
    inside: np.ndarray = (ts_us >= lo) & (ts_us < hi)
    return inside


def _is_sorted(codes: np.ndarray, ts_us: np.ndarray) -> bool:
    dc = np.diff(codes)
    return bool(((dc > 0) | ((dc == 0) & (np.diff(ts_us) >= 0))).all())
