"""Streaming features: one (symbol, session) one bar at a time, bit for bit ``build_features``.

``build_features`` recomputes a whole session per call; live, only the newest bar's row is
new. Its features cannot come from a bounded tail of bars: running sums (rolling windows are
differences of session-long ``cumsum``s), the EMAs and VWAP all start at the session's first
bar, and a tail would round differently. So ``SegmentFeatures`` carries that state and takes,
per bar, exactly the floating-point operations ``features.kinds`` performs on that bar's cell,
in the same order: a running sum adds one value to the previous one (numpy's ``cumsum`` is
sequential), a rolling sum subtracts the running sum ``window`` bars back, the EMA steps once.
+, -, *, / and sqrt are correctly rounded in Python and numpy alike; ``log`` and ``log1p``,
which numpy computes with SIMD code that can differ from the C library in the last bit, are
always taken through numpy on arrays long enough to take the same SIMD path as the build's
(see ``_logs``). The cost of a bar is constant: it never revisits earlier bars.

``MIRRORED_IMPLEMENTATION`` is the ``FeatureSpec.implementation`` these formulas mirror; a spec
of another implementation (the kind code changed) is not streamed (``streams``).
``build_features`` (vectorised, for months of bars) and ``SegmentFeatures`` are one formula per
feature in two forms; their equality, bit for bit, over whole simulated sessions (and the
recorded ones) is a test (``intraday_jules_tests/features/test_streaming.py``).

``SessionStreams`` steps one session's bars of several symbols, each bar once, and answers a
minute's raw feature matrix and warm flag as ``build_features`` over the bars so far would:
the trading loop's feature pipeline, and the input of ``agent.LivePolicy``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from intraday_jules.features.build import FeatureInputError
from intraday_jules.features.sessions import new_york_day, session_bounds
from intraday_jules.features.spec import FeatureDef, FeatureSpec

MIRRORED_IMPLEMENTATION = 1
_SIMD_MIN = 8  # 8 float64 = 64 bytes: input and output buffers never closer than numpy's gate


def streams(spec: FeatureSpec) -> bool:
    """Whether ``SegmentFeatures`` reproduces ``spec``'s ``build_features`` exactly."""
    return spec.implementation == MIRRORED_IMPLEMENTATION


def _logs(values: list[float], fn: Callable[[np.ndarray], np.ndarray] = np.log) -> np.ndarray:
    """``fn`` of ``values`` through numpy on a buffer of at least 8 values: numpy only takes
    its SIMD loop (the one the build's whole-session arrays take) when the output buffer lies
    64 bytes or more from the input, which separate 64-byte buffers guarantee."""
    buffer = np.ones(max(len(values), _SIMD_MIN), dtype=np.float64)
    buffer[:len(values)] = values
    out: np.ndarray = fn(buffer)
    return out


def _max0(x: float) -> float:
    """``np.maximum(x, 0.0)`` (NaN propagates; only the sign of a zero may differ)."""
    return x if x >= 0.0 or x != x else 0.0


class SegmentFeatures:
    """Feature rows of one (symbol, session), appended one bar at a time (``step``).

    ``open_us``/``close_us``: the session's regular open and close (epoch microseconds, UTC),
    for ``session_time``. Bars must be the segment's bars inside the spec's hours, in time
    order; bar ``n`` is the session's n-th such bar (``n`` = ``bars`` before the step).
    """

    def __init__(self, spec: FeatureSpec, open_us: int, close_us: int) -> None:
        self.spec, self.open_us, self.close_us = spec, open_us, close_us
        self.bars = 0
        self._first_log_open = 0.0
        self._log_close: list[float] = []
        self._ret_sums: list[tuple[float, float, float]] = []  # running r^2, gains, losses
        self._vol_sums: list[tuple[float, float]] = []  # running x, x^2; x = log1p(volume)
        self._vwap = (0.0, 0.0)  # running sum of typical price x volume, of volume
        self._emas: dict[str, tuple[float, float]] = {}
        self._alphas = {f.name: (2.0 / (float(f.param("fast")) + 1.0),
                                 2.0 / (float(f.param("slow")) + 1.0))
                        for f in spec.features if f.kind == "ema_trend"}

    def step(self, ts_us: int, o: float, h: float, low: float, c: float, v: float
             ) -> np.ndarray:
        """The feature row (float64, spec order) of the segment's next bar."""
        p = self.bars
        value, volume = self._vwap
        typical = (h + low + c) / 3.0
        value, volume = (typical * v, v) if p == 0 else (value + typical * v, volume + v)
        self._vwap = (value, volume)
        vwap = value / volume if volume > 0.0 else 1.0
        log_c, log_h, log_low, log_vwap, log_o = _logs([c, h, low, vwap, o])[:5]
        log_v = float(_logs([v], np.log1p)[0])
        if p == 0:
            self._first_log_open = float(log_o)
        r = float(log_c) - (self._log_close[-1] if p else self._first_log_open)
        self._push(float(log_c), r, log_v)
        bar = _Bar(p, ts_us, float(log_c), float(log_h) - float(log_low),
                   float(log_c) - float(log_vwap) if volume > 0.0 else 0.0, log_v)
        row = np.array([self._feature(f, bar) for f in self.spec.features], dtype=np.float64)
        self.bars += 1
        return row

    def _push(self, log_c: float, r: float, log_v: float) -> None:
        terms = (r * r, _max0(r), _max0(-r))
        vols = (log_v, log_v * log_v)
        if self._ret_sums:
            last, vlast = self._ret_sums[-1], self._vol_sums[-1]
            terms = (last[0] + terms[0], last[1] + terms[1], last[2] + terms[2])
            vols = (vlast[0] + vols[0], vlast[1] + vols[1])
        self._log_close.append(log_c)
        self._ret_sums.append(terms)
        self._vol_sums.append(vols)

    def _rolling(self, sums: Sequence[tuple[float, ...]], k: int, p: int, window: int) -> float:
        """``Panel.rolling_sum``: running[p] - running[p - window], or running[p] early."""
        return sums[p][k] - sums[p - window][k] if p >= window else sums[p][k]

    def _feature(self, f: FeatureDef, bar: _Bar) -> float:
        p, w = bar.p, f.window
        kind = f.kind
        if kind == "log_return":
            return bar.log_c - (self._log_close[p - w] if p >= w else self._first_log_open)
        if kind == "realized_vol":
            total = self._rolling(self._ret_sums, 0, p, w)
            return math.sqrt(_max0(total) / float(min(p + 1, w)))
        if kind == "rsi":
            gains = self._rolling(self._ret_sums, 1, p, w)
            losses = self._rolling(self._ret_sums, 2, p, w)
            both = gains + losses
            return (gains - losses) / both if both > 0.0 else 0.0
        if kind == "ema_trend":
            return self._ema_trend(f.name, bar.log_c, p)
        if kind == "vwap_distance":
            return bar.vwap_distance
        if kind == "volume_zscore":
            return self._volume_z(f, bar)
        if kind == "hl_range":
            return bar.hl_range
        if kind == "session_time":
            return float(bar.ts_us - self.open_us) / float(self.close_us - self.open_us)
        raise ValueError(f"feature {f.name!r}: kind {kind!r} has no incremental form")

    def _ema_trend(self, name: str, x: float, p: int) -> float:
        fast_a, slow_a = self._alphas[name]
        if p == 0:
            fast = slow = x
        else:
            fast, slow = self._emas[name]
            fast = fast + fast_a * (x - fast)
            slow = slow + slow_a * (x - slow)
        self._emas[name] = (fast, slow)
        return fast - slow

    def _volume_z(self, f: FeatureDef, bar: _Bar) -> float:
        p, w = bar.p, f.window
        n = float(min(p + 1, w))
        mean = self._rolling(self._vol_sums, 0, p, w) / n
        var = self._rolling(self._vol_sums, 1, p, w) / n - mean * mean
        if var > float(f.param("min_var")):
            return (bar.log_v - mean) / math.sqrt(var)
        return 0.0


class _Bar:
    """One bar's per-bar intermediates (its position ``p`` in the segment)."""

    __slots__ = ("hl_range", "log_c", "log_v", "p", "ts_us", "vwap_distance")

    def __init__(self, p: int, ts_us: int, log_c: float, hl_range: float,
                 vwap_distance: float, log_v: float) -> None:
        self.p, self.ts_us, self.log_c = p, ts_us, log_c
        self.hl_range, self.vwap_distance, self.log_v = hl_range, vwap_distance, log_v


class OutOfOrder(ValueError):
    """A symbol's bar not newer than the last one stepped: the stream cannot take it."""


class SessionStreams:
    """Raw feature rows of one session's ``symbols``, each bar stepped once (``add``).

    The rows are those ``build_features`` gives over the bars added so far, bit for bit: bars
    outside the spec's hours are skipped (the build drops them), every symbol's position in its
    segment counts all its in-hours bars (also those of minutes the other symbols lack), and a
    row is warm-up while that position is below ``spec.lookback``. Each symbol's bars must come
    in time order (``OutOfOrder`` otherwise: rebuild from the sorted bars); in-hours bars of a
    second session, or a bar ``build_features`` would refuse, raise ``FeatureInputError``.
    Bars of other symbols are ignored.
    """

    def __init__(self, spec: FeatureSpec, symbols: Sequence[str], *,
                 origin: str = "session bars") -> None:
        self.spec, self.symbols, self.origin = spec, tuple(symbols), origin
        self._slot = {s: i for i, s in enumerate(self.symbols)}
        self._segments: list[SegmentFeatures | None] = [None] * len(self.symbols)
        self._rows: list[dict[int, tuple[np.ndarray, int]]] = [{} for _ in self.symbols]
        self._last = [-1] * len(self.symbols)
        self.day: int | None = None  # the session: days since 1970-01-01 (New York date)
        self._bounds = (0, 0, 0, 0)  # regular open, close, extended open, close (epoch us)
        self.rows_computed = 0

    def add(self, symbol: str, ts_us: int, o: float, h: float, low: float, c: float,
            v: float) -> bool:
        """Step ``symbol``'s bar at ``ts_us`` (epoch us, bar start); False if not used (another
        symbol, or outside the spec's hours)."""
        i = self._slot.get(symbol)
        if i is None or not self._inside(ts_us, symbol):
            return False
        if ts_us <= self._last[i]:
            raise OutOfOrder(f"{self.origin}: bar {symbol} at {ts_us} us is not after the "
                             f"last one stepped ({self._last[i]} us)")
        _check_bar(self.origin, symbol, ts_us, (o, h, low, c, v))
        segment = self._segments[i]
        if segment is None:
            segment = self._segments[i] = SegmentFeatures(self.spec, *self._bounds[:2])
        pos = segment.bars
        self._rows[i][ts_us] = (segment.step(ts_us, o, h, low, c, v), pos)
        self._last[i] = ts_us
        self.rows_computed += 1
        return True

    def at(self, ts_us: int) -> tuple[np.ndarray, bool]:
        """([n_symbols, n_features] float64 raw rows, every symbol past warm-up) at the bar
        starting ``ts_us``. KeyError naming the symbols without a row there."""
        found = [rows.get(ts_us) for rows in self._rows]
        missing = [s for s, f in zip(self.symbols, found, strict=True) if f is None]
        if missing:
            raise KeyError(f"no feature row for {missing} at {ts_us} us")
        rows = [f for f in found if f is not None]
        matrix = np.stack([row for row, _ in rows])
        return matrix, all(pos >= self.spec.lookback for _, pos in rows)

    def _inside(self, ts_us: int, symbol: str) -> bool:
        """Whether the bar is inside the spec's hours of the stream's session (opened by the
        first in-hours bar); an in-hours bar of another session is refused."""
        regular = self.spec.hours == "regular"
        if self.day is not None and self._bounds[2] <= ts_us < self._bounds[3]:
            lo, hi = self._bounds[:2] if regular else self._bounds[2:]
            return lo <= ts_us < hi
        day = new_york_day(np.array([ts_us], dtype=np.int64))
        bounds = tuple(int(b) for b in session_bounds(day)[:, 0])
        lo, hi = bounds[:2] if regular else bounds[2:]
        if not lo <= ts_us < hi:
            return False
        if self.day is not None:
            raise FeatureInputError(self.origin, f"bars of two sessions (days {self.day} and "
                                    f"{int(day[0])} since 1970-01-01) in one stream",
                                    symbol=symbol, ts=ts_us, field="ts")
        self.day, self._bounds = int(day[0]), bounds  # type: ignore[assignment]
        return True


def _check_bar(origin: str, symbol: str, ts_us: int, values: tuple[float, ...]) -> None:
    """``build_features``' refusal: NaN/inf anywhere, a price <= 0 or a volume < 0."""
    for name, x in zip(("open", "high", "low", "close", "volume"), values, strict=True):
        ok = x >= 0.0 if name == "volume" else x > 0.0
        if not (math.isfinite(x) and ok):
            rule = "finite and >= 0" if name == "volume" else "a finite price > 0"
            raise FeatureInputError(origin, f"{name} must be {rule}, got {x}", symbol=symbol,
                                    ts=ts_us, field=name)
