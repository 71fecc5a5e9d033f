"""The look-ahead audit: features computed on bars <= t must equal the full-data features at t.

A leak (a centred window, a session-wide statistic, ``shift(-1)``) makes a feature at t depend
on bars after t. Cut the bars at t, rebuild, and compare every row the truncated build produced
with the same row of the full build. A causal build gives identical rows; a leaking one cannot,
because the future it used is gone.

Exact-equality rule: two values are equal when they are the same IEEE-754 double (``a == b``,
so +0.0 equals -0.0) or both are NaN. No tolerance: a tolerance would hide a small leak (for
instance a statistic over the session that moves in the 10th digit when one bar is added).
The build is written so that this rule can hold (see ``panel``): running sums restart at each
(symbol, session) and accumulate strictly forward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

BuildFn = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True)
class Violation:
    """One row at or before ``cut`` whose truncated value differs from the full-data value."""

    cut: pd.Timestamp
    symbol: str
    ts: pd.Timestamp
    column: str
    full: object
    truncated: object

    def __str__(self) -> str:
        return (f"cut {self.cut.isoformat()}: {self.symbol} {self.ts.isoformat()} {self.column}"
                f" full={self.full!r} truncated={self.truncated!r}")


@dataclass(frozen=True)
class AuditResult:
    """What the audit compared and every violation found (at most ``max_violations`` kept)."""

    cuts_checked: int
    rows_compared: int
    violations: tuple[Violation, ...] = field(default=())
    leaking_columns: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        if self.passed:
            return (f"causal: {self.cuts_checked} cuts, {self.rows_compared} rows identical")
        shown = "\n  ".join(str(v) for v in self.violations[:5])
        return (f"LOOK-AHEAD in {list(self.leaking_columns)}: {len(self.violations)} violations"
                f" over {self.cuts_checked} cuts, e.g.\n  {shown}")


def audit_causality(build_fn: BuildFn, bars: pd.DataFrame, cut_points: Sequence[pd.Timestamp],
                    *, max_violations: int = 100) -> AuditResult:
    """Rebuild on ``bars[ts <= t]`` for each cut t and compare with the full build.

    Every row of the truncated build is compared (not only the rows at t): that is a stronger
    check for the same cost. A truncated build that yields a different set of rows than the
    full build restricted to ts <= t is a violation too (column ``<index>``).
    """
    full = build_fn(bars)
    full_ts = full.index.get_level_values("ts")
    violations: list[Violation] = []
    rows = checked = 0
    for cut in cut_points:
        checked += 1
        cut_ts = pd.Timestamp(cut)
        truncated = build_fn(bars[bars["ts"] <= cut_ts])
        expected = full[full_ts <= cut_ts]
        rows += len(truncated)
        violations.extend(_compare(cut_ts, expected, truncated))
        if len(violations) >= max_violations:
            break
    kept = tuple(violations[:max_violations])
    leaking = tuple(dict.fromkeys(v.column for v in kept))
    return AuditResult(checked, rows, kept, leaking)


def _compare(cut: pd.Timestamp, expected: pd.DataFrame,
             truncated: pd.DataFrame) -> list[Violation]:
    if not expected.index.equals(truncated.index) or list(expected.columns) != list(
            truncated.columns):
        only = expected.index.symmetric_difference(truncated.index)
        sym, ts = only[0] if len(only) else expected.index[-1]
        return [Violation(cut, str(sym), ts, "<index>", f"{len(expected)} rows",
                          f"{len(truncated)} rows")]
    out: list[Violation] = []
    for column in expected.columns:
        a, b = expected[column].to_numpy(), truncated[column].to_numpy()
        differs = ~(a == b)
        if a.dtype.kind == "f":
            differs &= ~(np.isnan(a) & np.isnan(b))
        for i in np.flatnonzero(differs)[:10]:
            sym, ts = expected.index[i]
            out.append(Violation(cut, str(sym), ts, column, a[i].item(), b[i].item()))
    return out


def random_cut_points(bars: pd.DataFrame, count: int, seed: int) -> list[pd.Timestamp]:
    """``count`` distinct bar timestamps drawn with a seeded RNG, oldest first."""
    ts = pd.DatetimeIndex(bars["ts"]).unique().sort_values()
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(ts), size=min(count, len(ts)), replace=False)
    return [pd.Timestamp(ts[i]) for i in np.sort(picked)]
