"""``build_features`` rows/s versus a plain NumPy computation of the same 12 formulas
(``python -m benchmarks.features``).

Data: synthetic but shaped like the real thing: two symbols, 1-minute regular-hours bars on
real XNYS sessions (390 bars, 210 on half days), seeded geometric random walk with a U-shaped
intraday volatility and volume profile, rows in replay-file order (ts, symbol). Enough
sessions for >= 1,000,000 bars.

The reference is the limit: one function, no spec, no validation, no index; it knows the
bars are all inside regular hours and only sorts, splits into (symbol, session) segments,
computes the formulas on a (position, segment) matrix and returns a plain array. It must agree
with ``build_features`` (checked to 1e-9 relative), which shows both do the same work.
Each side runs ``--repeat`` times after one warm-up run; the best time counts.
Last line: JSON with ``ratio`` = ours / reference rows/s (target >= 0.8).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.domain.calendar import NEW_YORK, session_window, sessions_in_range
from intraday_jules.features import DEFAULT_SPEC, build_features

SYMBOLS = (("MSFT", 420.0, 12e6), ("NVDA", 135.0, 190e6))  # name, start price, daily volume


def synthetic_bars(min_rows: int, seed: int) -> pd.DataFrame:
    """Regular-hours 1-minute bars for two symbols on real sessions from 2015 on."""
    rng = np.random.default_rng(seed)
    starts: list[np.ndarray] = []
    for day in sessions_in_range(date(2015, 1, 2), date(2030, 1, 1)):
        w = session_window(day)
        starts.append(np.arange(w.regular_minutes, dtype=np.int64) * 60_000_000
                      + int(pd.Timestamp(w.open).value // 1000))
        if 2 * sum(len(s) for s in starts) >= min_rows:
            break
    ts = np.concatenate(starts)
    frames = [_one_symbol(name, price, volume, ts, starts, rng) for name, price, volume in
              SYMBOLS]
    bars = pd.concat(frames, ignore_index=True)
    return bars.sort_values(["ts", "symbol"], kind="stable", ignore_index=True)


def _one_symbol(name: str, price: float, daily_volume: float, ts: np.ndarray,
                starts: list[np.ndarray], rng: np.random.Generator) -> pd.DataFrame:
    u = np.concatenate([np.linspace(-1.0, 1.0, len(s)) ** 2 for s in starts])  # U-shape
    vol = 0.0006 * (0.6 + u)
    log_close = np.log(price) + np.cumsum(vol * rng.standard_normal(len(ts)))
    close = np.exp(log_close)
    open_ = close * np.exp(vol * 0.3 * rng.standard_normal(len(ts)))
    wick = np.abs(vol[:, None] * rng.standard_normal((len(ts), 2)))
    high = np.maximum(open_, close) * np.exp(wick[:, 0])
    low = np.minimum(open_, close) * np.exp(-wick[:, 1])
    volume = np.floor(daily_volume / 390 * (0.5 + u) * rng.lognormal(0.0, 0.5, len(ts)))
    return pd.DataFrame({
        "symbol": name, "ts": pd.DatetimeIndex(ts.view("M8[us]")).tz_localize("UTC"),
        "open": open_.round(4), "high": high.round(4), "low": low.round(4),
        "close": close.round(4), "volume": volume.astype(np.int64)})


_BOUNDS: dict[int, tuple[int, int]] = {}


def reference_features(bars: pd.DataFrame) -> list[np.ndarray]:
    """The 12 formulas, plainly, on (segment, position) matrices: 12 float64 columns in
    (symbol, ts) row order. Assumes every bar is inside regular hours."""
    ohlcv, ts, bounds, flat = _reference_layout(bars)
    columns = _reference_formulas(*ohlcv)
    session_time = (ts - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0])
    return [*(m.reshape(-1)[flat] for m in columns), session_time]


def _reference_layout(bars: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Sort by (symbol, ts), split into (symbol, session) segments, fill the (5, segments,
    depth) OHLCV matrix; also ts, session (open, close) and each row's cell, per row."""
    sym, _ = pd.factorize(bars["symbol"], sort=True)
    ts = bars["ts"].dt.tz_localize(None).to_numpy().view(np.int64)
    order = np.lexsort((ts, sym))
    sym, ts = sym[order], ts[order]
    local = pd.DatetimeIndex(ts.view("M8[us]")).tz_localize("UTC").tz_convert(NEW_YORK)
    day = local.tz_localize(None).as_unit("us").to_numpy().view(np.int64) // 86_400_000_000
    days, inv = np.unique(day, return_inverse=True)
    for d in days:
        if int(d) not in _BOUNDS:
            w = session_window(date.fromordinal(719163 + int(d)))
            _BOUNDS[int(d)] = (int(pd.Timestamp(w.open).value // 1000),
                               int(pd.Timestamp(w.close).value // 1000))
    bounds = np.array([_BOUNDS[int(d)] for d in days], dtype=np.int64)[inv]
    new = np.r_[True, (sym[1:] != sym[:-1]) | (day[1:] != day[:-1])]
    starts = np.flatnonzero(new)
    seg = np.cumsum(new) - 1
    pos = np.arange(len(ts)) - starts[seg]
    depth = int(pos.max()) + 1
    flat = seg * depth + pos
    cells = np.ones((5, len(starts) * depth))  # padding, after each segment: never read
    cells[:, flat] = bars[["open", "high", "low", "close", "volume"]].to_numpy(np.float64)[
        order].T
    return cells.reshape(5, len(starts), depth), ts, bounds, flat


def _reference_formulas(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
                        v: np.ndarray) -> list[np.ndarray]:
    """The 11 matrix formulas (all but session_time), each (segments, depth)."""
    depth = c.shape[1]

    def roll(cs: np.ndarray, w: int) -> np.ndarray:
        out = cs.copy()
        out[..., w:] -= cs[..., :-w]
        return out

    def ret(lc: np.ndarray, k: int) -> np.ndarray:
        prev = np.empty_like(lc)
        prev[:, k:], prev[:, :k] = lc[:, :-k], np.log(o[:, :1])
        out: np.ndarray = lc - prev
        return out

    lc = np.log(c)
    r1 = ret(lc, 1)
    m = np.cumsum(np.stack([r1 * r1, np.maximum(r1, 0), np.maximum(-r1, 0)]), axis=2)
    x = np.log1p(v)
    xm = np.cumsum(np.stack([x, x * x]), axis=2)
    pv = np.cumsum(np.stack([(h + lo + c) / 3.0 * v, v]), axis=2)
    n15, n50 = (np.minimum(np.arange(depth) + 1, w).astype(float) for w in (15, 50))
    g, loss = roll(m[1], 14), roll(m[2], 14)
    mean = roll(xm[0], 50) / n50
    var = roll(xm[1], 50) / n50 - mean * mean
    e = np.stack([lc, lc]).transpose(2, 0, 1).copy()  # (position, 2, segment)
    a = (2.0 / (np.array([12.0, 26.0]) + 1.0))[:, None]
    for i in range(1, depth):
        e[i] = e[i - 1] + a * (e[i] - e[i - 1])
    has_v = pv[1] > 0
    return [
        r1, ret(lc, 5), ret(lc, 15), ret(lc, 50),
        np.sqrt(roll(m[0], 15) / n15), np.sqrt(roll(m[0], 50) / n50),
        np.where(g + loss > 0, (g - loss) / np.where(g + loss > 0, g + loss, 1), 0.0),
        (e[:, 0] - e[:, 1]).T,
        np.where(has_v, lc - np.log(pv[0] / np.where(has_v, pv[1], 1.0)), 0.0),
        np.where(var > 1e-8, (x - mean) / np.sqrt(np.where(var > 1e-8, var, 1.0)), 0.0),
        np.log(h) - np.log(lo),
    ]


def best_times(fns: list[Callable[[], Any]], repeat: int) -> list[tuple[float, Any]]:
    """Best wall time of each function; runs alternate so machine noise hits all alike."""
    results = [fn() for fn in fns]  # warm-up: calendar caches, page faults
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            results[i] = fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return list(zip(best, results, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20250102)
    args = parser.parse_args()
    bars = synthetic_bars(args.rows, args.seed)
    rows = len(bars)
    (ours_s, ours), (ref_s, ref) = best_times(
        [lambda: build_features(bars), lambda: reference_features(bars)], args.repeat)
    for name, column in zip(DEFAULT_SPEC.names, ref, strict=True):
        if not np.allclose(ours[name].to_numpy(), column, rtol=1e-9, atol=1e-12):
            raise SystemExit(f"reference disagrees with build_features on {name}")
    sessions = ours.index.get_level_values("ts").tz_convert(NEW_YORK).normalize().nunique()
    print(f"bars: {rows:,} ({len(SYMBOLS)} symbols x {sessions} sessions), features: "
          f"{len(DEFAULT_SPEC.names)}, spec {DEFAULT_SPEC.version[:12]}")
    print(f"build_features: {ours_s:.3f} s ({rows / ours_s:,.0f} rows/s)")
    print(f"reference     : {ref_s:.3f} s ({rows / ref_s:,.0f} rows/s)")
    print(json.dumps({"benchmark": "features", "rows": rows, "rows_per_s": round(rows / ours_s),
                      "reference_rows_per_s": round(rows / ref_s),
                      "ratio": round(ref_s / ours_s, 3)}))


if __name__ == "__main__":
    main()
