"""Checks against the XNYS calendar: bars inside sessions, no missing minutes or sessions, and
a fresh newest bar during a live session.

Expected bars come from ``domain.calendar`` (holidays, half days, DST): a full session has
390 regular-hours 1-minute bars, a half day 210; with N-minute bars, 390/N and 210/N. Only
*regular* hours are ever required: vendors record no bar for a minute without trades, which
is normal before 09:30 and after 16:00 ET, so in extended-hours mode the pre/post minutes are
allowed but never demanded. With a clock (``ctx.now``) inside a session, only bars that have
already ended are expected.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.domain.calendar import NEW_YORK, session_date_of
from intraday_jules.quality.base import (
    NO_ROWS,
    US_PER_MINUTE,
    BarsLike,
    CheckContext,
    PreparedBars,
    fmt_ts,
    in_hours_mask,
    infer_bar_minutes,
    make_result,
    not_evaluated,
    offending_frame,
    prepare_bars,
    row_failures,
    session_date,
    skipped_result,
    window_arrays,
    window_of,
)
from intraday_jules.quality.results import CheckResult, Failure


def _et_clock(values_us: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    stamps = pd.to_datetime(values_us, unit="us", utc=True).tz_convert(NEW_YORK)
    return np.asarray(stamps.strftime("%H:%M"))


def timestamps_in_session(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """Every bar starts on a whole minute, inside its session's regular (or, when configured,
    extended) hours, on an XNYS session that was requested. Bars after a half day's 13:00
    close fail in regular-hours mode."""
    name = "timestamps_in_session"
    prepared = prepare_bars(bars)
    if prepared.rows == 0:
        return skipped_result(name, ctx, NO_ROWS)
    if prepared.problem is not None:
        return not_evaluated(name, ctx, prepared.problem, prepared.rows)
    frame = prepared.frame
    valid = frame["ts"].notna().to_numpy()
    ts, days = prepared.ts_us(), frame["_session"].to_numpy()
    win = window_arrays(days)
    lo, hi = ((win["ext_open"], win["ext_close"]) if ctx.extended_hours
              else (win["open"], win["close"]))
    unaligned = valid & (ts % US_PER_MINUTE != 0)
    closed = valid & (win["open"] < 0)
    outside = valid & ~closed & ((ts < lo) | (ts >= hi))
    requested = np.array(sorted(ctx.sessions), dtype="datetime64[D]")
    unrequested = valid & ~np.isin(days, requested) if len(requested) else np.zeros_like(valid)
    index = np.flatnonzero(unaligned | closed | outside | unrequested)
    hours = "extended" if ctx.extended_hours else "regular"
    clock, lo_c, hi_c = _et_clock(ts[index]), _et_clock(lo[index]), _et_clock(hi[index])
    details = []
    for k, i in enumerate(index):
        day = session_date(days[i])
        if unaligned[i]:
            details.append(f"ts {pd.Timestamp(ts[i], unit='us', tz='UTC').isoformat()} is not"
                           " aligned to the minute")
        elif closed[i]:
            details.append(f"{day} is not an XNYS session (weekend or holiday)")
        elif outside[i]:
            half = " (half day)" if window_of(day).is_half_day else ""  # type: ignore[union-attr]
            details.append(f"bar at {clock[k]} ET is outside {hours} hours"
                           f" {lo_c[k]}-{hi_c[k]} ET{half}")
        else:
            details.append(f"session {day} was not requested")
    offending = offending_frame(frame, index, details, ctx.spec(name).quarantine)
    return make_result(name, ctx, prepared.rows, row_failures(frame, index, details),
                       failure_count=len(index), offending=offending)


def _expected_bars(day: date, bar: int, ctx: CheckContext) -> tuple[int, int]:
    """(regular-hours bars expected by ``ctx.now``, session open in µs) for one session."""
    window = window_of(day)
    if window is None:
        return 0, 0
    open_us = int(pd.Timestamp(window.open).value // 1000)
    full = window.regular_minutes // bar
    if ctx.now is None or ctx.now >= window.close:
        return full, open_us
    elapsed = (pd.Timestamp(ctx.now).value // 1000 - open_us) // (bar * US_PER_MINUTE)
    return int(min(max(elapsed, 0), full)), open_us


def _grid_offsets(prepared: PreparedBars, bar: int) -> pd.DataFrame:
    """Regular-hours bars on the session grid: symbol, _session, k (bar number from open)."""
    frame = prepared.frame
    mask = in_hours_mask(prepared, extended=False)
    sub = frame.loc[mask, ["symbol", "_session"]]
    ts = prepared.ts_us()[mask]
    since_open = ts - window_arrays(sub["_session"].to_numpy())["open"]
    on_grid = since_open % (bar * US_PER_MINUTE) == 0
    return sub[on_grid].assign(k=since_open[on_grid] // (bar * US_PER_MINUTE))


def coverage(prepared: PreparedBars, ctx: CheckContext, bar: int) -> pd.DataFrame:
    """One row per (symbol, session): regular-hours bars expected and present, any bars at
    all, and the present bar numbers (``k``). Pairs come from the data and the request."""
    grid = _grid_offsets(prepared, bar)
    frame = prepared.frame[prepared.frame["ts"].notna()]
    any_bars = frame.groupby(["symbol", "_session"]).size()
    offsets = grid.groupby(["symbol", "_session"])["k"].unique()
    symbols = list(ctx.symbols) or sorted(any_bars.index.get_level_values(0).unique())
    sessions = [np.datetime64(d, "D") for d in ctx.sessions] or sorted(
        any_bars.index.get_level_values(1).unique())
    pairs = pd.MultiIndex.from_product([symbols, sessions], names=["symbol", "_session"])
    rows = []
    for symbol, day in pairs:
        when = session_date(day)
        expected, open_us = _expected_bars(when, bar, ctx)  # type: ignore[arg-type]
        ks = offsets.get((symbol, day), np.array([], dtype=np.int64))
        ks = ks[ks < expected]
        rows.append((symbol, when, expected, len(ks), int(any_bars.get((symbol, day), 0)),
                     open_us, ks))
    return pd.DataFrame(rows, columns=["symbol", "session", "expected", "present", "any_bars",
                                       "open_us", "k"])


def no_missing_minutes(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """Each (symbol, session) that has bars has every regular-hours bar of the XNYS calendar
    (up to the contract's ``max_missing_per_session``). One failure per missing bar.
    Sessions with no bars at all are ``no_missing_sessions``' to report.
    Skipped when no (symbol, session) with bars expects a regular-hours bar (0 rows)."""
    name = "no_missing_minutes"
    prepared = prepare_bars(bars)
    if prepared.rows == 0:
        return skipped_result(name, ctx, NO_ROWS)
    if prepared.problem is not None:
        return not_evaluated(name, ctx, prepared.problem, prepared.rows)
    bar = ctx.bar_minutes or infer_bar_minutes(prepared)
    tolerated = int(ctx.contract.params(name)["max_missing_per_session"])
    table = coverage(prepared, ctx, bar)
    table = table[table["any_bars"] > 0]
    if not (table["expected"] > 0).any():
        return skipped_result(name, ctx, "no (symbol, session) with bars expects a regular-hours"
                                         " bar (no XNYS session, or none of its bars has ended"
                                         " yet)", prepared.rows)
    failures: list[Failure] = []
    worst: list[tuple[int, Failure]] = []
    missing_stats: dict[str, dict[str, int]] = {}
    for row in table[table["present"] < table["expected"]].itertuples(index=False):
        absent = np.setdiff1d(np.arange(row.expected), row.k)
        missing_stats.setdefault(row.symbol, {})[row.session.isoformat()] = len(absent)
        if len(absent) <= tolerated:
            continue
        summary = f"{row.present} of {row.expected} regular-hours {bar}-minute bars present"
        worst.append((len(absent), Failure(row.symbol, row.session, None,
                                           f"{len(absent)} missing: {summary}")))
        starts = row.open_us + absent * bar * US_PER_MINUTE
        failures += [Failure(row.symbol, row.session, pd.Timestamp(s, unit="us", tz="UTC")
                             .to_pydatetime(), f"no bar starting {fmt_ts(s)}; {summary}")
                     for s in starts]
    note = ("extended hours: only regular-hours minutes are required" if ctx.extended_hours
            else "")
    stats = {"bar_minutes": bar, "sessions": sorted({d.isoformat() for d in table["session"]}),
             "expected_bars": int(table["expected"].sum()), "missing": missing_stats}
    worst.sort(key=lambda item: -item[0])
    return make_result(name, ctx, int(table["present"].sum()), failures,
                       worst=[f for _, f in worst[:10]], note=note, stats=stats)


def no_missing_sessions(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """Every requested symbol has every requested XNYS session, with at least
    ``min_session_coverage`` of its regular-hours bars (a session cut short counts as missing).
    Without requested sessions, the range from the first to the last session in the data.
    Skipped when there is nothing to judge: 0 rows and no requested symbols or sessions, or no
    requested day that is an XNYS session."""
    name = "no_missing_sessions"
    prepared = prepare_bars(bars)
    if prepared.rows == 0 and not (ctx.symbols and ctx.sessions):
        # with requested symbols and sessions, 0 rows means every pair is missing: judged
        return skipped_result(name, ctx, f"{NO_ROWS} and no requested"
                                         f" {'sessions' if ctx.symbols else 'symbols'}")
    if prepared.problem is not None:
        return not_evaluated(name, ctx, prepared.problem, prepared.rows)
    bar = ctx.bar_minutes or infer_bar_minutes(prepared)
    note = ""
    if not ctx.sessions and prepared.rows:
        from intraday_jules.domain.calendar import sessions_in_range

        days = prepared.frame["_session"].dropna()
        ctx = _with_sessions(ctx, sessions_in_range(session_date(days.min()),  # type: ignore[arg-type]
                                                    session_date(days.max())))  # type: ignore[arg-type]
        if len(ctx.sessions) == 1:
            note = ("no sessions requested and one in the data: only its coverage was judged"
                    " (a missing session before or after it cannot be seen)")
    minimum = float(ctx.contract.params(name)["min_session_coverage"])
    table = coverage(prepared, ctx, bar)
    table = table[table["expected"] > 0]
    if table.empty:
        return skipped_result(name, ctx, "no requested (symbol, session) expects a regular-hours"
                                         " bar (no XNYS session, or none has opened yet)",
                              prepared.rows)
    failures = []
    for row in table[table["present"] < minimum * table["expected"]].itertuples(index=False):
        detail = ("no bars for this session" if row.any_bars == 0 else
                  f"only {row.present} of {row.expected} regular-hours bars"
                  f" ({row.present / row.expected:.0%}; at least {minimum:.0%} required)")
        failures.append(Failure(row.symbol, row.session, None, detail))
    stats = {"pairs_expected": len(table), "pairs_missing": len(failures)}
    return make_result(name, ctx, prepared.rows, failures, stats=stats, note=note)


def _with_sessions(ctx: CheckContext, sessions: list[date]) -> CheckContext:
    return CheckContext(ctx.contract, ctx.symbols, tuple(sessions), ctx.extended_hours, ctx.now,
                        ctx.bar_minutes)


def newest_bar_fresh(bars: BarsLike, ctx: CheckContext) -> CheckResult:
    """During the regular hours of a live session that is being checked, each symbol's newest
    bar ended at most ``max_age_minutes`` ago, and no bar starts in the future. Outside a
    live session (or without a clock) there is nothing to judge: the check is skipped and says
    why."""
    name = "newest_bar_fresh"
    prepared = prepare_bars(bars)
    if ctx.now is None:
        return skipped_result(name, ctx, "no clock given: not applicable (freshness needs a"
                                         " clock)",
                              note="no clock given: not applicable")
    day = session_date_of(ctx.now)
    window = window_of(day)
    if window is None or not window.open <= ctx.now < window.close:
        return skipped_result(name, ctx, f"checked at {ctx.now.isoformat()}, outside the regular"
                                         " hours of a live session: freshness is judged only"
                                         " while a session is live",
                              note="outside the regular hours of a live session")
    if ctx.sessions and day not in ctx.sessions:
        return skipped_result(name, ctx, f"the live session {day} is not being checked",
                              note=f"the live session {day} is not being checked")
    if prepared.problem is not None:
        return not_evaluated(name, ctx, prepared.problem, prepared.rows)
    return _freshness(prepared, ctx, name, day, window.open)


def _freshness(prepared: PreparedBars, ctx: CheckContext, name: str, day: date,
               open_: Any) -> CheckResult:
    frame = prepared.frame
    bar = ctx.bar_minutes or infer_bar_minutes(prepared)
    limit = float(ctx.contract.params(name)["max_age_minutes"])
    now_us = pd.Timestamp(ctx.now).value // 1000
    today = frame[(frame["_session"] == np.datetime64(day, "D")).to_numpy()]
    ts = today["ts"].to_numpy(dtype="datetime64[us]").astype(np.int64)
    future = np.flatnonzero((frame["_session"] == np.datetime64(day, "D")).to_numpy()
                            & (prepared.ts_us() > now_us))
    failures = row_failures(frame, future, [f"bar starts after now ({fmt_ts(now_us)})"]
                            * len(future))
    open_us = pd.Timestamp(open_).value // 1000
    for symbol in ctx.symbols or sorted(today["symbol"].dropna().unique()):
        mine = ts[(today["symbol"] == symbol).to_numpy() & (ts <= now_us)]
        newest = int(mine.max()) if len(mine) else None
        ended = newest + bar * US_PER_MINUTE if newest is not None else open_us
        age = (now_us - ended) / US_PER_MINUTE
        if age > limit:
            what = f"newest bar {fmt_ts(newest)}" if newest is not None else "no bar yet"
            failures.append(Failure(symbol, day, None if newest is None else pd.Timestamp(
                newest, unit="us", tz="UTC").to_pydatetime(),
                f"{what}: data is {age:.1f} min old (limit {limit:g} min)"))
    return make_result(name, ctx, len(today), failures,
                       offending=offending_frame(frame, future, ["bar starts after now"]
                                                 * len(future), False))
