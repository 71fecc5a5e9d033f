"""``MarketArrays``: everything an env reads, precomputed once as NumPy arrays.

Building it is the only place pandas is used; an env's ``step`` only indexes these arrays. Bar t
holds bar t's own prices: ``open[t]``, ``close[t]``. A decision on bar t sees ``features[t]`` and
``close[t]`` and fills at ``open[t + 1]`` (see ``execution_model``). Row t+1 always exists for a
decision bar: the schedule ends each session ``flatten_bars`` bars before its last bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import reduce

import numpy as np
import pandas as pd

from intraday_jules.domain.bars import validate_bars
from intraday_jules.domain.calendar import NEW_YORK, is_session, session_window
from intraday_jules.env.schedule import (
    check_interval,
    decision_mask,
    flatten_bar_us,
    session_open_us,
)

DEFAULT_LOOKBACK = 50
DEFAULT_FLATTEN_BARS = 5
WARMUP_COLUMN = "warmup"


class MarketArraysError(ValueError):
    """Bars and features cannot be turned into env arrays; the message says which and where."""


class WindowTooShortError(MarketArraysError):
    """No session in the window has a bar left to decide on after the warm-up (lookback)."""


@dataclass(frozen=True, slots=True, eq=False)
class DecisionSchedule:
    """The bars an agent decides on, in order: ``bars[k]`` is the bar index of decision step k;
    ``flatten[k]`` marks a session's last decision bar, where the book is closed instead."""

    bars: np.ndarray
    flatten: np.ndarray

    def __len__(self) -> int:
        return int(self.bars.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class MarketArrays:
    """Aligned arrays for ``n`` symbols over ``T`` bars (one shared timestamp axis).

    features: float32 [T, n, F], already normalised, in ``feature_names`` order; warm-up rows
        may hold anything finite (NaN from the feature code is replaced by 0).
    open, close: float64 [T, n], bar t's own open and close.
    ts: datetime64[us] [T], bar starts in UTC (naive: numpy has no time zone).
    session: int32 [T], index into ``session_dates`` (America/New_York trading date).
    warmup: bool [T], True where any symbol's features are still warming up.
    """

    symbols: tuple[str, ...]
    feature_names: tuple[str, ...]
    features: np.ndarray
    open: np.ndarray
    close: np.ndarray
    ts: np.ndarray
    session: np.ndarray
    session_dates: tuple[date, ...]
    warmup: np.ndarray

    def __post_init__(self) -> None:
        n_bars, n_assets = len(self.ts), len(self.symbols)
        shape = (n_bars, n_assets)
        problems = [
            (self.features.shape != (*shape, len(self.feature_names)), "features"),
            (self.open.shape != shape or self.close.shape != shape, "open/close"),
            (self.session.shape != (n_bars,) or self.warmup.shape != (n_bars,), "session/warmup"),
        ]
        for bad, what in problems:
            if bad:
                raise MarketArraysError(f"MarketArrays: {what} shape does not match "
                                        f"{n_bars} bars x {n_assets} symbols")
        if n_bars and np.any(np.diff(self.session) < 0):
            raise MarketArraysError("MarketArrays: session ids must be non-decreasing in time")
        if not (np.all(np.isfinite(self.open)) and np.all(self.open > 0)
                and np.all(np.isfinite(self.close)) and np.all(self.close > 0)):
            raise MarketArraysError("MarketArrays: open/close prices must be finite and > 0")

    @property
    def n_bars(self) -> int:
        return int(self.ts.shape[0])

    @property
    def n_assets(self) -> int:
        return len(self.symbols)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def timestamps(self) -> pd.DatetimeIndex:
        """Bar starts as tz-aware UTC (for reports; the env itself never needs them)."""
        return pd.DatetimeIndex(self.ts).tz_localize("UTC")

    def select(self, symbols: Sequence[str]) -> MarketArrays:
        """The same bars for a subset/reordering of symbols (one build serves both envs)."""
        missing = [s for s in symbols if s not in self.symbols]
        if missing:
            raise MarketArraysError(f"MarketArrays: symbols {missing} not in {self.symbols}")
        cols = [self.symbols.index(s) for s in symbols]
        return replace(self, symbols=tuple(symbols), features=self.features[:, cols],
                       open=self.open[:, cols], close=self.close[:, cols])

    def between(self, first: date, last: date) -> MarketArrays:
        """Whole sessions with first <= date <= last (walk-forward windows are cut this way)."""
        keep = [i for i, d in enumerate(self.session_dates) if first <= d <= last]
        if not keep:
            raise MarketArraysError(f"MarketArrays: no session between {first} and {last}")
        rows = (self.session >= keep[0]) & (self.session <= keep[-1])
        return replace(self, features=self.features[rows], open=self.open[rows],
                       close=self.close[rows], ts=self.ts[rows],
                       session=(self.session[rows] - keep[0]).astype(np.int32),
                       session_dates=self.session_dates[keep[0]:keep[-1] + 1],
                       warmup=self.warmup[rows])

    def select_sessions(self, dates: Sequence[date]) -> MarketArrays:
        """Only the bars of the sessions in ``dates`` (any order; kept in time order), with
        session ids renumbered: a non-contiguous set, e.g. a CPCV split's training sessions.
        Sessions stay whole and apart (each session's decisions end with its own flatten),
        so no decision or reward spans two of them. A date without bars is an error."""
        wanted = set(dates)
        missing = sorted(wanted - set(self.session_dates))
        if missing:
            listed = ", ".join(d.isoformat() for d in missing[:10])
            raise MarketArraysError(f"MarketArrays: {len(missing)} requested session(s) have "
                                    f"no bars: {listed}")
        keep = [i for i, d in enumerate(self.session_dates) if d in wanted]
        if not keep:
            raise MarketArraysError("MarketArrays: no session selected")
        rows = np.isin(self.session, keep)
        renumber = np.full(len(self.session_dates), -1, dtype=np.int32)
        renumber[keep] = np.arange(len(keep), dtype=np.int32)
        return replace(self, features=self.features[rows], open=self.open[rows],
                       close=self.close[rows], ts=self.ts[rows],
                       session=renumber[self.session[rows]],
                       session_dates=tuple(self.session_dates[i] for i in keep),
                       warmup=self.warmup[rows])

    def session_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(first row, one past last row) of every session that has bars, in order."""
        change = np.flatnonzero(np.diff(self.session)) + 1
        starts = np.concatenate([[0], change]).astype(np.int64)
        stops = np.concatenate([change, [self.n_bars]]).astype(np.int64)
        return starts, stops

    def decision_schedule(self, lookback: int = DEFAULT_LOOKBACK,
                          flatten_bars: int = DEFAULT_FLATTEN_BARS,
                          interval: int = 1) -> DecisionSchedule:
        """Decision bars: per session, the rows ``env.schedule`` decides on (past the
        ``lookback`` and any warm-up rows, up to the forced-flatten bar), the flatten bar
        being at most ``flatten_bars + 1`` bars before the session's last bar (its decision
        fills at the open of the ``flatten_bars``-th last bar, so no position is ever held
        into the close). With ``interval`` k > 1 minutes only bars k, 2k... minutes after the
        session's open are kept, and the session's last decision bar (the flatten) always.
        With k = 1 they are contiguous within a session (warm-up rows are a prefix)."""
        if lookback < 0 or flatten_bars < 1:
            raise ValueError(f"need lookback >= 0 and flatten_bars >= 1, got {lookback}, "
                             f"{flatten_bars}")
        check_interval(interval)
        bars, flatten = [], []
        for i, (start, stop) in enumerate(zip(*self.session_bounds(), strict=True)):
            chosen = self._session_decisions(i, int(start), int(stop), lookback, flatten_bars,
                                             interval)
            if not chosen.size:
                continue
            bars.append(start + chosen)
            flatten.append(chosen == chosen[-1])
        if not bars:
            raise WindowTooShortError(self._too_short_message(lookback, flatten_bars))
        return DecisionSchedule(np.concatenate(bars), np.concatenate(flatten))

    def _session_decisions(self, session: int, start: int, stop: int, lookback: int,
                           flatten_bars: int, interval: int) -> np.ndarray:
        """Rows (from the session's first) of one session's decision bars, flatten last."""
        rows = np.arange(stop - start, dtype=np.int64)
        ts_us = self.ts[start:stop].astype("datetime64[us]").view(np.int64)
        flatten_us = self._flatten_us(session, ts_us, flatten_bars)
        chosen = np.flatnonzero(decision_mask(rows, self.warmup[start:stop], ts_us, lookback,
                                              flatten_us))
        if interval == 1 or not chosen.size:
            return chosen
        day = self.session_dates[session]
        open_us = session_open_us(day) if is_session(day) else int(ts_us[0])
        keep = decision_mask(chosen, np.zeros(chosen.size, dtype=bool), ts_us[chosen], 0,
                             flatten_us, interval, open_us)
        keep[-1] = True  # the flatten, also where the data ends early or its bar is missing
        kept: np.ndarray = chosen[keep]
        return kept

    def _flatten_us(self, session: int, ts_us: np.ndarray, flatten_bars: int) -> int:
        """The session's flatten bar (``env.schedule``), never later than ``flatten_bars + 1``
        rows before its last row: a session whose data ends early still has the rows its
        flatten fills on (in full sessions both are the same bar)."""
        positional = int(ts_us[-1 - flatten_bars]) if len(ts_us) > flatten_bars else -1
        day = self.session_dates[session]
        if not is_session(day):
            return positional
        return min(positional, flatten_bar_us(day, flatten_bars))

    def _too_short_message(self, lookback: int, flatten_bars: int) -> str:
        if self.n_bars == 0:
            return "MarketArrays: the window has no bars"
        starts, stops = self.session_bounds()
        longest = int((stops - starts).max())
        return (f"window {self.session_dates[0]}..{self.session_dates[-1]} ({self.symbols}) is "
                f"shorter than the lookback: its longest session has {longest} bars, but a "
                f"decision needs more than lookback {lookback} warm-up bars + {flatten_bars} "
                "flatten bars + 1 (and any feature warm-up rows)")

    @classmethod
    def from_frames(cls, bars: pd.DataFrame, features: pd.DataFrame, symbols: Sequence[str],
                    feature_names: Sequence[str], *, regular_hours_only: bool = True,
                    lookback: int | None = DEFAULT_LOOKBACK) -> MarketArrays:
        """Align a bars frame and a feature frame (indexed by (symbol, ts), ``feature_names``
        columns plus an optional boolean ``warmup``) on the timestamps every symbol has.

        Only timestamps present for all symbols in both frames are kept (an inner join), and
        with ``regular_hours_only`` only bars inside an XNYS regular session, so sessions and
        their closes (half days included) come from the exchange calendar. Raises
        ``MarketArraysError`` for a missing symbol/column or a non-finite feature outside
        warm-up, and ``WindowTooShortError`` when no session outlasts ``lookback``.
        """
        bars = validate_bars(bars, origin="MarketArrays.from_frames bars")
        feats = _feature_frame(features, list(feature_names))
        tables = [_symbol_table(bars, feats, s, list(feature_names)) for s in symbols]
        common = pd.DatetimeIndex(reduce(lambda a, b: a.intersection(b),
                                         (t.index for t in tables)))
        if regular_hours_only:
            common = _regular_hours(common)
        tables = [t.loc[common] for t in tables]
        _check_finite(tables, symbols, list(feature_names))
        local_days = common.tz_convert(NEW_YORK).date
        codes, uniques = pd.factorize(local_days, sort=True)
        arrays = cls(
            symbols=tuple(symbols), feature_names=tuple(feature_names),
            features=np.stack([np.nan_to_num(t[list(feature_names)].to_numpy(np.float32))
                               for t in tables], axis=1),
            open=np.stack([t["open"].to_numpy(np.float64) for t in tables], axis=1),
            close=np.stack([t["close"].to_numpy(np.float64) for t in tables], axis=1),
            ts=common.tz_convert(None).to_numpy().astype("datetime64[us]"),
            session=codes.astype(np.int32), session_dates=tuple(uniques),
            warmup=np.logical_or.reduce([t[WARMUP_COLUMN].to_numpy(bool) for t in tables]),
        )
        if lookback is not None:
            arrays.decision_schedule(lookback)
        return arrays


def _feature_frame(features: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The feature frame indexed by (symbol, ts as UTC microseconds), with a warmup column."""
    frame = features
    if not isinstance(frame.index, pd.MultiIndex) and {"symbol", "ts"} <= set(frame.columns):
        frame = frame.set_index(["symbol", "ts"])
    if list(frame.index.names) != ["symbol", "ts"]:
        raise MarketArraysError("features must be indexed by (symbol, ts), got index names "
                                f"{list(frame.index.names)}")
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise MarketArraysError(f"features frame lacks columns {missing}")
    keep = [*names, WARMUP_COLUMN] if WARMUP_COLUMN in frame.columns else names
    frame = frame[keep].copy()
    if WARMUP_COLUMN not in frame.columns:
        frame[WARMUP_COLUMN] = False
    ts = pd.DatetimeIndex(frame.index.get_level_values("ts"))
    if ts.tz is None:
        raise MarketArraysError("features ts must be tz-aware UTC, got naive timestamps")
    frame.index = pd.MultiIndex.from_arrays(
        [frame.index.get_level_values("symbol"), ts.tz_convert("UTC").as_unit("us")],
        names=["symbol", "ts"])
    return frame


def _symbol_table(bars: pd.DataFrame, feats: pd.DataFrame, symbol: str,
                  names: list[str]) -> pd.DataFrame:
    """One symbol's open, close, features and warmup, indexed by ts (inner join)."""
    prices = bars.loc[bars["symbol"] == symbol, ["ts", "open", "close"]].set_index("ts")
    if prices.empty:
        raise MarketArraysError(f"bars have no rows for symbol {symbol}")
    if symbol not in feats.index.get_level_values("symbol"):
        raise MarketArraysError(f"features have no rows for symbol {symbol}")
    table = prices.join(feats.xs(symbol, level="symbol"), how="inner")
    if table.index.has_duplicates:
        raise MarketArraysError(f"features have duplicate (symbol, ts) rows for {symbol}")
    return table.sort_index()


def _regular_hours(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Keep timestamps inside their XNYS session's regular hours (half days end at 13:00 ET)."""
    codes, days = pd.factorize(index.tz_convert(NEW_YORK).date)
    bounds = np.zeros((len(days), 2), dtype=np.int64)  # non-sessions keep [0, 0): nothing
    for i, day in enumerate(days):
        if is_session(day):
            window = session_window(day)
            bounds[i] = [pd.Timestamp(window.open).value, pd.Timestamp(window.close).value]
    ns = index.as_unit("ns").asi8
    keep = (ns >= bounds[codes, 0]) & (ns < bounds[codes, 1])
    return pd.DatetimeIndex(index[keep])


def _check_finite(tables: list[pd.DataFrame], symbols: Sequence[str], names: list[str]) -> None:
    """A non-finite feature outside warm-up would reach the policy: refuse it, saying where."""
    for symbol, table in zip(symbols, tables, strict=True):
        values = table[names].to_numpy(np.float64)
        bad = ~np.isfinite(values) & ~table[WARMUP_COLUMN].to_numpy(bool)[:, None]
        if bad.any():
            row, col = (int(i[0]) for i in np.nonzero(bad))
            raise MarketArraysError(f"feature {names[col]} is not finite for {symbol} at "
                                    f"{table.index[row].isoformat()} outside warm-up "
                                    f"({int(bad.sum())} such values)")
