"""From the session's bars to a policy ``Observation``, each bar's features computed once.

``SessionBars`` holds the session's accepted bars and a streaming feature state
(``features.SessionStreams``): every bar is stepped once, when first asked for, and a minute's
raw feature rows are those ``build_features`` gives over the session's bars so far, bit for
bit (the one formula of each feature, in its streaming form; a test checks the loop's rows
against ``build_features`` over whole sessions). A restart extends the bars with the stored
ones in order, and the stream catches up on them at the first lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from intraday_jules.domain.bars import TS_DTYPE, Bar
from intraday_jules.domain.portfolio import Book
from intraday_jules.features import OutOfOrder, SessionStreams
from intraday_jules.features.spec import FeatureSpec
from intraday_jules.trading.config import SessionConfig, micros
from intraday_jules.trading.intake import Minute
from intraday_jules.trading.policies import Observation


@dataclass(slots=True)
class SessionBars:
    """The session's accepted bars as columns (cheap to append, cheap to turn into a frame),
    and the streaming feature state over them."""

    symbol: list[str] = field(default_factory=list)
    ts_us: list[int] = field(default_factory=list)
    open: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    close: list[float] = field(default_factory=list)
    volume: list[int] = field(default_factory=list)
    _stream: SessionStreams | None = None
    _stepped: int = 0  # bars already stepped through ``_stream``

    def __len__(self) -> int:
        return len(self.ts_us)

    def extend(self, bars: Iterable[Bar]) -> None:
        for bar in bars:
            self.symbol.append(bar.symbol)
            self.ts_us.append(micros(bar.ts))
            self.open.append(bar.open)
            self.high.append(bar.high)
            self.low.append(bar.low)
            self.close.append(bar.close)
            self.volume.append(bar.volume)

    def features_at(self, ts: datetime, spec: FeatureSpec, symbols: Sequence[str],
                    origin: str) -> tuple[np.ndarray, bool]:
        """([n_symbols, n_features] float64 raw rows, every symbol past warm-up) at minute
        ``ts``, as ``build_features`` over the bars so far gives them. Steps the bars not yet
        stepped; KeyError when a symbol has no row at ``ts``."""
        stream = self._caught_up(spec, tuple(symbols), origin)
        try:
            return stream.at(micros(ts))
        except KeyError as exc:
            raise KeyError(f"no feature row at {ts.isoformat()}: {exc.args[0]}") from None

    def _caught_up(self, spec: FeatureSpec, symbols: tuple[str, ...],
                   origin: str) -> SessionStreams:
        stream = self._stream
        if stream is None or stream.spec.version != spec.version or stream.symbols != symbols:
            stream = self._stream = SessionStreams(spec, symbols, origin=origin)
            self._stepped = 0
        try:
            self._feed(stream, range(self._stepped, len(self)))
        except OutOfOrder:  # a bar older than one stepped (never from the intake): rebuild
            stream = self._stream = SessionStreams(spec, symbols, origin=origin)
            order = np.argsort(np.asarray(self.ts_us, dtype=np.int64), kind="stable")
            self._feed(stream, (int(i) for i in order))
        self._stepped = len(self)
        return stream

    def _feed(self, stream: SessionStreams, rows: Iterable[int]) -> None:
        for i in rows:
            stream.add(self.symbol[i], self.ts_us[i], self.open[i], self.high[i], self.low[i],
                       self.close[i], float(self.volume[i]))

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


def observation(config: SessionConfig, minute: Minute, features: np.ndarray, book: Book,
                step: int, max_position: float, *, row: int, warm: bool,
                replaying: bool = False) -> Observation:
    """The policy's view of ``minute`` (aligned row ``row`` of the session; ``warm``: every
    symbol's features past warm-up): raw features, closes and positions before its orders."""
    closes = tuple(bar.close for bar in minute.bars)
    shares = tuple(book.quantity(s) for s in config.symbols)
    fractions = tuple(q * c / max_position for q, c in zip(shares, closes, strict=True))
    return Observation(config.session, minute.ts, step, config.symbols,
                       config.feature_spec.names, features, closes, shares, fractions,
                       replaying, warm, row)
