"""Cross-vendor agreement where two sources overlap (e.g. IBKR and Alpha Vantage, or a replay
file and a live feed).

Only regular-hours bars are compared. Prices must agree bar by bar (closes within
``close_bps``); volumes only in total per session (ratio within [``volume_ratio_min``,
``volume_ratio_max``]), because vendors legitimately count volume differently (IBKR's TRADES
volume is ~50-70% of consolidated; a single-venue feed ~3%), and per-bar ratios of thin bars
are noise. If the two sources have different bar intervals (1-minute vs 5-minute), the finer
one is aggregated to the coarser on the session grid, using complete buckets only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.quality.base import (
    US_PER_MINUTE,
    BarsLike,
    CheckContext,
    PreparedBars,
    in_hours_mask,
    infer_bar_minutes,
    make_result,
    not_evaluated,
    offending_frame,
    prepare_bars,
    row_failures,
    skipped_result,
    window_arrays,
)
from intraday_jules.quality.results import CheckResult, Failure

_AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum",
        "_pos": "first", "_session": "first", "n": "size"}


def _label(prepared: PreparedBars, default: str) -> str:
    if "source" in prepared.frame and prepared.frame["source"].nunique() == 1:
        return str(prepared.frame["source"].iloc[0])
    return default


def _on_grid(prepared: PreparedBars, bar: int, coarse: int) -> pd.DataFrame:
    """Regular-hours bars on the ``coarse``-minute session grid (aggregated if finer)."""
    mask = in_hours_mask(prepared, extended=False)
    sub = prepared.frame.loc[mask, ["symbol", "_session", "_pos", "open", "high", "low", "close",
                                    "volume"]]
    sub = sub.assign(**{c: pd.to_numeric(sub[c], errors="coerce")
                        for c in ("open", "high", "low", "close", "volume")})
    opens = window_arrays(sub["_session"].to_numpy())["open"]
    step = coarse * US_PER_MINUTE
    bucket = opens + (prepared.ts_us()[mask] - opens) // step * step
    sub = sub.assign(ts=bucket, n=1)
    if bar == coarse:
        return sub
    grouped = sub.groupby(["symbol", "ts"], sort=True).agg(_AGG).reset_index()
    return grouped[grouped["n"] == coarse // bar]


def sources_agree(bars: BarsLike, other: BarsLike | None, ctx: CheckContext) -> CheckResult:
    """Where ``bars`` and ``other`` overlap (same symbol and bar start), closes agree within
    ``close_bps`` and each session's volume ratio is within the contract's band. Without a
    second source, or without overlap, there is nothing to compare: the check is skipped and
    says why."""
    name = "sources_agree"
    if other is None:
        return skipped_result(name, ctx, "no second source given", note="no second source given")
    a, b = prepare_bars(bars), prepare_bars(other)
    if a.rows == 0 or b.rows == 0:
        which = "the checked bars have" if a.rows == 0 else "the second source has"
        return skipped_result(name, ctx, f"{which} 0 rows: nothing to compare")
    problem = a.problem or b.problem
    if problem is not None:
        return not_evaluated(name, ctx, problem, a.rows)
    bar_a, bar_b = ctx.bar_minutes or infer_bar_minutes(a), infer_bar_minutes(b)
    coarse, fine = max(bar_a, bar_b), min(bar_a, bar_b)
    if coarse % fine:
        return not_evaluated(name, ctx, f"bar intervals {bar_a} and {bar_b} min do not nest")
    merged = _on_grid(a, bar_a, coarse).merge(_on_grid(b, bar_b, coarse), on=["symbol", "ts"],
                                              suffixes=("_a", "_b"))
    if merged.empty:
        return skipped_result(name, ctx, f"the two sources do not overlap ({a.rows} and {b.rows}"
                                         " rows; compared: regular-hours bars of the same symbol"
                                         " and bar start)",
                              note="the two sources do not overlap")
    return _compare(merged.reset_index(drop=True), ctx, name,
                    (_label(a, "bars"), _label(b, "other")))


def _compare(merged: pd.DataFrame, ctx: CheckContext, name: str,
             labels: tuple[str, str]) -> CheckResult:
    p = ctx.contract.params(name)
    limit, low, high = float(p["close_bps"]), float(p["volume_ratio_min"]), float(
        p["volume_ratio_max"])
    ca, cb = merged["close_a"].to_numpy(), merged["close_b"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        bps = np.abs(ca - cb) / cb * 1e4
    index = np.flatnonzero(~(bps <= limit))
    details = [f"close {ca[i]:g} ({labels[0]}) vs {cb[i]:g} ({labels[1]}): {bps[i]:.1f} bps"
               f" apart (limit {limit:g})" for i in index]
    frame = merged.rename(columns={"_session_a": "_session", "_pos_a": "_pos"}).assign(
        ts=pd.to_datetime(merged["ts"], unit="us", utc=True))
    sessions = _volume_failures(frame, labels, low, high)
    stats: dict[str, Any] = {"overlapping_bars": len(merged),
                             "median_close_bps": float(np.nanmedian(bps)),
                             "max_close_bps": float(np.nanmax(bps))}
    return make_result(name, ctx, len(merged), row_failures(frame, index, details) + sessions,
                       failure_count=len(index) + len(sessions), stats=stats,
                       offending=offending_frame(frame, index, details, False))


def _volume_failures(frame: pd.DataFrame, labels: tuple[str, str], low: float,
                     high: float) -> list[Failure]:
    """One failure per (symbol, session) whose overlapping volume ratio is out of band."""
    out = []
    volumes = frame.groupby(["symbol", "_session"])[["volume_a", "volume_b"]].sum()
    for (symbol, day), row in volumes.iterrows():
        ratio = row["volume_a"] / row["volume_b"] if row["volume_b"] > 0 else np.inf
        if not low <= ratio <= high:
            out.append(Failure(str(symbol), pd.Timestamp(day).date(), None,
                               f"session volume {row['volume_a']:,.0f} ({labels[0]}) is"
                               f" {ratio:.3f}x {row['volume_b']:,.0f} ({labels[1]}); allowed"
                               f" {low:g}-{high:g}x"))
    return out
