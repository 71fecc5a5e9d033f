"""The CI smoke plan: what `.ci/run` materializes with the `dagster` CLI, and the check after.

``python -m intraday_jules.ci_smoke --print-plan DIR`` prints one step per line, in dependency
order, for the last completed session S (and the sessions before it, which training needs):

    ingest FIRST LAST                          `intraday-jules ingest --features` of the
                                               earlier sessions (bars and their feature rows,
                                               which the model assets read)
    asset SELECTION PARTITION|-                `dagster asset materialize`
    job NAME CONFIG_FILE                       `dagster job execute` (config written into DIR)

``--verify`` then asserts the database holds the result of every step.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from intraday_jules.domain.calendar import last_completed_sessions
from intraday_jules.market_data.store import BarStore
from intraday_jules.settings import Settings

TRAINING_SESSIONS = 10
MODELS = ("models/nvda_foundation_model,models/dual_ticker_model,models/model_evaluation,"
          "models/promoted_model")


def plan(settings: Settings, now: datetime, folder: Path) -> list[str]:
    sessions = last_completed_sessions(now, TRAINING_SESSIONS)
    last = sessions[-1].isoformat()
    steps = [f"ingest {sessions[0].isoformat()} {sessions[-2].isoformat()}"]
    steps += [f"asset market_data/bars,features/feature_table {last}|{symbol}"
              for symbol in settings.symbols]
    steps.append(f"asset quality/bar_quality_report {last}")
    steps.append(f"asset {MODELS} -")
    config = folder / "trade_session.json"
    config.write_text(json.dumps({"ops": {"trade_session": {"config": {
        "session": last, "feed": "replay", "policy": "random"}}}}))
    steps.append(f"job trade_session_job {config}")
    steps.append(f"asset trading/session_report {last}")
    return steps


def verify(settings: Settings) -> None:
    store = BarStore.open(settings.database_url)
    try:
        summary = store.summary().set_index("symbol")
        counts = {}
        with store.engine.connect() as conn:
            for table in ("features", "data_quality_reports", "models", "model_promotions",
                          "decisions", "orders"):
                counts[table] = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
        rows = {s: int(summary.loc[s, "rows"]) if s in summary.index else 0
                for s in settings.symbols}
        short = [s for s, n in rows.items() if n < 8 * 210]
        empty = [t for t, n in counts.items() if not n]
        if short or empty:
            raise SystemExit(f"smoke failed: bars {rows}, empty tables {empty}")
        print(f"smoke ok on {store.backend}: bars {rows}, rows {counts}")
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--print-plan", type=Path, metavar="DIR")
    parser.add_argument("--verify", action="store_true")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.print_plan:
        args.print_plan.mkdir(parents=True, exist_ok=True)
        print("\n".join(plan(settings, datetime.now(UTC), args.print_plan)))
    if args.verify:
        verify(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
