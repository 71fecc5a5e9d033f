"""Replay recorded bars from CSV or Parquet: how users bring their own data.

Format (as ``../shared/data/market/``): ``symbol,ts,open,high,low,close,volume`` with ``ts`` an
ISO-8601 UTC instant (``Z`` or an explicit offset) marking the bar START. The whole file is
validated when first read; a bad file is refused with one message naming the file, symbol, ts
and field, and nothing of it is served.

A file may hold rows that no request serves: other symbols, bars before the open or after the
close, bars on a weekend or an exchange holiday. ``ReplaySource.skipped_rows`` counts and names
them for a range (``SkippedRows``), so ingestion can say what it did not take instead of
dropping it silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.domain.bars import BAR_COLUMNS, TS_DTYPE, BarValidationError, validate_bars
from intraday_jules.domain.calendar import NEW_YORK, is_session, session_window
from intraday_jules.market_data.source import BarRequest, MissingBarsError

_AWARE_TS = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def read_bars_file(path: str | Path) -> pd.DataFrame:
    """Read and validate a CSV or Parquet bars file into a bars frame (no ``source`` column)."""
    path = Path(path)
    origin = f"file {path}"
    if not path.is_file():
        raise FileNotFoundError(f"replay file {path} does not exist")
    if path.stat().st_size == 0:
        raise BarValidationError(origin, "the file is empty")
    if path.suffix.lower() in (".parquet", ".pq"):
        raw = pd.read_parquet(path)
        _check_layout(raw, origin)
    else:
        raw = _read_csv(path, origin)
        raw["ts"] = _parse_ts_strings(raw, origin)
    return validate_bars(raw[list(BAR_COLUMNS)], origin)


def _read_csv(path: Path, origin: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, dtype={"symbol": str, "ts": str}, keep_default_na=True,
                          skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise BarValidationError(origin, "the file is empty") from None
    except pd.errors.ParserError as exc:
        raise BarValidationError(origin, f"not a readable CSV: {exc}") from None
    _check_layout(raw, origin)
    return raw


def _check_layout(raw: pd.DataFrame, origin: str) -> None:
    columns = [str(c).strip() for c in raw.columns]
    if columns != list(BAR_COLUMNS):
        raise BarValidationError(
            origin, f"unknown column layout {columns}; expected header {','.join(BAR_COLUMNS)}")
    if raw.empty:
        raise BarValidationError(origin, "no bars (the file has a header but no rows)")


def _parse_ts_strings(raw: pd.DataFrame, origin: str) -> pd.Series:
    text = raw["ts"].astype("string").str.strip()
    missing = text.isna().to_numpy()
    naive = ~missing & ~text.str.contains(_AWARE_TS, regex=True).fillna(False).to_numpy()
    for bad, problem in ((missing, "missing timestamp"),
                         (naive, "naive timestamp (no Z or UTC offset); ts must be ISO UTC")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise BarValidationError(origin, problem, symbol=str(raw["symbol"].iloc[i]),
                                     ts=None if missing[i] else str(text.iloc[i]), field="ts",
                                     count=int(bad.sum()))
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BarValidationError(origin, "unparsable timestamp", symbol=str(raw["symbol"].iloc[i]),
                                 ts=str(text.iloc[i]), field="ts", count=int(bad.sum()))
    return parsed.astype(TS_DTYPE)


#: Why a row of a replay file was not ingested, in the order they are tested.
SKIP_REASONS = ("unknown_symbol", "symbol_not_requested", "weekend", "holiday", "before_open",
                "after_close")
#: Skipped rows named one by one in summaries (the counts are always complete).
SKIPPED_EXAMPLES = 20


@dataclass(frozen=True)
class SkippedRows:
    """Rows of a file, in a date range, that no request served: ``frame`` has ``symbol``,
    ``ts`` and ``reason`` (one of ``SKIP_REASONS``), one row per skipped bar.

    ``unknown_symbol``: a symbol neither requested nor configured (``AAPL``, ``nvda``, garbage);
    ``symbol_not_requested``: a configured symbol left out of this request; ``weekend`` and
    ``holiday``: a bar on a day the exchange is closed; ``before_open`` / ``after_close``: a
    bar outside the session's regular hours (or 04:00-20:00 ET with extended hours)."""

    frame: pd.DataFrame

    @classmethod
    def none(cls) -> SkippedRows:
        return cls(pd.DataFrame({"symbol": pd.Series([], dtype=object),
                                 "ts": pd.Series([], dtype=TS_DTYPE),
                                 "reason": pd.Series([], dtype=object)}))

    @classmethod
    def concat(cls, parts: Iterable[SkippedRows]) -> SkippedRows:
        frames = [p.frame for p in parts if not p.frame.empty]
        if not frames:
            return cls.none()
        frame = pd.concat(frames, ignore_index=True).drop_duplicates(["symbol", "ts", "reason"])
        return cls(frame.sort_values(["ts", "symbol"], kind="stable").reset_index(drop=True))

    @property
    def count(self) -> int:
        return len(self.frame)

    def by_reason(self) -> dict[str, int]:
        counts = self.frame["reason"].value_counts()
        return {r: int(counts[r]) for r in SKIP_REASONS if r in counts.index}

    def unknown_symbols(self) -> dict[str, int]:
        """Unknown symbol -> rows, in the order of first appearance."""
        rows = self.frame[self.frame["reason"] == "unknown_symbol"]
        return {str(k): int(v) for k, v in rows["symbol"].value_counts(sort=False).items()}

    def symbols_by_reason(self) -> dict[str, dict[str, int]]:
        """reason -> {symbol: rows}."""
        out: dict[str, dict[str, int]] = {}
        for (reason, symbol), n in self.frame.groupby(["reason", "symbol"], sort=False).size(
                ).items():
            out.setdefault(str(reason), {})[str(symbol)] = int(n)
        return {r: out[r] for r in SKIP_REASONS if r in out}

    def to_json(self, limit: int = SKIPPED_EXAMPLES) -> dict[str, Any]:
        """``{"rows", "by_reason", "symbols", "unknown_symbols", "examples": [{"symbol", "ts",
        "reason"}]}`` (``limit`` skipped rows in time order, rows of configured symbols that
        were merely not requested last)."""
        rank = (self.frame["reason"] == "symbol_not_requested").astype(int)
        first = self.frame.assign(_rank=rank.to_numpy()).sort_values(
            ["_rank", "ts"], kind="stable").head(limit)
        examples = [{"symbol": str(r.symbol),
                     "ts": pd.Timestamp(r.ts).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "reason": str(r.reason)} for r in first.itertuples()]
        return {"rows": self.count, "by_reason": self.by_reason(),
                "symbols": self.symbols_by_reason(), "unknown_symbols": self.unknown_symbols(),
                "examples": examples}

    def describe(self) -> str:
        """One line: '3 rows skipped: 2 unknown_symbol (AAPL: 2), 1 after_close (NVDA: 1)'."""
        parts = [f"{sum(s.values())} {reason} ("
                 + ", ".join(f"{sym}: {n}" for sym, n in s.items()) + ")"
                 for reason, s in self.symbols_by_reason().items()]
        return f"{self.count} row(s) not ingested: " + "; ".join(parts)


class ReplaySource:
    """Serves recorded bars from one file, one (symbol, session) window at a time."""

    name = "replay"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._bars: pd.DataFrame | None = None
        self._groups: dict[tuple[str, object], np.ndarray] = {}

    def __repr__(self) -> str:
        return f"ReplaySource(path={str(self.path)!r})"

    @property
    def bars(self) -> pd.DataFrame:
        """The whole validated file (read once)."""
        if self._bars is None:
            bars = read_bars_file(self.path)
            bars["source"] = self.name
            session = bars["ts"].dt.tz_convert(NEW_YORK).dt.date
            self._groups = {key: np.asarray(idx) for key, idx in
                            bars.groupby([bars["symbol"], session]).indices.items()}
            self._bars = bars
        return self._bars

    def symbols(self) -> list[str]:
        return sorted(self.bars["symbol"].unique())

    def sessions(self) -> list[object]:
        self.bars  # noqa: B018 - loads the index
        return sorted({session for _, session in self._groups})

    def fetch_session(self, request: BarRequest) -> pd.DataFrame:
        bars = self.bars
        rows = self._groups.get((request.symbol, request.session))
        window = session_window(request.session)
        if rows is not None:
            frame = bars.iloc[rows]
            start, end = ((window.extended_open, window.extended_close) if request.extended_hours
                          else (window.open, window.close))
            frame = frame[(frame["ts"] >= start) & (frame["ts"] < end)]
            if not frame.empty:
                return frame.reset_index(drop=True)
        raise MissingBarsError(self.name, request, f"no bars in {self.path.name} for this window")

    def skipped_rows(self, symbols: Iterable[str], first: date, last: date, *,
                     extended_hours: bool, configured: Iterable[str] = (),
                     include_not_requested: bool = True) -> SkippedRows:
        """Rows dated ``first``..``last`` (America/New_York) that requests for ``symbols`` in
        those sessions do not serve, with why (see ``SkippedRows``). A symbol in ``configured``
        but not in ``symbols`` is ``symbol_not_requested`` (left out unless
        ``include_not_requested``); any other unrequested symbol is ``unknown_symbol``."""
        bars = self.bars
        local = bars["ts"].dt.tz_convert(NEW_YORK)
        day = local.dt.date.to_numpy()
        in_span = (day >= first) & (day <= last)
        if not in_span.any():
            return SkippedRows.none()
        sub = bars.loc[in_span, ["symbol", "ts"]].reset_index(drop=True)
        days = day[in_span]
        wanted, known = set(symbols), set(configured)
        sym = sub["symbol"].to_numpy()
        reason = np.full(len(sub), None, dtype=object)
        requested = np.isin(sym, list(wanted))
        reason[~requested] = np.where(np.isin(sym[~requested], list(known)),
                                      "symbol_not_requested", "unknown_symbol")
        ts_us = sub["ts"].to_numpy(dtype="datetime64[us]").astype(np.int64)
        for d in np.unique(days[requested]):
            rows = requested & (days == d)
            if not is_session(d):
                reason[rows] = "weekend" if d.weekday() >= 5 else "holiday"
                continue
            window = session_window(d)
            lo, hi = ((window.extended_open, window.extended_close) if extended_hours
                      else (window.open, window.close))
            lo_us, hi_us = (int(pd.Timestamp(t).value // 1000) for t in (lo, hi))
            reason[rows & (ts_us < lo_us)] = "before_open"
            reason[rows & (ts_us >= hi_us)] = "after_close"
        keep = pd.notna(reason)
        if not include_not_requested:
            keep &= reason != "symbol_not_requested"
        frame = sub[keep].assign(reason=reason[keep].astype(object))
        return SkippedRows(frame.sort_values(["ts", "symbol"], kind="stable")
                           .reset_index(drop=True))

    def close(self) -> None:
        """Nothing to release (the file is read into memory once)."""
