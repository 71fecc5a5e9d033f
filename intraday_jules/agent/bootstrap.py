"""Confidence intervals over sessions: the market's uncertainty, beside the seeds' one.

The evaluation's seed intervals say how much a figure moves with the policy's sampling on the
SAME sessions; they say nothing about other sessions. Resampling the sessions themselves
(with replacement, each session's P&L kept whole, so the intraday dependence inside a
session is preserved) estimates how the figure would vary over other draws of the market.
Percentile intervals (scipy.stats.bootstrap): BCa needs a jackknife that is degenerate on the
few, often tied, session figures of a short window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

Statistic = Literal["sum", "mean"]
_STATISTICS: dict[str, Callable[..., Any]] = {"sum": np.sum, "mean": np.mean}


@dataclass(frozen=True)
class Interval:
    """``point``: the statistic on the sessions as they were; [low, high] its interval."""

    low: float
    high: float
    point: float

    def to_dict(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high, "point": self.point}


def session_bootstrap(per_session_pnl: np.ndarray, *, statistic: Statistic = "sum",
                      n_resamples: int = 2000, confidence: float = 0.95,
                      seed: int = 0) -> Interval:
    """Percentile interval of ``statistic`` ("sum": the window's P&L, "mean": per session)
    of ``per_session_pnl`` (one value per session), resampling sessions with replacement;
    the same seed gives the same interval."""
    values = np.asarray(per_session_pnl, dtype=np.float64)
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic {statistic!r}: expected one of {', '.join(_STATISTICS)}")
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"per_session_pnl must be one value per session (1-D, non-empty), "
                         f"got shape {values.shape}")
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"per_session_pnl[{bad}] is {values[bad]}: every session's P&L "
                         "must be finite")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    func = _STATISTICS[statistic]
    point = float(func(values))
    if np.all(values == values[0]):
        return Interval(point, point, point)  # every resample is the same: no spread
    result = stats.bootstrap((values,), lambda x, axis: func(x, axis=axis),
                             n_resamples=n_resamples, confidence_level=confidence,
                             method="percentile", vectorized=True,
                             rng=np.random.default_rng(seed))
    ci = result.confidence_interval
    return Interval(float(ci.low), float(ci.high), point)
