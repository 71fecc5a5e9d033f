"""The computations behind each feature kind: pure functions of a ``Context``, all causal.

Each returns a (segment, position) float64 matrix (``session_time``: one value per row),
finite for valid bars (prices > 0, volume >= 0). The formulas are the ``formula`` texts of
``spec.default_spec`` (table in docs/features.md). Shared intermediates (log prices, 1-bar
returns, running sums) are computed once per build by ``Context``; several running sums are
stacked on a leading axis so one ``cumsum`` pass serves them all.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np

from intraday_jules.features.panel import Matrix, Panel
from intraday_jules.features.spec import FeatureDef

FloatArray = np.ndarray  # float64, one value per row


class Context:
    """One build's panel, per-row times, and intermediates shared by several features."""

    def __init__(self, panel: Panel, ts_us: np.ndarray, open_us: np.ndarray,
                 close_us: np.ndarray) -> None:
        self.p = panel
        self.ts_us, self.open_us, self.close_us = ts_us, open_us, close_us

    def as_rows(self, values: np.ndarray) -> FloatArray:
        """A kind's result (matrix, or already one value per row) as one value per row."""
        return self.p.rows(values) if values.ndim == 2 else values

    @cached_property
    def log_close(self) -> Matrix:
        return np.log(self.p.c)

    @cached_property
    def log_first_open(self) -> Matrix:
        """(segments, 1): log of the session's first open, the reference price before a
        window is full (so no return ever spans the overnight gap)."""
        return np.log(self.p.o[:, :1])

    @cached_property
    def ret_1(self) -> Matrix:
        return self.log_close - Panel.lagged(self.log_close, 1, self.log_first_open)

    @cached_property
    def ret_1_sums(self) -> Matrix:
        """Running sums of (ret_1^2, gains, losses), stacked on a leading axis."""
        r = self.ret_1
        return Panel.cumsum(np.stack([r * r, np.maximum(r, 0.0), np.maximum(-r, 0.0)]))

    @cached_property
    def log_volume(self) -> Matrix:
        return np.log1p(self.p.v)

    @cached_property
    def log_volume_sums(self) -> Matrix:
        """Running sums of (x, x^2), x = log(1 + volume)."""
        x = self.log_volume
        return Panel.cumsum(np.stack([x, x * x]))


def log_return(ctx: Context, f: FeatureDef) -> Matrix:
    return ctx.log_close - Panel.lagged(ctx.log_close, f.window, ctx.log_first_open)


def realized_vol(ctx: Context, f: FeatureDef) -> Matrix:
    total = Panel.rolling_sum(ctx.ret_1_sums[0], f.window)
    return np.sqrt(np.maximum(total, 0.0) / ctx.p.window_count(f.window))


def rsi(ctx: Context, f: FeatureDef) -> Matrix:
    gains = Panel.rolling_sum(ctx.ret_1_sums[1], f.window)
    losses = Panel.rolling_sum(ctx.ret_1_sums[2], f.window)
    both = gains + losses
    moved = both > 0.0
    return np.where(moved, (gains - losses) / np.where(moved, both, 1.0), 0.0)


def ema_trend(ctx: Context, f: FeatureDef) -> Matrix:
    spans = np.array([f.param("fast"), f.param("slow")], dtype=np.float64)
    x = ctx.log_close
    emas = Panel.ema(np.stack([x, x]), 2.0 / (spans + 1.0))
    trend: Matrix = emas[0] - emas[1]
    return trend


def vwap_distance(ctx: Context, f: FeatureDef) -> Matrix:
    p = ctx.p
    typical = (p.h + p.low + p.c) / 3.0
    value, volume = Panel.cumsum(np.stack([typical * p.v, p.v]))
    traded = volume > 0.0
    vwap = np.where(traded, value / np.where(traded, volume, 1.0), 1.0)
    return np.where(traded, ctx.log_close - np.log(vwap), 0.0)


def volume_zscore(ctx: Context, f: FeatureDef) -> Matrix:
    w = f.window
    n = ctx.p.window_count(w)
    mean = Panel.rolling_sum(ctx.log_volume_sums[0], w) / n
    var = Panel.rolling_sum(ctx.log_volume_sums[1], w) / n - mean * mean
    spread = var > float(f.param("min_var"))
    return np.where(spread, (ctx.log_volume - mean) / np.sqrt(np.where(spread, var, 1.0)), 0.0)


def hl_range(ctx: Context, f: FeatureDef) -> Matrix:
    return np.log(ctx.p.h) - np.log(ctx.p.low)


def session_time(ctx: Context, f: FeatureDef) -> FloatArray:
    """Per row (not a matrix): it needs each bar's own timestamp and session bounds."""
    elapsed = (ctx.ts_us - ctx.open_us).astype(np.float64)
    length = (ctx.close_us - ctx.open_us).astype(np.float64)
    fraction: FloatArray = elapsed / length
    return fraction


KIND_FUNCTIONS: dict[str, Callable[[Context, FeatureDef], np.ndarray]] = {
    "log_return": log_return,
    "realized_vol": realized_vol,
    "rsi": rsi,
    "ema_trend": ema_trend,
    "vwap_distance": vwap_distance,
    "volume_zscore": volume_zscore,
    "hl_range": hl_range,
    "session_time": session_time,
}
