"""``zero_volume_share_low``: a session's share of zero-volume bars whose price moved.

A bar that trades at several prices (``high != low``), or closes away from the previous bar's
close, cannot have traded zero shares. Such bars are a vendor artefact: e.g. a feed whose
volume leaves out odd lots (IBKR ``TRADES`` bars) or that fills volume from another source
than the prices. One such bar now and then is harmless and common on thin minutes, so bars are
never flagged one by one (``no_zero_volume_runs`` looks for *runs* of zero-volume bars, a frozen
feed). What matters is the share: when more than ``max_share`` (5%) of a session's
regular-hours bars show a moving price on zero volume, volume-based features of that session
(volume ratios, VWAP) are wrong, so the (symbol, session) is named with its share (WARN).

Only regular-hours bars are judged (pre/post-market minutes are thin and vendors differ most
there), and only sessions with at least ``min_bars`` regular-hours bars: on fewer, two isolated
bars already exceed 5% and a short session is ``no_missing_sessions``' business.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.quality.base import (
    NO_ROWS,
    BarsLike,
    CheckContext,
    group_starts,
    in_hours_mask,
    make_result,
    not_evaluated,
    numeric_column,
    offending_frame,
    prepare_bars,
    session_date,
    skipped_result,
)
from intraday_jules.quality.results import CheckResult, Failure

NAME = "zero_volume_share_low"




def zero_volume_moving(sub: pd.DataFrame) -> np.ndarray[Any, Any]:
    """Rows of ``sub`` (sorted by symbol, ts) with volume 0 whose price moved: ``high != low``
    or ``close`` != the previous bar's close in the same (symbol, session). NaN prices never
    count (they are ``ohlc_consistent``'s to report)."""
    high, low, close = (numeric_column(sub, c) for c in ("high", "low", "close"))
    same = ~group_starts(sub)
    prev = np.r_[np.nan, close[:-1]]
    with np.errstate(invalid="ignore"):
        ranged = np.isfinite(high) & np.isfinite(low) & (high != low)
        stepped = same & np.isfinite(close) & np.isfinite(prev) & (close != prev)
    moving: np.ndarray[Any, Any] = (numeric_column(sub, "volume") == 0) & (ranged | stepped)
    return moving


def zero_volume_share_low(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """In every (symbol, session) with at least ``min_bars`` regular-hours bars, at most
    ``max_share`` of those bars have zero volume while the price moved. One failure per
    offending session, naming the symbol, the session and the share; the zero-volume moving
    bars are listed as offending rows (not quarantinable: the prices are fine, the volume
    is not, and dropping 5%+ of a session would not repair it)."""
    prepared = prepare_bars(bars)
    if prepared.rows == 0:
        return skipped_result(NAME, ctx, NO_ROWS)
    needed = {"high", "low", "close", "volume"} - set(prepared.frame.columns)
    if prepared.problem is not None or needed:
        return not_evaluated(NAME, ctx, prepared.problem or f"columns {sorted(needed)} missing",
                             prepared.rows)
    p = ctx.contract.params(NAME)
    limit, least = float(p["max_share"]), int(p["min_bars"])
    rows = np.flatnonzero(in_hours_mask(prepared, extended=False))
    sub = prepared.frame.iloc[rows]
    if len(sub) == 0:
        return skipped_result(NAME, ctx, "no bar lies in a session's regular hours",
                              prepared.rows)
    flagged = zero_volume_moving(sub)
    # sub is sorted by (symbol, ts): each (symbol, session) is one contiguous block
    starts = np.flatnonzero(group_starts(sub))
    sizes = np.diff(np.r_[starts, len(sub)])
    hits = np.add.reduceat(flagged.astype(np.int64), starts)
    symbols, days = sub["symbol"].to_numpy()[starts], sub["_session"].to_numpy()[starts]
    judged = sizes >= least
    if not judged.any():
        return skipped_result(NAME, ctx, f"no (symbol, session) has {least} or more"
                                         f" regular-hours bars (most: {int(sizes.max())})",
                              prepared.rows)
    share = hits / sizes
    bad = judged & (share > limit)
    failures: list[Failure] = []
    counts: dict[str, dict[str, Any]] = {}
    for g in np.flatnonzero(judged & (hits > 0)).tolist():
        symbol, when, n, size, ratio = (str(symbols[g]), session_date(days[g]), int(hits[g]),
                                        int(sizes[g]), float(share[g]))
        counts.setdefault(symbol, {})[when.isoformat()] = {  # type: ignore[union-attr]
            "bars": size, "zero_volume_moving": n, "share": round(ratio, 4)}
        if bad[g]:
            failures.append(Failure(symbol, when, None,
                                    f"{n} of {size} regular-hours bars"
                                    f" ({ratio:.1%}) have zero volume while the price moved"
                                    f" (limit {limit:.0%}): volume from this vendor is"
                                    " incomplete for this session"))
    worst = sorted(failures, key=lambda f: -float(counts[f.symbol or ""][
        f.session.isoformat()]["share"]))  # type: ignore[union-attr]
    index = np.flatnonzero(flagged & np.repeat(bad, sizes))
    unjudged = int((~judged).sum())
    note = (f"{unjudged} (symbol, session)(s) with fewer than {least} regular-hours bars not"
            " judged" if unjudged else "")
    stats = {"max_share": limit, "sessions_judged": int(judged.sum()),
             "zero_volume_moving": counts}
    detail = "zero volume while the price moved, in a session above the share limit"
    return make_result(NAME, ctx, int(sizes[judged].sum()), failures, worst=worst[:10],
                       note=note, stats=stats,
                       offending=offending_frame(sub, index, [detail] * len(index), False))
