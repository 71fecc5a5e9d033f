"""A tiny trained dual model for the shadow-replay tests (pipelines, CLI, Dagster), and the
session it trades.

The model is long-only with a $900 cap and step, so the live loop's rules (``--max-position
900``) are the model's own and every full sell stays under the risk engine's $1,000 order
limit: on the simulated broker nothing but the policy shapes the orders.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

SESSION = date(2025, 2, 3)
TRAIN_SESSIONS = (date(2025, 1, 27), date(2025, 1, 28), date(2025, 1, 29))
CAP = 900.0
#: risk limits that never halt or resize the tiny model's orders (its cap is the position cap)
LIMIT_FLAGS = ("--max-position", "900", "--daily-loss-limit", "100000", "--drawdown-limit",
               "100000")


@functools.cache
def tiny_dual(replay_file: Path, interval: int = 1) -> Any:
    """Trained once per test process (per ``interval``: the model's decision interval in
    minutes): RecurrentPPO, 64 steps, on three sessions of the file."""
    import torch

    from intraday_jules.agent import DateWindow, prepare_data, train_dual_from_scratch
    from intraday_jules.env import TradingEnvConfig
    from intraday_jules.market_data.replay import read_bars_file
    from intraday_jules_tests.agent.conftest import tiny_config

    torch.set_num_threads(1)
    bars = read_bars_file(replay_file)
    bars = bars[bars["ts"].dt.tz_convert("America/New_York").dt.date.isin(TRAIN_SESSIONS)]
    data = prepare_data(bars.drop(columns=["source"], errors="ignore"),
                        train_window=DateWindow.of(list(TRAIN_SESSIONS)))
    env = TradingEnvConfig(max_position_notional=CAP, step_notional=CAP, allow_short=False,
                           decision_interval_minutes=interval)
    return train_dual_from_scratch(data, tiny_config(seed=5, env=env))


def save_model(bundle: Any, engine: sa.Engine, models_dir: Path) -> str:
    """Save ``bundle`` (unpromoted) in the ModelStore on ``engine``; its id."""
    from intraday_jules.agent import ModelStore

    return ModelStore(models_dir, engine).save(bundle).id


def no_halt_limits() -> Any:
    from intraday_jules.risk import RiskLimits

    return RiskLimits(max_position_usd=Decimal("900"), daily_loss_limit_usd=Decimal(100_000),
                      drawdown_limit_usd=Decimal(100_000))


def tampered_copy(source: Path, target: Path, *statements: str) -> Path:
    """A copy of the SQLite database ``source`` (through SQLite's backup, so rows still in
    the write-ahead log come too) with ``statements`` applied by raw SQL, after dropping the
    append-only triggers: only a test may rewrite the ledger. Each statement changes 1 row."""
    import sqlite3

    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
        triggers = [r[0] for r in dst.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'")]
        for name in triggers:
            dst.execute(f"DROP TRIGGER {name}")
        for statement in statements:
            assert dst.execute(statement).rowcount == 1, statement
    return target
