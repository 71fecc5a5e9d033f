"""From the session's bars to a policy ``Observation``, with the one feature implementation.

Features come from ``build_features`` over the session's bars so far, the same call training
and evaluation make over months: every feature is causal and per (symbol, session), so the
row of minute t is identical (bit for bit) whether computed live or in a backtest, and whether
computed once over the stored bars (restart warm-up) or minute by minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from intraday_jules.domain.bars import TS_DTYPE, Bar
from intraday_jules.domain.portfolio import Book
from intraday_jules.features import build_features
from intraday_jules.features.spec import FeatureSpec
from intraday_jules.trading.config import SessionConfig
from intraday_jules.trading.intake import Minute
from intraday_jules.trading.policies import Observation


@dataclass(slots=True)
class SessionBars:
    """The session's accepted bars as columns (cheap to append, cheap to turn into a frame)."""

    symbol: list[str] = field(default_factory=list)
    ts: list[datetime] = field(default_factory=list)
    open: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    close: list[float] = field(default_factory=list)
    volume: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ts)

    def extend(self, bars: Iterable[Bar]) -> None:
        for bar in bars:
            self.symbol.append(bar.symbol)
            self.ts.append(bar.ts)
            self.open.append(bar.open)
            self.high.append(bar.high)
            self.low.append(bar.low)
            self.close.append(bar.close)
            self.volume.append(bar.volume)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "symbol": pd.Series(self.symbol, dtype=object),
            "ts": pd.Series(pd.to_datetime(self.ts, utc=True), dtype=TS_DTYPE),
            "open": np.asarray(self.open, dtype=np.float64),
            "high": np.asarray(self.high, dtype=np.float64),
            "low": np.asarray(self.low, dtype=np.float64),
            "close": np.asarray(self.close, dtype=np.float64),
            "volume": np.asarray(self.volume, dtype=np.int64),
        })


@dataclass(frozen=True, slots=True)
class FeatureRows:
    """Features of the listed minutes for every symbol; ``warm[ts]`` is False in warm-up."""

    names: tuple[str, ...]
    table: pd.DataFrame

    @classmethod
    def build(cls, bars: SessionBars, spec: FeatureSpec, origin: str) -> FeatureRows:
        table = build_features(bars.frame(), spec, origin=origin)
        return cls(spec.names, table)

    def at(self, ts: datetime, symbols: Sequence[str]) -> tuple[np.ndarray, bool]:
        """([n_symbols, n_features] float64, every symbol past warm-up) at minute ``ts``."""
        key = pd.Timestamp(ts).as_unit("us")
        rows = self.table.loc[[(s, key) for s in symbols]]
        matrix = rows[list(self.names)].to_numpy(np.float64)
        return matrix, not bool(rows["warmup"].any())


def observation(config: SessionConfig, minute: Minute, features: np.ndarray, book: Book,
                step: int, max_position: float) -> Observation:
    """The policy's view of ``minute``: features, closes and positions before its orders."""
    closes = tuple(bar.close for bar in minute.bars)
    shares = tuple(book.quantity(s) for s in config.symbols)
    fractions = tuple(q * c / max_position for q, c in zip(shares, closes, strict=True))
    return Observation(config.session, minute.ts, step, config.symbols,
                       config.feature_spec.names, features, closes, shares, fractions)
