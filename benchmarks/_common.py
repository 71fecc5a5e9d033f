"""Shared helpers for benchmarks: synthetic bars at scale, timing, the JSON last line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.domain.calendar import session_window, sessions_in_range
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS


def synthetic_bars(rows: int, symbols: tuple[str, ...] = DEFAULT_SYMBOLS, seed: int = 1,
                   start: date = date(2015, 1, 2)) -> pd.DataFrame:
    """At least ``rows`` realistic, valid regular-hours 1-minute bars (390 per session)."""
    per_session = 390 * len(symbols)
    n_sessions = -(-rows // per_session)
    sessions = sessions_in_range(start, date(2035, 12, 31))
    sessions = [s for s in sessions if session_window(s).regular_minutes == 390][:n_sessions]
    opens = np.array([pd.Timestamp(session_window(s).open).value // 1000 for s in sessions])
    minute_us = np.arange(390) * 60_000_000
    ts_us = (opens[:, None] + minute_us[None, :]).ravel()
    rng = np.random.default_rng(seed)
    frames = []
    for j, symbol in enumerate(symbols):
        n = len(ts_us)
        close = np.round(100.0 * (j + 1) * np.exp(np.cumsum(rng.normal(0, 0.0008, n))), 2)
        open_ = np.concatenate([[close[0]], close[:-1]])
        spread = np.round(np.abs(rng.normal(0, 0.03, (2, n))), 2)
        frames.append(pd.DataFrame({
            "symbol": symbol,
            "ts": pd.to_datetime(ts_us, unit="us", utc=True),
            "open": open_, "high": np.maximum(open_, close) + spread[0],
            "low": np.maximum(np.minimum(open_, close) - spread[1], 0.01), "close": close,
            "volume": rng.integers(100, 500_000, n), "source": "benchmark"}))
    return pd.concat(frames, ignore_index=True)


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def emit_result(result: dict[str, Any]) -> None:
    """Print the figures (human lines first) and the JSON object as the LAST line."""
    print(json.dumps(result), flush=True)
