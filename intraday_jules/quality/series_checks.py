"""Time-series checks: runs of zero-volume bars, price jumps (bad ticks, unadjusted splits)
and volume-regime changes (a vendor changing what "volume" means).

Jumps and regimes are judged on regular-hours bars only: pre/post-market trading is thin and
is where earnings land, so a 5% post-market move on a few hundred shares is ordinary there and
would otherwise be indistinguishable from a bad print.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.quality.base import (
    NO_ROWS,
    BarsLike,
    CheckContext,
    PreparedBars,
    fmt_ts,
    group_starts,
    in_hours_mask,
    make_result,
    not_evaluated,
    numeric_column,
    offending_frame,
    prepare_bars,
    row_failures,
    session_date,
    skipped_result,
)
from intraday_jules.quality.results import CheckResult, Failure

#: Share ratios of common splits and reverse splits (new shares per old share).
SPLIT_RATIOS = np.array([1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 50, 100])




def no_zero_volume_runs(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """No symbol has more than ``max_run_bars`` consecutive zero-volume bars in a session
    (a frozen or filled-forward feed). Counts per session feed the report's PNG."""
    name = "no_zero_volume_runs"
    prepared = prepare_bars(bars)
    if prepared.rows == 0:
        return skipped_result(name, ctx, NO_ROWS)
    if prepared.problem is not None or "volume" not in prepared.frame:
        return not_evaluated(name, ctx, prepared.problem or "no volume column", prepared.rows)
    limit = int(ctx.contract.params(name)["max_run_bars"])
    rows = np.flatnonzero(in_hours_mask(prepared, ctx.extended_hours))
    if len(rows) == 0:
        return skipped_result(name, ctx, _no_bars_in_hours(ctx.extended_hours), prepared.rows)
    sub = prepared.frame.iloc[rows]
    zero = numeric_column(sub, "volume") == 0
    prev_zero = np.concatenate([[False], zero[:-1]]) & ~group_starts(sub)
    run_id = np.cumsum(zero & ~prev_zero) * zero
    lengths = np.bincount(run_id)
    long_run = (lengths > limit) & (np.arange(len(lengths)) > 0)
    in_long = zero & long_run[run_id]
    ts = prepared.ts_us()[rows]
    first: dict[int, int] = {}
    for i in np.flatnonzero(in_long).tolist():
        first.setdefault(int(run_id[i]), i)
    details = {rid: f"{lengths[rid]} consecutive zero-volume bars from {fmt_ts(ts[i])} to"
                    f" {fmt_ts(ts[i + lengths[rid] - 1])} (limit {limit})"
               for rid, i in first.items()}
    starts = np.array(list(first.values()), dtype=np.int64)
    failures = row_failures(sub, starts, [details[run_id[i]] for i in starts])
    index = np.flatnonzero(in_long)
    reasons = [details[run_id[i]] for i in index]
    stats = {"zero_volume": _per_session_counts(sub[zero])}
    return make_result(name, ctx, len(sub), failures, stats=stats,
                       offending=offending_frame(sub, index, reasons, ctx.spec(name).quarantine))


def _no_bars_in_hours(extended: bool) -> str:
    return f"no bar lies in a session's {'extended' if extended else 'regular'} hours"


def _per_session_counts(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
    counts = frame.groupby(["symbol", "_session"]).size()
    out: dict[str, dict[str, int]] = {}
    for (symbol, day), n in counts.items():
        out.setdefault(str(symbol), {})[session_date(day).isoformat()] = int(n)  # type: ignore[union-attr]
    return out


def no_price_jumps(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """No regular-hours close moves by >= ``sigma`` x recent volatility and >= ``min_move_pct``
    in one bar unless the market confirms it; no overnight gap looks like an unadjusted split.

    A move is *real* (not flagged, counted in ``stats``) when the bar's volume is at least
    ``strong_volume_ratio`` x its recent median, or at least ``volume_confirm_ratio`` x and the
    next bar does not undo it (>= ``revert_fraction``). So the 2025-01-27 DeepSeek sell-off,
    heavy and sustained, passes; a lone print that snaps back on normal volume fails as a likely
    bad tick (quarantinable). Session-open gaps are news, not errors, unless their ratio is
    within ``split_tolerance_pct`` of a split ratio (2:1, 3:2, 10:1, ...): those fail and cannot
    be quarantined away.
    """
    name = "no_price_jumps"
    prepared = prepare_bars(bars)
    if prepared.rows == 0:
        return skipped_result(name, ctx, NO_ROWS)
    needed = {"close", "open", "volume"} - set(prepared.frame.columns)
    if prepared.problem is not None or needed:
        return not_evaluated(name, ctx, prepared.problem or f"columns {sorted(needed)} missing",
                             prepared.rows)
    p = ctx.contract.params(name)
    rows = np.flatnonzero(in_hours_mask(prepared, extended=False))
    if len(rows) < 2:
        return skipped_result(name, ctx, f"{len(rows)} regular-hours bar(s): no move to judge",
                              prepared.rows)
    sub = prepared.frame.iloc[rows]
    jumps = _jump_table(sub, p)
    bad = jumps[~jumps["real"]]
    gaps = _split_gaps(sub, float(p["split_tolerance_pct"]) / 100)
    index = np.concatenate([bad.index.to_numpy(), gaps.index.to_numpy()]).astype(np.int64)
    details = [_jump_detail(r) for r in bad.itertuples()] + list(gaps["detail"])
    quarantinable = np.r_[np.full(len(bad), ctx.spec(name).quarantine), np.zeros(len(gaps), bool)]
    failures = row_failures(sub, index, details)
    order = np.argsort(-np.r_[bad["z"].to_numpy(), np.full(len(gaps), np.inf)], kind="stable")
    real = jumps[jumps["real"]]
    stats = {"confirmed_moves": len(real), "confirmed_examples": [
        f.to_dict() for f in row_failures(sub, real.index.to_numpy()[:5],
                                          [_jump_detail(r) for r in real.head(5).itertuples()])]}
    note = f"{len(real)} large move(s) confirmed by volume, not flagged" if len(real) else ""
    return make_result(name, ctx, len(sub), failures, note=note, stats=stats,
                       worst=[failures[i] for i in order[:10] if i < len(failures)],
                       offending=offending_frame(sub, index, details, quarantinable))


def _jump_table(sub: pd.DataFrame, p: dict[str, Any]) -> pd.DataFrame:
    """Large one-bar moves (index: positions in ``sub``) with z, volume ratio, next move."""
    window = int(p["window_bars"])
    close, volume = numeric_column(sub, "close"), numeric_column(sub, "volume")
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.r_[np.nan, np.diff(np.log(close))]
    ret[group_starts(sub)] = np.nan
    by = pd.Series(sub["symbol"].to_numpy())
    r = pd.Series(ret)
    sigma = r.groupby(by).transform(lambda s: s.rolling(window, window // 3).std().shift(1))
    sigma = sigma.fillna(r.groupby(by).transform(lambda s: s.abs().median() * 1.4826))
    vmed = pd.Series(volume).groupby(by).transform(
        lambda s: s.rolling(window, window // 3).median().shift(1)).to_numpy()
    nxt = np.r_[ret[1:], np.nan]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(ret) / sigma.to_numpy()
        vr = volume / vmed
    move = np.abs(ret)
    jump = (z >= float(p["sigma"])) & (move >= float(p["min_move_pct"]) / 100)
    reverted = (nxt * ret < 0) & (np.abs(nxt) >= float(p["revert_fraction"]) * move)
    real = (vr >= float(p["strong_volume_ratio"])) | (
        (vr >= float(p["volume_confirm_ratio"])) & ~reverted)
    index = np.flatnonzero(jump)
    return pd.DataFrame({"ret": ret[index], "z": z[index], "vr": vr[index], "next": nxt[index],
                         "reverted": reverted[index], "real": real[index]}, index=index)


def _jump_detail(row: Any) -> str:
    base = (f"close {np.expm1(row.ret):+.2%} in one bar ({row.z:.0f}x recent volatility),"
            f" volume {row.vr:.1f}x recent median")
    if row.real:
        return base + ": confirmed by volume"
    if row.reverted:
        return base + f", then {np.expm1(row.next):+.2%}: likely a bad tick"
    return base + ": not confirmed by volume (bad tick or unadjusted data?)"


def _split_gaps(sub: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Session-open gaps whose ratio is within ``tolerance`` of a split ratio."""
    close, open_ = numeric_column(sub, "close"), numeric_column(sub, "open")
    sym = sub["symbol"].to_numpy()
    first = np.flatnonzero(group_starts(sub))
    first = first[(first > 0) & (sym[first] == sym[np.maximum(first - 1, 0)])]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = close[first - 1] / open_[first]
    size = np.maximum(ratio, 1 / ratio)
    nearest = SPLIT_RATIOS[np.abs(size[:, None] / SPLIT_RATIOS - 1).argmin(axis=1)] if len(
        first) else np.array([])
    hit = (size >= 1.4) & (np.abs(size / nearest - 1) <= tolerance) if len(first) else first > 0
    details = [f"session opens at {open_[i]:g} after closing at {close[i - 1]:g} (x{1 / q:.3f}):"
               f" looks like an unadjusted {'split' if q > 1 else 'reverse split'} of about"
               f" {n:g}:1" for i, q, n in zip(first[hit], ratio[hit], nearest[hit], strict=True)]
    return pd.DataFrame({"detail": details}, index=first[hit])


def volume_regime_stable(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """Mean regular-hours bar volume per session stays within ``ratio`` x (either way) of the
    median of the previous ``lookback_sessions``. A failure marks where a vendor's volume
    definition changed (e.g. a single-venue feed replaced by consolidated volume)."""
    name = "volume_regime_stable"
    prepared = prepare_bars(bars)
    if prepared.rows == 0:
        return skipped_result(name, ctx, NO_ROWS)
    if prepared.problem is not None or "volume" not in prepared.frame:
        return not_evaluated(name, ctx, prepared.problem or "no volume column", prepared.rows)
    p = ctx.contract.params(name)
    limit, lookback, least = float(p["ratio"]), int(p["lookback_sessions"]), int(p["min_sessions"])
    table = _session_volumes(prepared)
    by = table.groupby("symbol")["mean"]
    table["median"] = by.transform(lambda s: s.rolling(lookback, least).median().shift(1))
    table["ratio"] = table["mean"] / table["median"]
    out = ((table["ratio"] >= limit) | (table["ratio"] <= 1 / limit)).to_numpy()
    previous = table.groupby("symbol")["ratio"].shift(1)
    was_out = ((previous >= limit) | (previous <= 1 / limit)).to_numpy()
    failures = [Failure(r.symbol, session_date(r.session), None,
                        f"mean bar volume {r.mean:,.0f} is {r.ratio:.2f}x the median of the"
                        f" previous sessions ({r.median:,.0f}): did the volume definition or"
                        " feed change?") for r in table[out & ~was_out].itertuples()]
    per_symbol = table.groupby("symbol").size()
    most = int(per_symbol.max()) if len(per_symbol) else 0
    if most <= least:
        return skipped_result(name, ctx, f"needs more than {least} sessions per symbol to judge"
                                         f" (regular-hours sessions); the data has at most"
                                         f" {most}",
                              prepared.rows,
                              note=f"needs more than {least} sessions per symbol to judge")
    few = sorted(str(s) for s in per_symbol[per_symbol <= least].index)
    note = (f"not judged (at most {least} sessions): {', '.join(few)}" if few else "")
    return make_result(name, ctx, prepared.rows, failures, note=note)


def _session_volumes(prepared: PreparedBars) -> pd.DataFrame:
    mask = in_hours_mask(prepared, extended=False)
    sub = prepared.frame.loc[mask, ["symbol", "_session"]].assign(
        volume=numeric_column(prepared.frame.loc[mask], "volume"))
    means = sub.groupby(["symbol", "_session"])["volume"].mean().rename("mean").reset_index()
    return means.rename(columns={"_session": "session"})
