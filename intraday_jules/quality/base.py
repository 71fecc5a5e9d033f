"""What every check shares: its context, the once-prepared frame, session windows, results.

Checks must work on frames that are *wrong* (that is their job), so nothing here assumes a
frame passed ``validate_bars``: columns may be missing, ``ts`` naive, prices NaN, rows
unsorted or duplicated. ``prepare_bars`` sorts once by (symbol, ts), remembers each row's
position in the caller's frame (``_pos``, for offending-row metadata and quarantine) and its
America/New_York session date (``_session``); ``run_quality_checks`` prepares once for all
checks, a check called on its own prepares for itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from intraday_jules.domain.calendar import NEW_YORK, SessionWindow, is_session, session_window
from intraday_jules.quality.contracts import CheckSpec, Contract
from intraday_jules.quality.results import CheckResult, Failure

US_PER_MINUTE = 60_000_000


@dataclass(frozen=True)
class PriceReference:
    """A symbol's last stored close before the checked bars (``price_scale_plausible``)."""

    session: date
    close: float


@dataclass(frozen=True)
class CheckContext:
    """What a check needs beyond the bars: the contract (severity, tolerances), the partition
    (symbols, sessions, regular or extended hours), a clock for staleness, the bar
    interval in minutes (None: inferred from the bars) and, per symbol, the last stored close
    before the checked sessions (``price_history``; None or a missing symbol: no history)."""

    contract: Contract
    symbols: tuple[str, ...] = ()
    sessions: tuple[date, ...] = ()
    extended_hours: bool = False
    now: datetime | None = None
    bar_minutes: int | None = None
    price_history: Mapping[str, PriceReference] | None = None

    def spec(self, name: str) -> CheckSpec:
        spec = self.contract.check(name)
        if spec is None:
            raise ValueError(f"contract {self.contract.name!r} ({self.contract.origin}) does not"
                             f" declare check {name!r}")
        return spec


@dataclass(frozen=True)
class PreparedBars:
    """A frame sorted by (symbol, ts) with ``_pos`` and ``_session`` columns added.

    ``problem`` says why time-based checks cannot run (no symbol/ts column, ts not a tz-aware
    datetime); it is None when they can. Rows with a missing ts sort last with a NaT session.
    """

    frame: pd.DataFrame
    problem: str | None

    @property
    def rows(self) -> int:
        return len(self.frame)

    def ts_us(self) -> np.ndarray[Any, Any]:
        """ts as int64 µs since the epoch (NaT as the minimum int64)."""
        values: np.ndarray[Any, Any] = self.frame["ts"].to_numpy(dtype="datetime64[us]")
        return values.astype(np.int64)


BarsLike: TypeAlias = pd.DataFrame | PreparedBars


def prepare_bars(bars: BarsLike) -> PreparedBars:
    """Sort once and annotate; see the module docstring. Never raises on bad data."""
    if isinstance(bars, PreparedBars):
        return bars
    frame = bars.reset_index(drop=True)
    frame = frame.assign(_pos=np.arange(len(frame), dtype=np.int64))
    problem = _time_problem(frame)
    if problem is not None:
        frame["_session"] = pd.Series(np.full(len(frame), np.datetime64("NaT"), "M8[D]"))
        return PreparedBars(frame, problem)
    frame["ts"] = frame["ts"].dt.tz_convert("UTC").dt.as_unit("us")
    frame = frame.sort_values(["symbol", "ts"], kind="stable", na_position="last")
    frame = frame.reset_index(drop=True)
    local = frame["ts"].dt.tz_convert(NEW_YORK).dt.tz_localize(None)
    frame["_session"] = local.to_numpy().astype("datetime64[D]")
    return PreparedBars(frame, None)


def _time_problem(frame: pd.DataFrame) -> str | None:
    missing = [c for c in ("symbol", "ts") if c not in frame.columns]
    if missing:
        return f"column(s) {missing} missing"
    if not isinstance(frame["ts"].dtype, pd.DatetimeTZDtype):
        return f"ts has dtype {frame['ts'].dtype}, not a tz-aware datetime"
    return None  # rows with a missing ts are the schema check's to report


@lru_cache(maxsize=8192)
def window_of(day: date) -> SessionWindow | None:
    """The XNYS window of ``day``, or None when the exchange is closed that day."""
    return session_window(day) if is_session(day) else None


def window_arrays(days: np.ndarray[Any, Any]) -> dict[str, np.ndarray[Any, Any]]:
    """Per-row window bounds (int64 µs since epoch; -1 where the day is not a session)."""
    unique, inverse = np.unique(days, return_inverse=True)
    table = np.full((len(unique), 4), -1, dtype=np.int64)
    for i, day in enumerate(unique):
        if np.isnat(day):
            continue
        w = window_of(pd.Timestamp(day).date())
        if w is not None:
            table[i] = [int(pd.Timestamp(t).value // 1000)
                        for t in (w.open, w.close, w.extended_open, w.extended_close)]
    cols = table[inverse]
    return {"open": cols[:, 0], "close": cols[:, 1], "ext_open": cols[:, 2],
            "ext_close": cols[:, 3]}


def in_hours_mask(prepared: PreparedBars, extended: bool) -> np.ndarray[Any, Any]:
    """Rows whose ts lies in their session's regular (or extended) window."""
    if prepared.problem is not None or prepared.rows == 0:
        return np.zeros(prepared.rows, dtype=bool)
    win = window_arrays(prepared.frame["_session"].to_numpy())
    ts = prepared.ts_us()
    lo, hi = (win["ext_open"], win["ext_close"]) if extended else (win["open"], win["close"])
    return (lo >= 0) & (ts >= lo) & (ts < hi)


def infer_bar_minutes(prepared: PreparedBars) -> int:
    """The most common gap (minutes) between consecutive bars of a symbol within a session."""
    if prepared.problem is not None or prepared.rows < 2:
        return 1
    frame = prepared.frame
    same = (frame["symbol"].to_numpy()[1:] == frame["symbol"].to_numpy()[:-1]) & (
        frame["_session"].to_numpy()[1:] == frame["_session"].to_numpy()[:-1])
    gaps = np.diff(prepared.ts_us())[same] // US_PER_MINUTE
    gaps = gaps[(gaps > 0) & (gaps <= 60)]
    return int(np.bincount(gaps).argmax()) if len(gaps) else 1


def session_date(value: Any) -> date | None:
    """A ``datetime64[D]`` (or NaT) as a ``date``."""
    if value is None or pd.isna(value):
        return None
    day: date = pd.Timestamp(value).date()
    return day


def row_failures(frame: pd.DataFrame, index: np.ndarray[Any, Any],
                 details: Sequence[str], limit: int = 1000) -> list[Failure]:
    """Failures for rows ``index`` (positions in the prepared ``frame``), at most ``limit``."""
    index = index[:limit]
    symbols = frame["symbol"].to_numpy()[index] if "symbol" in frame else [None] * len(index)
    sessions = frame["_session"].to_numpy()[index]
    ts_col = frame.get("ts")
    out = []
    for k, i in enumerate(index):
        ts = ts_col.iloc[i] if ts_col is not None else None
        ts = ts.to_pydatetime() if isinstance(ts, pd.Timestamp) and ts.tzinfo else None
        sym = symbols[k]
        out.append(Failure(None if pd.isna(sym) else str(sym), session_date(sessions[k]), ts,
                           details[k]))
    return out


def offending_frame(frame: pd.DataFrame, index: np.ndarray[Any, Any], details: Sequence[str],
                    quarantinable: bool | np.ndarray[Any, Any]) -> pd.DataFrame:
    """The ``offending`` table of a result: caller-frame position, reason, quarantinable."""
    return pd.DataFrame({
        "position": frame["_pos"].to_numpy()[index].astype(np.int64),
        "detail": pd.Series(list(details), dtype=object),
        "quarantinable": np.broadcast_to(np.asarray(quarantinable, dtype=bool), len(index)),
    })


def make_result(name: str, ctx: CheckContext, rows_checked: int, failures: list[Failure], *,
                failure_count: int | None = None, offending: pd.DataFrame | None = None,
                worst: Iterable[Failure] = (), note: str = "",
                stats: dict[str, Any] | None = None) -> CheckResult:
    """A result with the contract's severity; it passes exactly when nothing failed."""
    count = len(failures) if failure_count is None else failure_count
    extra: dict[str, Any] = {} if offending is None else {"offending": offending}
    return CheckResult(name=name, severity=ctx.spec(name).severity, passed=count == 0,
                       rows_checked=rows_checked, failures=failures, worst=list(worst),
                       failure_count=count, note=note, stats=stats or {}, **extra)


def not_evaluated(name: str, ctx: CheckContext, reason: str, rows: int = 0) -> CheckResult:
    """A check that could not run fails: a property nobody could verify does not hold."""
    return make_result(name, ctx, rows, [Failure(None, None, None, f"not evaluated: {reason}")])


#: The reason every row-level check gives on an empty frame.
NO_ROWS = "0 rows to check"


def skipped_result(name: str, ctx: CheckContext, reason: str, rows: int = 0, *,
                   note: str = "", stats: dict[str, Any] | None = None) -> CheckResult:
    """A check that had nothing to judge (0 rows, too few sessions, no second source): it
    neither passes nor fails, it is ``skipped`` with ``reason``, and never blocks. Unlike
    ``not_evaluated`` (broken input: the check fails), nothing here is wrong with the data."""
    return CheckResult(name=name, severity=ctx.spec(name).severity, passed=True,
                       rows_checked=rows, note=note, stats=stats or {}, skipped_reason=reason)


def numeric_column(frame: pd.DataFrame, column: str) -> np.ndarray[Any, Any]:
    """``column`` as float64, anything non-numeric as NaN (the checks judge, never raise)."""
    values: np.ndarray[Any, Any] = pd.to_numeric(frame[column], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan)
    return values


def group_starts(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    """True where a row starts a new (symbol, session) run of a frame sorted by symbol, ts
    (with its ``_session`` column)."""
    sym, day = frame["symbol"].to_numpy(), frame["_session"].to_numpy()
    starts = np.ones(len(frame), dtype=bool)
    starts[1:] = (sym[1:] != sym[:-1]) | (day[1:] != day[:-1])
    return starts


def fmt_ts(value_us: int) -> str:
    """µs since epoch -> '2025-01-02T14:30Z' (details read better without seconds)."""
    return str(pd.Timestamp(value_us, unit="us", tz="UTC").strftime("%Y-%m-%dT%H:%MZ"))
