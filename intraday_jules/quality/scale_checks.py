"""Price-scale plausibility against recent history (part of ``price_scale_plausible``).

A bar can be internally consistent (low <= open, close <= high, all > 0) and still be off by a
unit: cents read as dollars (x100), a decimal shift (x10), a vendor quoting in thousands, a
float garbage value (1e308) or a 1e-6 scale. The physical bounds are contract rules (so the GX
suite runs them too, see ``checks.price_scale_plausible``); this module judges each
(symbol, session) as a whole: its median close must lie within ``max_ratio_to_history`` (3x)
either way of the reference close.

The reference is the symbol's last stored close before the checked sessions
(``CheckContext.price_history``, no older than ``history_max_age_days``), then, session by
session, the last close of each session that passed. Without stored history and with two or
more sessions in the frame, the first reference is the median of the first (up to five)
sessions' medians, so one bad session among good ones is the one that fails; with a single
session and no history only the physical bounds apply, and the result's note says so.

Why 3x: a scale error is a factor of 10 or more (x10, x100, x1000, 1e-6); a real market move,
even a crash day (NVDA 2025-01-27: -17%) or a month of trending, is well inside x1/3..x3.
Large one-bar moves are ``no_price_jumps``' business, not this check's.

A failed session's rows are quarantinable (set aside, not stored), except when the ratio is
within ``no_price_jumps``' ``split_tolerance_pct`` of a split ratio (2:1, 4:1, 10:1, ...): like
``no_price_jumps``' split-like gaps, an unadjusted split needs adjusting, not deleting, so those
rows stay and the partition is blocked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from intraday_jules.quality.base import (
    CheckContext,
    PreparedBars,
    PriceReference,
    numeric_column,
    session_date,
)
from intraday_jules.quality.results import Failure
from intraday_jules.quality.series_checks import SPLIT_RATIOS

#: How many leading sessions seed the reference when there is no stored history.
SEED_SESSIONS = 5


@dataclass(frozen=True)
class ScaleVerdict:
    """Rows (positions in the prepared frame) of implausible sessions, with reasons."""

    index: np.ndarray[Any, Any]
    details: list[str]
    failures: list[Failure]
    quarantinable: np.ndarray[Any, Any]
    notes: list[str]
    references: dict[str, dict[str, Any]]
    #: Symbols the history comparison could not judge (no stored history, one session).
    unjudged: tuple[str, ...] = ()


def judge_sessions(prepared: PreparedBars, ctx: CheckContext, usable: np.ndarray[Any, Any],
                   params: dict[str, Any]) -> ScaleVerdict:
    """Judge each (symbol, session) of ``usable`` rows against the reference close."""
    frame = prepared.frame
    band = float(params["max_ratio_to_history"])
    max_age = int(params["history_max_age_days"])
    close = numeric_column(frame, "close")
    index: list[np.ndarray[Any, Any]] = []
    movable: list[bool] = []
    details: list[str] = []
    tolerance = float(ctx.contract.params("no_price_jumps")["split_tolerance_pct"]) / 100
    failures: list[Failure] = []
    notes: list[str] = []
    references: dict[str, dict[str, Any]] = {}
    unjudged: list[str] = []
    rows = np.flatnonzero(usable & ~frame["_session"].isna().to_numpy())
    symbols = frame["symbol"].to_numpy()
    sessions = frame["_session"].to_numpy()
    for symbol in dict.fromkeys(symbols[rows].tolist()):
        mine = rows[symbols[rows] == symbol]
        days = sessions[mine]
        dated = [(session_date(day), mine[days == day]) for day in np.unique(days)]
        groups = [(d, g) for d, g in dated if d is not None]
        if not groups:
            continue
        first = groups[0][0]
        ref, what = _stored_reference(ctx, str(symbol), first, max_age)
        medians = [float(np.median(close[g])) for _, g in groups]
        if ref is None and len(groups) >= 2:
            ref = float(np.median(medians[:SEED_SESSIONS]))
            what = (f"median of the first {min(len(groups), SEED_SESSIONS)} sessions checked"
                    " (no stored history)")
        if ref is None:
            notes.append(f"no stored price history for {symbol} before {first.isoformat()}"
                         f" (within {max_age} days): only the physical bounds were checked")
            unjudged.append(str(symbol))
            continue
        references[str(symbol)] = {"close": ref, "reference": what}
        for (day, group), median in zip(groups, medians, strict=True):
            ratio = median / ref
            if 1 / band <= ratio <= band:
                ref, what = float(close[group[-1]]), f"last close of {day.isoformat()}"
                continue
            size = max(ratio, 1 / ratio)
            nearest = float(SPLIT_RATIOS[np.abs(size / SPLIT_RATIOS - 1).argmin()])
            split_like = abs(size / nearest - 1) <= tolerance
            cause = (f"looks like an unadjusted {'split' if ratio < 1 else 'reverse split'} of"
                     f" about {nearest:g}:1 (not quarantined: adjust the history or the data)"
                     if split_like else "a price-unit or scale error?")
            detail = (f"median close {median:g} is x{ratio:.4g} the {what} ({ref:g}): outside"
                      f" x1/{band:g}..x{band:g}, {cause}")
            movable += [not split_like] * len(group)
            failures.append(Failure(str(symbol), day, None,
                                    f"{len(group)} bars: {detail}"))
            index.append(group)
            details += [detail] * len(group)
    flat = np.concatenate(index).astype(np.int64) if index else np.zeros(0, np.int64)
    return ScaleVerdict(flat, details, failures, np.array(movable, dtype=bool), notes,
                        references, tuple(unjudged))


def _stored_reference(ctx: CheckContext, symbol: str, first: date,
                      max_age: int) -> tuple[float | None, str]:
    ref: PriceReference | None = (ctx.price_history or {}).get(symbol)
    if ref is None or not (0 < (first - ref.session).days <= max_age):
        return None, ""
    if not np.isfinite(ref.close) or ref.close <= 0:
        return None, ""
    return float(ref.close), f"last stored close of {ref.session.isoformat()}"
