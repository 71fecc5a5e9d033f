"""A live session's model inputs, computed once per new bar: ``SessionFeatureStream``.

``LivePolicy`` is handed the session's bars so far on every bar. Rebuilding features,
normalisation and ``MarketArrays`` from all of them costs tens of milliseconds; the stream
instead keeps, per symbol, the bars it has consumed and the running state of every feature
(``features.SegmentFeatures``, the streaming form of the one formula), and on each call
computes feature rows for the new bars only. It then does what ``MarketArrays.from_frames``
does to the full build, row by row: keeps the timestamps every symbol has (inside regular
hours), marks a row warm-up when any symbol is, and normalises (``ModelInputs``: each symbol's
``Normalizer``, float32, NaN as 0; the trading loop's rows go through the same). The rows it
returns are those of the full rebuild, bit for bit (tested over whole sessions).

Input is expected to grow by appending: each call's bars are the previous call's plus newer
bars. A call whose bars do not start with exactly the bars already consumed (a corrected or
late bar, another session) resets the stream, which then replays every bar given: the
restart path, O(session) once. Bars of several sessions are refused with ``NotStreamable``
(the caller rebuilds in full, as before). New bars are validated as ``validate_bars`` would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from intraday_jules.agent.live_input import SymbolBars, check_new_bars, read_symbols
from intraday_jules.env import MarketArrays
from intraday_jules.env.data import MarketArraysError
from intraday_jules.features import FeatureInputError, FeatureSpec, SegmentFeatures
from intraday_jules.features.normalize import Normalizer
from intraday_jules.features.sessions import new_york_day, session_bounds

_EPOCH = date(1970, 1, 1)


class NotStreamable(ValueError):
    """Bars the stream does not follow (in-hours bars of more than one session)."""


@dataclass(frozen=True, eq=False)
class LiveRows:
    """Aligned rows of one session, as in ``MarketArrays`` (one row per timestamp every
    symbol has, regular hours): ``features`` float32 [k, n, F] normalised, ``close`` float64
    [k, n], ``ts`` datetime64[us] [k] (UTC, naive), ``index`` the row's number in the
    session's aligned rows, ``warmup``; ``last_ts`` the session's latest aligned row so far."""

    session: date
    ts: np.ndarray
    features: np.ndarray
    close: np.ndarray
    index: np.ndarray
    warmup: np.ndarray
    last_ts: np.datetime64 | None

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def of_arrays(cls, arrays: MarketArrays) -> LiveRows:
        """Every row of a one-session ``MarketArrays`` (the full rebuild)."""
        return cls(arrays.session_dates[0], arrays.ts, arrays.features, arrays.close,
                   np.arange(arrays.n_bars, dtype=np.int64), arrays.warmup,
                   arrays.ts[-1] if arrays.n_bars else None)


class ModelInputs:
    """Raw feature rows -> the model's inputs, exactly as ``Normalizer.apply`` followed by
    ``MarketArrays.from_frames``: per symbol (center, scale, clip), a non-finite value outside
    warm-up refused naming feature, symbol and bar, then float32 with NaN as 0."""

    def __init__(self, spec: FeatureSpec, symbols: Sequence[str],
                 normalizers: Mapping[str, Normalizer]) -> None:
        self.spec, self.symbols = spec, tuple(symbols)
        self._center = np.array([normalizers[s].center for s in self.symbols])
        self._scale = np.array([normalizers[s].scale for s in self.symbols])
        self._clip = np.array([normalizers[s].clip for s in self.symbols])[:, None]

    def apply(self, raw: np.ndarray, warmup: np.ndarray, stamps: Sequence[int]) -> np.ndarray:
        """float32 [k, n, F] from float64 ``raw`` [k, n, F]; ``warmup`` [k] bool; ``stamps``
        the rows' bar starts (epoch us), for the error."""
        z = np.clip((raw - self._center) / self._scale, -self._clip, self._clip)
        bad = ~np.isfinite(z) & ~warmup[:, None, None]
        if bad.any():
            row, symbol, col = (int(i[0]) for i in np.nonzero(bad))
            when = pd.Timestamp(stamps[row], unit="us", tz="UTC").isoformat()
            raise MarketArraysError(f"feature {self.spec.names[col]} is not finite for "
                                    f"{self.symbols[symbol]} at {when} outside warm-up")
        out: np.ndarray = np.nan_to_num(z.astype(np.float32))
        return out


@dataclass
class _Track:
    """One symbol: the bars consumed (sorted), its feature state, and the feature rows not yet
    aligned (ts -> raw row, close, position in the session), until every symbol has the ts."""

    seen: SymbolBars = field(default_factory=SymbolBars.empty)
    segment: SegmentFeatures | None = None
    pending: dict[int, tuple[np.ndarray, float, int]] = field(default_factory=dict)


class SessionFeatureStream:
    """Normalised, aligned feature rows of a growing session (see the module docstring).

    ``rows_computed`` counts feature rows computed (one per symbol and bar inside the spec's
    hours) since construction: the work done, which per new bar does not grow with the
    session.
    """

    def __init__(self, spec: FeatureSpec, symbols: Sequence[str],
                 normalizers: Mapping[str, Normalizer], *,
                 origin: str = "live session bars") -> None:
        self.spec, self.symbols, self.origin = spec, tuple(symbols), origin
        self.inputs = ModelInputs(spec, symbols, normalizers)
        self.rows_computed = 0
        self.reset()

    @property
    def aligned_rows(self) -> int:
        """Aligned rows of the session so far."""
        return self._rows

    def reset(self) -> None:
        """Forget the session: the next call replays every bar it is given."""
        self.session: date | None = None
        self._hours = (0, 0)  # the session's regular open and close, epoch us
        self._extended = (0, 0)  # its extended-hours open and close, epoch us
        self._tracks = [_Track() for _ in self.symbols]
        self._rows, self._last_ts = 0, None

    def update(self, bars: pd.DataFrame) -> LiveRows | None:
        """The aligned rows the new bars of ``bars`` (the session so far) complete; None while
        some symbol has no bar at all. Raises ``BarValidationError`` for a bad new bar,
        ``FeatureInputError`` when no bar is inside the spec's hours, ``NotStreamable``."""
        given = read_symbols(bars, self.symbols, self.origin)
        if given is None:
            return None
        if not all(g.starts_with(t.seen) for g, t in zip(given, self._tracks, strict=True)):
            self.reset()
        new = [g.after(len(t.seen)) for g, t in zip(given, self._tracks, strict=True)]
        return self._consume(new, given)

    def extend(self, new: Sequence[SymbolBars]) -> LiveRows | None:
        """As ``update`` on the bars consumed so far followed by ``new`` (per symbol, in
        ``symbols`` order, each sorted and newer than the symbol's bars consumed), without a
        frame: what a caller that receives bars one at a time hands over. None while some
        symbol has no bar at all; the same refusals as ``update``, raised before anything
        is consumed (a ``FeatureInputError`` for no bar inside the hours excepted: the bars
        are then consumed, as by ``update``)."""
        tracks = self._tracks
        given = [t.seen.extended(b) for t, b in zip(tracks, new, strict=True)]
        if not all(len(g) for g in given):
            for symbol, track, bars_new in zip(self.symbols, tracks, new, strict=True):
                check_new_bars(bars_new, track.seen, symbol, self.origin)
            for track, symbol_bars in zip(tracks, given, strict=True):
                track.seen = symbol_bars  # update would replay them all with the first row
            return None
        if any(len(g) == len(b) for g, b in zip(given, new, strict=True)):
            # a symbol's first bars: update would replay every symbol's bars from the start
            return self._consume(given, given, fresh=True)
        return self._consume(list(new), given)

    def _consume(self, new: Sequence[SymbolBars], given: Sequence[SymbolBars], *,
                 fresh: bool = False) -> LiveRows:
        """Check and compute ``new`` (each symbol's bars after those consumed: all of
        ``given`` when ``fresh``), then align."""
        for symbol, track, bars_new in zip(self.symbols, self._tracks, new, strict=True):
            check_new_bars(bars_new, SymbolBars.empty() if fresh else track.seen, symbol,
                           self.origin)
        inside, day = self._inside_hours(new)  # the stream has no session yet when fresh
        if fresh:
            self.reset()
        if self.session is None and day is not None:
            self._open_session(day)
        for track, symbol_bars in zip(self._tracks, given, strict=True):
            track.seen = symbol_bars
        for track, bars_new, keep in zip(self._tracks, new, inside, strict=True):
            self._compute(track, bars_new, keep)
        if self.session is None:
            raise FeatureInputError(self.origin, f"no bars inside {self.spec.hours} session "
                                                 "hours")
        return self._align()

    def _inside_hours(self, new: Sequence[SymbolBars]) -> tuple[list[np.ndarray], int | None]:
        """Per symbol, which new bars are inside the spec's hours; their session (day number).
        In-hours bars of another session than the stream's are ``NotStreamable``."""
        known = self._known_session(new)
        if known is not None:
            return known
        inside: list[np.ndarray] = []
        days: set[int] = set()
        for bars_new in new:
            if not len(bars_new):
                inside.append(np.zeros(0, dtype=bool))
                continue
            day = new_york_day(bars_new.ts)
            bounds = session_bounds(day)
            lo, hi = (bounds[0], bounds[1]) if self.spec.hours == "regular" else (
                bounds[2], bounds[3])
            keep = (bars_new.ts >= lo) & (bars_new.ts < hi)
            inside.append(keep)
            days.update(int(d) for d in np.unique(day[keep]))
        if self.session is not None:
            days.add((self.session - _EPOCH).days)
        if len(days) > 1:
            raise NotStreamable(f"{self.origin}: bars of sessions "
                                f"{sorted(str(_EPOCH + timedelta(days=d)) for d in days)}")
        return inside, next(iter(days), None)

    def _known_session(self, new: Sequence[SymbolBars]
                       ) -> tuple[list[np.ndarray], int | None] | None:
        """``_inside_hours`` without the time-zone lookup when every new bar lies within the
        stream's session's extended hours (so its New York date is the session's); None
        otherwise (the general path decides)."""
        if self.session is None:
            return None
        ext_open, ext_close = self._extended
        if not all(not len(b) or (ext_open <= int(b.ts[0]) and int(b.ts[-1]) < ext_close)
                   for b in new):
            return None
        lo, hi = self._hours if self.spec.hours == "regular" else self._extended
        inside = [(b.ts >= lo) & (b.ts < hi) for b in new]
        return inside, (self.session - _EPOCH).days

    def _open_session(self, day: int) -> None:
        self.session = _EPOCH + timedelta(days=day)
        bounds = session_bounds(np.array([day], dtype=np.int64))[:, 0]
        self._hours = (int(bounds[0]), int(bounds[1]))
        self._extended = (int(bounds[2]), int(bounds[3]))

    def _compute(self, track: _Track, bars_new: SymbolBars, keep: np.ndarray) -> None:
        """Feature rows of a symbol's new in-hours bars, held until every symbol has them."""
        if not keep.any():
            return
        if track.segment is None:
            track.segment = SegmentFeatures(self.spec, *self._hours)
        segment = track.segment
        for i in np.flatnonzero(keep):
            o, h, low, c, v = (float(x) for x in bars_new.values[:, i])
            pos = segment.bars
            track.pending[int(bars_new.ts[i])] = (
                segment.step(int(bars_new.ts[i]), o, h, low, c, v), c, pos)
            self.rows_computed += 1

    def _align(self) -> LiveRows:
        """Rows for the timestamps every symbol now has (in regular hours), normalised.
        Rows older than the newest of them can no longer align: they are dropped."""
        pendings = [t.pending for t in self._tracks]
        common = sorted(set(pendings[0]).intersection(*pendings[1:]))
        stamps = [t for t in common if self._hours[0] <= t < self._hours[1]]
        entries = [[pending[t] for pending in pendings] for t in stamps]
        for pending in pendings if common else ():
            for ts in [t for t in pending if t <= common[-1]]:
                del pending[ts]
        return self._rows_of(stamps, entries)

    def _rows_of(self, stamps: list[int], entries: list[list[tuple[np.ndarray, float, int]]]
                 ) -> LiveRows:
        """``MarketArrays``' view of aligned rows (normalised by ``ModelInputs``)."""
        k, n, width = len(stamps), len(self.symbols), len(self.spec.features)
        raw = np.array([[e[0] for e in row] for row in entries]).reshape(k, n, width)
        close = np.array([[e[1] for e in row] for row in entries],
                         dtype=np.float64).reshape(k, n)
        warm = np.array([any(e[2] < self.spec.lookback for e in row) for row in entries],
                        dtype=bool)
        features = self.inputs.apply(raw, warm, stamps)
        index = np.arange(self._rows, self._rows + k, dtype=np.int64)
        self._rows += k
        ts = np.array(stamps, dtype=np.int64).view("datetime64[us]")
        if k:
            self._last_ts = ts[-1]
        assert self.session is not None
        return LiveRows(self.session, ts, features, close, index, warm, self._last_ts)
