"""From the session's bars to a policy ``Observation``, with the one feature implementation.

Features come from ``build_features`` over the session's bars so far, the same call training
and evaluation make over months: every feature is causal and per (symbol, session), so the
row of minute t is identical (bit for bit) whether computed live or in a backtest, and whether
computed once over the stored bars (restart warm-up) or minute by minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from intraday_jules.domain.bars import TS_DTYPE, Bar
from intraday_jules.domain.portfolio import Book
from intraday_jules.features import build_features
from intraday_jules.features.spec import FeatureSpec
from intraday_jules.trading.config import SessionConfig
from intraday_jules.trading.intake import Minute
from intraday_jules.trading.policies import Observation

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class SessionBars:
    """The session's accepted bars as columns (cheap to append, cheap to turn into a frame)."""

    symbol: list[str] = field(default_factory=list)
    ts_us: list[int] = field(default_factory=list)
    open: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    close: list[float] = field(default_factory=list)
    volume: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ts_us)

    def extend(self, bars: Iterable[Bar]) -> None:
        for bar in bars:
            self.symbol.append(bar.symbol)
            self.ts_us.append(_micros(bar.ts))
            self.open.append(bar.open)
            self.high.append(bar.high)
            self.low.append(bar.low)
            self.close.append(bar.close)
            self.volume.append(bar.volume)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "symbol": pd.Series(self.symbol, dtype=object),
            "ts": pd.Series(np.asarray(self.ts_us, dtype="datetime64[us]")).dt.tz_localize(
                "UTC").astype(TS_DTYPE),
            "open": np.asarray(self.open, dtype=np.float64),
            "high": np.asarray(self.high, dtype=np.float64),
            "low": np.asarray(self.low, dtype=np.float64),
            "close": np.asarray(self.close, dtype=np.float64),
            "volume": np.asarray(self.volume, dtype=np.int64),
        })


def _micros(ts: datetime) -> int:
    delta = ts - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True, slots=True)
class FeatureRows:
    """The feature table of the session so far, with fast lookups of one minute's rows."""

    names: tuple[str, ...]
    values: np.ndarray  # [rows, n_features] float64, in the table's (symbol, ts) order
    warmup: np.ndarray  # [rows] bool
    symbols: np.ndarray  # [rows] symbol of each row
    stamps: np.ndarray  # [rows] int64 bar start in microseconds

    @classmethod
    def build(cls, bars: SessionBars, spec: FeatureSpec, origin: str) -> FeatureRows:
        table = build_features(bars.frame(), spec, origin=origin)
        return cls(spec.names, table[list(spec.names)].to_numpy(np.float64),
                   table["warmup"].to_numpy(bool),
                   table.index.get_level_values("symbol").to_numpy(object),
                   table.index.get_level_values("ts").as_unit("us").asi8)

    def at(self, ts: datetime, symbols: Sequence[str]) -> tuple[np.ndarray, bool]:
        """([n_symbols, n_features] float64, every symbol past warm-up) at minute ``ts``."""
        found = np.flatnonzero(self.stamps == _micros(ts))
        by_symbol = {self.symbols[i]: int(i) for i in found}
        missing = [s for s in symbols if s not in by_symbol]
        if missing:
            raise KeyError(f"no feature row for {missing} at {ts.isoformat()}")
        rows = [by_symbol[s] for s in symbols]
        return self.values[rows], not bool(self.warmup[rows].any())


def observation(config: SessionConfig, minute: Minute, features: np.ndarray, book: Book,
                step: int, max_position: float, bars: SessionBars, *,
                replaying: bool = False) -> Observation:
    """The policy's view of ``minute``: features, closes and positions before its orders."""
    closes = tuple(bar.close for bar in minute.bars)
    shares = tuple(book.quantity(s) for s in config.symbols)
    fractions = tuple(q * c / max_position for q, c in zip(shares, closes, strict=True))
    return Observation(config.session, minute.ts, step, config.symbols,
                       config.feature_spec.names, features, closes, shares, fractions,
                       bars.frame, replaying)
