"""Time ``run_quality_checks`` on 1,000,000 synthetic 1-minute bars (target: < 30 s).

Bars are complete regular-hours sessions for two symbols on the XNYS calendar (half days
included), a seeded random walk, so every check has real work and nothing fails by accident.
Run: ``python -m benchmarks.quality [--rows N]``. The last line is JSON:
``{"benchmark": "quality_checks", "rows": N, "seconds": S}``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date

import numpy as np
import pandas as pd

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from intraday_jules.domain.calendar import session_window, sessions_in_range  # noqa: E402
from intraday_jules.quality import run_quality_checks  # noqa: E402

SYMBOLS = ("NVDA", "MSFT")


def synthetic_bars(rows: int, seed: int = 7) -> tuple[pd.DataFrame, list[date]]:
    """At least ``rows`` complete regular-hours bars (then cut to ``rows`` whole sessions)."""
    rng = np.random.default_rng(seed)
    sessions = sessions_in_range(date(2015, 1, 2), date(2026, 3, 6))
    per_session = rows // len(SYMBOLS) // 390 + 1
    sessions = sessions[-per_session:]
    starts = np.concatenate([
        pd.date_range(w.open, w.close, freq="1min", inclusive="left").as_unit("us").asi8
        for w in map(session_window, sessions)])
    frames = []
    for k, symbol in enumerate(SYMBOLS):
        steps = rng.normal(0, 0.0008, len(starts))
        close = (100.0 + 300 * k) * np.exp(np.cumsum(steps))
        open_ = np.r_[close[0], close[:-1]]
        spread = np.abs(rng.normal(0, 0.0004, len(starts))) * close
        frames.append(pd.DataFrame({
            "symbol": symbol, "ts": pd.to_datetime(starts, unit="us", utc=True),
            "open": open_, "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread, "close": close,
            "volume": rng.integers(1_000, 500_000, len(starts)), "source": "synthetic"}))
    bars = pd.concat(frames, ignore_index=True)
    return bars, sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    bars, sessions = synthetic_bars(args.rows)
    run_quality_checks(bars.head(1000), symbols=SYMBOLS, sessions=sessions[:1],
                       extended_hours=False, contract="market_data")  # warm imports, calendar
    started = time.perf_counter()
    report = run_quality_checks(bars, symbols=SYMBOLS, sessions=sessions, extended_hours=False,
                                contract="market_data")
    seconds = time.perf_counter() - started
    for check in report.checks:
        print(f"{check.name:24s} {check.severity:5s} {'pass' if check.passed else 'FAIL':4s}"
              f" {check.failure_count:>8,d} failures")
    print(f"{len(bars):,} bars, {len(sessions)} sessions x {len(SYMBOLS)} symbols:"
          f" {seconds:.2f} s (blocking_failed={report.blocking_failed})")
    print(json.dumps({"benchmark": "quality_checks", "rows": len(bars),
                      "seconds": round(seconds, 3)}))


if __name__ == "__main__":
    main()
