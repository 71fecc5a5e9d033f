"""Small builders for bars used across tests."""

from __future__ import annotations

from datetime import date

import pandas as pd

from intraday_jules.domain.calendar import session_window


def session_bars(symbol: str = "NVDA", session: date = date(2025, 1, 3), n: int | None = None,
                 price: float = 100.0, source: str | None = "test") -> pd.DataFrame:
    """A clean regular-hours bars frame: a gentle ramp, valid OHLC, positive volume."""
    starts = session_window(session).bar_starts()
    if n is not None:
        starts = starts[:n]
    k = len(starts)
    close = [round(price + 0.01 * i, 2) for i in range(k)]
    frame = pd.DataFrame({
        "symbol": symbol, "ts": starts, "open": [c - 0.01 for c in close],
        "high": [c + 0.05 for c in close], "low": [c - 0.06 for c in close], "close": close,
        "volume": [1000 + i for i in range(k)],
    })
    if source is not None:
        frame["source"] = source
    return frame


def write_csv(path, frame: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    out = frame.copy()
    out["ts"] = out["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out[["symbol", "ts", "open", "high", "low", "close", "volume"]].to_csv(path, index=False)
