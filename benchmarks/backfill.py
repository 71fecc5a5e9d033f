"""``python -m benchmarks.backfill``: one month of NVDA+MSFT 1-minute bars from IB, paced.

Runs the real ``IbkrSource`` + ``ib_async`` over a loopback socket against the fake gateway,
which serves the replay file and polices IB's pacing rules itself (``enforce_pacing``: a
violating request would be refused with 162 and show up as an extra request). Pacing waits run
on a simulated clock shared by client and gateway, so minutes of pacing take milliseconds.

Figures: requests sent vs the theoretical minimum (one per symbol and session: IB allows at
most one day of 1-minute bars per request), and the simulated time from the first to the last
request vs the least time the pacing rules allow for that many requests (``ratio``, target
<= 1.1). Request latency is not simulated (it is real and printed separately), so the ratio
measures the scheduling alone: interleaving symbols and waiting no longer than a rule needs.
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks._common import emit_result, timer
from intraday_jules.adapters.ibkr import IbkrConfig, IbkrSource, plan_backfill
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.market_data.source import BarRequest
from intraday_jules.testing.fake_tws import FakeTwsThread, ReplayBars, SimulatedClock

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REPLAY = REPO.parent / "shared/data/market/nvda_msft_1min_2025-01-02_2025-02-28.csv"


def backfill(replay: ReplayBars, symbols: tuple[str, ...], start: date,
             end: date) -> dict[str, Any]:
    """Backfill [start, end] and measure it; returns the figures."""
    clock = SimulatedClock(datetime(2025, 3, 3, 12, 0, tzinfo=UTC))
    plan = plan_backfill(symbols, start, end)
    delivered: list[int] = []
    with FakeTwsThread(replay, clock=clock.now, enforce_pacing=True) as gateway:
        source = IbkrSource(IbkrConfig(port=gateway.port, client_id=77), clock=clock.now,
                            sleep=clock.sleep)
        try:
            with timer() as elapsed:
                report = source.backfill(plan, lambda _r, frame: delivered.append(len(frame)))
            wall_s = elapsed()
        finally:
            source.close()
        received = gateway.historical_requests
    span = (received[-1].received_at - received[0].received_at).total_seconds()
    pacing_min = source.limiter.rules.minimum_span_s(list(_per_contract(plan).values()))
    return {"sessions": len(plan) // len(symbols), "requests": len(received),
            "min_requests": len(plan), "bars": sum(delivered), "reconnects": report.reconnects,
            "simulated_s": span, "pacing_min_s": pacing_min, "wall_s": wall_s,
            "ratio": _ratio(span, pacing_min)}


def _per_contract(plan: list[BarRequest]) -> Counter[str]:
    return Counter(request.symbol for request in plan)


def _ratio(simulated: float, minimum: float) -> float:
    if minimum == 0:
        return 1.0 if simulated == 0 else float("inf")
    return round(simulated / minimum, 4)


def _month(text: str) -> tuple[date, date]:
    first = date.fromisoformat(f"{text}-01")
    last = (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date()
    return first, last


def _print(label: str, figures: dict[str, Any]) -> None:
    print(f"{label}: {figures['sessions']} sessions, {figures['requests']} requests "
          f"(minimum {figures['min_requests']}), {figures['bars']:,} bars, "
          f"{figures['reconnects']} reconnects")
    print(f"  simulated {figures['simulated_s']:.1f} s vs pacing minimum "
          f"{figures['pacing_min_s']:.1f} s (ratio {figures['ratio']}); real wall "
          f"{figures['wall_s']:.2f} s, {figures['bars'] / figures['wall_s']:,.0f} bars/s, "
          f"{figures['wall_s'] / figures['requests'] * 1000:.1f} ms/request")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backfill")
    parser.add_argument("--replay-path", type=Path, default=DEFAULT_REPLAY)
    parser.add_argument("--month", default="2025-01", help="YYYY-MM inside the replay file")
    parser.add_argument("--symbols", default=",".join(DEFAULT_SYMBOLS))
    parser.add_argument("--also-two-months", action="store_true",
                        help="also backfill 2025-01..02 (78 requests: the 10-minute rule binds)")
    args = parser.parse_args(argv)
    if not args.replay_path.is_file():
        raise SystemExit(f"replay file {args.replay_path} not found (pass --replay-path)")
    replay = ReplayBars.from_csv(args.replay_path)
    symbols = tuple(args.symbols.split(","))
    if args.also_two_months:
        _print("2025-01..02", backfill(replay, symbols, date(2025, 1, 1), date(2025, 2, 28)))
    first, last = _month(args.month)
    figures = backfill(replay, symbols, first, last)
    _print(args.month, figures)
    emit_result({"benchmark": "backfill_ibkr", "requests": figures["requests"],
                 "min_requests": figures["min_requests"],
                 "simulated_s": round(figures["simulated_s"], 3),
                 "pacing_min_s": figures["pacing_min_s"], "ratio": figures["ratio"],
                 "bars": figures["bars"], "wall_s": round(figures["wall_s"], 3)})


if __name__ == "__main__":
    main()
