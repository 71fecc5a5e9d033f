"""Replay recorded bars from CSV or Parquet: how users bring their own data.

Format (as ``../shared/data/market/``): ``symbol,ts,open,high,low,close,volume`` with ``ts`` an
ISO-8601 UTC instant (``Z`` or an explicit offset) marking the bar START. The whole file is
validated when first read; a bad file is refused with one message naming the file, symbol, ts
and field, and nothing of it is served.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from intraday_jules.domain.bars import BAR_COLUMNS, TS_DTYPE, BarValidationError, validate_bars
from intraday_jules.domain.calendar import NEW_YORK, session_window
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

    def close(self) -> None:
        """Nothing to release (the file is read into memory once)."""
