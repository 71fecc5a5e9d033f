"""Time ``run_quality_checks`` on 1,000,000 synthetic 1-minute bars (target: < 30 s).

The bars (``benchmarks._common.synthetic_bars``: complete regular-hours sessions for NVDA and
MSFT, a seeded random walk) are clean, so every check does its full work and nothing fails by
accident; Great Expectations runs too. Run: ``python -m benchmarks.quality [--rows N]``. The
last line is JSON: ``{"benchmark": "quality_checks", "rows": N, "seconds": S}``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from benchmarks._common import emit_result, synthetic_bars, timer
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.quality import run_quality_checks

SYMBOLS = DEFAULT_SYMBOLS


def main() -> None:
    parser = argparse.ArgumentParser(description="Time the data-quality checks.")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    bars = synthetic_bars(args.rows, SYMBOLS, seed=7)
    sessions = sorted(set(bars["ts"].dt.tz_convert("America/New_York").dt.date))
    kwargs = {"symbols": SYMBOLS, "extended_hours": False, "contract": "market_data"}
    run_quality_checks(bars.head(1000), sessions=sessions[:1], **kwargs)  # warm imports, calendar
    with timer() as elapsed:
        report = run_quality_checks(bars, sessions=sessions, **kwargs)
    seconds = elapsed()
    for check in report.checks:
        print(f"{check.name:24s} {check.severity:5s} {'pass' if check.passed else 'FAIL':4s}"
              f" {check.failure_count:>8,d} failures")
    print(f"{len(bars):,} bars, {len(sessions)} sessions x {len(SYMBOLS)} symbols:"
          f" {seconds:.2f} s (blocking_failed={report.blocking_failed})")
    emit_result({"benchmark": "quality_checks", "rows": len(bars), "seconds": round(seconds, 3)})


if __name__ == "__main__":
    main()
