"""Bars laid out as a (segment, position) matrix, and the causal primitives features use.

A segment is one (symbol, session); row s of every matrix holds that segment's bars in time
order, column j its j-th bar of the session. Cells past a segment's last bar are padding
(price 1.0, volume 0) that no real cell ever reads, because every primitive here only looks
left along a row.

Exactness under truncation is the design constraint. A feature at bar t must come out bit for
bit the same whether the data end at t or run on for months, so that the look-ahead audit can
demand exact equality. Two things would break that: an accumulation spanning segments (a
global ``cumsum`` minus the segment's start value rounds differently once rows of *another*
symbol are cut off), and reductions whose summation order depends on how many values exist.
So running sums are per-row ``cumsum`` from the session's first bar (numpy's accumulate is
strictly sequential), rolling sums are differences of those, and the EMA recursion steps
forward one bar position at a time. Rows are contiguous, so all of it runs at memory speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

# float64, shape (segments, depth), or (k, segments, depth) for k stacked sums
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Panel:
    """Bars of several (symbol, session) segments; ``flat`` maps each row to its cell.

    Rows are the bars sorted by (symbol, ts). ``flat[i]`` = segment * depth + position of
    row i. ``o``, ``h``, ``low``, ``c``, ``v`` are matrices; ``pos`` is each row's position
    (0 = the session's first bar), used for the warm-up flag.
    """

    o: Matrix
    h: Matrix
    low: Matrix
    c: Matrix
    v: Matrix
    flat: np.ndarray
    pos: np.ndarray

    @classmethod
    def build(cls, ohlcv: np.ndarray, new_segment: np.ndarray) -> Panel:
        """``ohlcv``: (5, rows) sorted by (symbol, ts); ``new_segment[i]`` True where row i
        is a segment's first bar (row 0 always is)."""
        starts = np.flatnonzero(new_segment)
        seg = np.cumsum(new_segment, dtype=np.int64) - 1
        pos = np.arange(ohlcv.shape[1], dtype=np.int64) - starts[seg]
        depth = int(pos.max()) + 1
        flat = seg * depth + pos
        cells = np.empty((5, len(starts) * depth), dtype=np.float64)
        cells[:4] = 1.0  # padding prices: log(1) = 0, never read by a real cell
        cells[4] = 0.0
        cells[:, flat] = ohlcv
        o, h, low, c, v = cells.reshape(5, len(starts), depth)
        return cls(o, h, low, c, v, flat, pos)

    @property
    def shape(self) -> tuple[int, int]:
        return self.c.shape

    @cached_property
    def positions(self) -> np.ndarray:
        """Bar position of each column, as a (1, depth) row for broadcasting."""
        return np.arange(self.shape[1], dtype=np.int64)[None, :]

    def rows(self, m: Matrix) -> np.ndarray:
        """(segments, depth) matrix -> one value per bar, in (symbol, ts) row order."""
        values: np.ndarray = m.reshape(-1)[self.flat]
        return values

    def window_count(self, window: int) -> Matrix:
        """Bars inside a rolling window at each position: min(window, position + 1)."""
        count: Matrix = np.minimum(self.positions + 1, window).astype(np.float64)
        return count

    @staticmethod
    def cumsum(x: Matrix) -> Matrix:
        """Running sum along each segment from its first bar (sequential, hence exact)."""
        return np.cumsum(x, axis=-1)

    @staticmethod
    def rolling_sum(running: Matrix, window: int) -> Matrix:
        """Sum of the last min(window, position + 1) values, from a ``cumsum``."""
        out = running.copy()
        out[..., window:] -= running[..., :-window]
        return out

    @staticmethod
    def lagged(x: Matrix, lag: int, before: Matrix) -> Matrix:
        """x at position j - lag of the same segment; ``before`` (per segment, shape (s, 1))
        at positions < lag, where the session has no bar that far back."""
        out = np.empty_like(x)
        out[:, lag:] = x[:, :-lag]
        out[:, :lag] = before
        return out

    @staticmethod
    def ema(x: Matrix, alphas: np.ndarray) -> Matrix:
        """EMAs of x (k, segments, depth) with smoothing ``alphas`` (k,), per segment:
        y_0 = x_0, y_j = y_{j-1} + a (x_j - y_{j-1}); vectorised over segments, stepping
        forward through positions, so y_j depends on x_0..x_j of its segment only."""
        m = np.ascontiguousarray(x.transpose(2, 0, 1))  # (depth, k, segments)
        a = alphas[:, None]
        for j in range(1, m.shape[0]):
            m[j] = m[j - 1] + a * (m[j] - m[j - 1])
        return m.transpose(1, 2, 0)
