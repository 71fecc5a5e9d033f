"""A slow, obviously-correct implementation of the default features, for comparison only.

Plain Python loops over each (symbol, session), each formula written the way the docs state
it, two-pass statistics, no running sums. Nothing here is shared with the package code.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pandas as pd

from intraday_jules.domain.calendar import NEW_YORK, SessionWindow, session_window

NAMES = ("ret_1", "ret_5", "ret_15", "ret_50", "rv_15", "rv_50", "rsi_14", "ema_trend",
         "vwap_dist", "volume_z", "hl_range", "session_time")


def slow_features(bars: pd.DataFrame, lookback: int = 50) -> pd.DataFrame:
    """Features of the regular-hours bars of ``bars``, indexed by (symbol, ts), sorted."""
    sessions: dict[tuple[str, date], list[Any]] = {}
    for row in bars.itertuples(index=False):
        day = row.ts.tz_convert(NEW_YORK).date()
        sessions.setdefault((row.symbol, day), []).append(row)
    out = []
    for (symbol, day), rows in sorted(sessions.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        window = session_window(day)
        inside = sorted((r for r in rows if window.open <= r.ts < window.close),
                        key=lambda r: r.ts)
        for t, values in enumerate(_session_features(inside, window)):
            out.append({"symbol": symbol, "ts": inside[t].ts, **values,
                        "warmup": t < lookback})
    return pd.DataFrame(out).set_index(["symbol", "ts"])


def _session_features(bars: list[Any], window: SessionWindow) -> list[dict[str, float]]:
    closes = [b.close for b in bars]
    first_open = bars[0].open
    r1 = [math.log(closes[t] / (closes[t - 1] if t >= 1 else first_open))
          for t in range(len(bars))]
    ema12 = _ema([math.log(c) for c in closes], 12)
    ema26 = _ema([math.log(c) for c in closes], 26)
    out = []
    for t, bar in enumerate(bars):
        def ret(k: int, t: int = t) -> float:
            return math.log(closes[t] / (closes[t - k] if t >= k else first_open))

        def last(xs: list[float], w: int, t: int = t) -> list[float]:
            return xs[max(0, t - w + 1): t + 1]

        gains = sum(max(r, 0.0) for r in last(r1, 14))
        losses = sum(max(-r, 0.0) for r in last(r1, 14))
        past = bars[: t + 1]
        volume = sum(b.volume for b in past)
        vwap = sum((b.high + b.low + b.close) / 3.0 * b.volume for b in past) / volume \
            if volume > 0 else None
        out.append({
            "ret_1": r1[t], "ret_5": ret(5), "ret_15": ret(15), "ret_50": ret(50),
            "rv_15": math.sqrt(sum(r * r for r in last(r1, 15)) / len(last(r1, 15))),
            "rv_50": math.sqrt(sum(r * r for r in last(r1, 50)) / len(last(r1, 50))),
            "rsi_14": (gains - losses) / (gains + losses) if gains + losses > 0 else 0.0,
            "ema_trend": ema12[t] - ema26[t],
            "vwap_dist": math.log(bar.close / vwap) if vwap is not None else 0.0,
            "volume_z": _zscore([math.log1p(b.volume) for b in bars], t, 50),
            "hl_range": math.log(bar.high / bar.low),
            "session_time": (bar.ts - window.open) / (window.close - window.open),
        })
    return out


def _ema(xs: list[float], span: int) -> list[float]:
    a = 2.0 / (span + 1.0)
    out = [xs[0]]
    for x in xs[1:]:
        out.append(out[-1] + a * (x - out[-1]))
    return out


def _zscore(xs: list[float], t: int, w: int) -> float:
    window = xs[max(0, t - w + 1): t + 1]
    mean = sum(window) / len(window)
    var = sum((x - mean) ** 2 for x in window) / len(window)
    return (xs[t] - mean) / math.sqrt(var) if var > 1e-8 else 0.0
