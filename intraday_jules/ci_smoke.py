"""The CI smoke plan: which assets ``dagster asset materialize`` runs, and the check after.

``python -m intraday_jules.ci_smoke --print-plan`` prints ``SELECT PARTITION`` lines (``-`` for
unpartitioned assets) in dependency order; ``--verify`` asserts the database holds the result.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from intraday_jules.domain.calendar import last_completed_sessions
from intraday_jules.market_data.store import BarStore
from intraday_jules.settings import Settings


def plan(settings: Settings, now: datetime) -> list[tuple[str, str]]:
    session = last_completed_sessions(now, 1)[0].isoformat()
    return [("market_data/bars", f"{session}|{symbol}") for symbol in settings.symbols]


def verify(settings: Settings) -> None:
    store = BarStore.open(settings.database_url)
    try:
        summary = store.summary().set_index("symbol")
        for symbol in settings.symbols:
            rows = int(summary.loc[symbol, "rows"]) if symbol in summary.index else 0
            if rows < 210:
                raise SystemExit(f"smoke: {symbol} has {rows} bars stored, expected a session")
        print(f"smoke ok: {summary['rows'].to_dict()} bars on {store.backend}")
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--print-plan", action="store_true")
    parser.add_argument("--verify", action="store_true")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.print_plan:
        for select, partition in plan(settings, datetime.now(UTC)):
            print(select, partition)
    if args.verify:
        verify(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
