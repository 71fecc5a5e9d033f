"""Quarantine moves bad rows aside with their reason, when the contract allows it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from intraday_jules.db import create_db_engine, upgrade_to_head
from intraday_jules.quality import read_quarantine, run_with_quarantine, write_quarantine
from intraday_jules.quality.contracts import CONTRACTS_DIR, Contract, parse_contract
from intraday_jules.quality.run import run_quality_checks
from intraday_jules_tests.conftest import write_simulated_minutes
from intraday_jules_tests.quality.conftest import read_bars

SESSIONS = (date(2025, 1, 2), date(2025, 1, 3))
T = pd.Timestamp("2025-01-03T15:00Z")


def _seeded(bars: pd.DataFrame) -> pd.DataFrame:
    """A duplicate, an OHLC violation, a null close and a bar after the close."""
    bars = bars.copy()
    nvda = bars.index[bars["symbol"] == "NVDA"]
    bars.loc[nvda[10], "low"] = bars.loc[nvda[10], "high"] + 1
    bars.loc[nvda[20], "close"] = np.nan
    late = bars.loc[[nvda[-1]]].assign(ts=pd.Timestamp("2025-01-03T21:05Z"))
    return pd.concat([bars, bars.loc[[nvda[30]]], late], ignore_index=True)


def _kwargs(contract: Contract) -> dict[str, object]:
    return {"symbols": ("NVDA", "MSFT"), "sessions": SESSIONS, "extended_hours": False,
            "contract": contract, "use_gx": False}


def test_quarantine_moves_bad_rows_with_reasons_and_unblocks_the_partition(
        two_sessions: pd.DataFrame, market_contract: Contract) -> None:
    bars = _seeded(two_sessions)
    assert run_quality_checks(bars, **_kwargs(market_contract)).blocking_failed  # type: ignore[arg-type]
    report, split = run_with_quarantine(bars, **_kwargs(market_contract))
    assert not report.blocking_failed, [(c.name, c.failures[:2]) for c in report.failed]
    assert len(split.clean) == len(two_sessions) - 2  # the OHLC row and the null row
    assert len(split.quarantined) == 4
    by_check = split.quarantined.groupby("check_name").size().to_dict()
    assert by_check == {"contract_schema_valid": 1, "timestamps_unique": 1,
                        "ohlc_consistent": 1, "timestamps_in_session": 1}
    reasons = " | ".join(split.quarantined["reason"])
    assert "timestamps_unique: duplicate (symbol, ts)" in reasons
    assert "timestamps_in_session: bar at 16:05 ET is outside regular hours" in reasons
    null_row = split.quarantined[split.quarantined["check_name"] == "contract_schema_valid"]
    assert "null in column(s) close" in null_row["reason"].iloc[0]
    assert "ohlc_consistent:" in null_row["reason"].iloc[0]  # every reason is kept
    assert not split.clean.duplicated(["symbol", "ts"]).any()


def test_quarantined_rows_are_stored_and_rewriting_a_partition_replaces_them(
        db_url: str, two_sessions: pd.DataFrame, market_contract: Contract) -> None:
    _, split = run_with_quarantine(_seeded(two_sessions), **_kwargs(market_contract))
    engine = create_db_engine(db_url)
    try:
        upgrade_to_head(engine)
        at = datetime(2026, 1, 5, 12, tzinfo=UTC)
        assert write_quarantine(engine, split.quarantined, partition_key="2025-01-03|NVDA",
                                run_id="r1", quarantined_at=at) == 4
        assert write_quarantine(engine, split.quarantined, partition_key="2025-01-03|NVDA",
                                run_id="r2", quarantined_at=at) == 4
        stored = read_quarantine(engine, "2025-01-03|NVDA")
        assert len(stored) == 4 and set(stored["run_id"]) == {"r2"}
        assert sorted(stored["check_name"]) == sorted(split.quarantined["check_name"])
        assert stored["close"].isna().sum() == 1  # the NaN close is kept as NULL
        late = stored[stored["check_name"] == "timestamps_in_session"].iloc[0]
        assert late["ts"] == pd.Timestamp("2025-01-03T21:05Z") and late["symbol"] == "NVDA"
        assert (stored["quarantined_at"] == at).all()
        assert read_quarantine(engine, "other").empty
    finally:
        engine.dispose()


def test_contract_without_quarantine_keeps_every_row_and_stays_blocking(
        two_sessions: pd.DataFrame) -> None:
    text = (CONTRACTS_DIR / "market_data.yaml").read_text(encoding="utf-8")
    strict = parse_contract(text.replace("quarantine: true", "quarantine: false").replace(
        "allowed: true", "allowed: false"), "strict.yaml")
    bars = _seeded(two_sessions)
    report, split = run_with_quarantine(bars, **_kwargs(strict))
    assert report.blocking_failed and split.quarantined.empty and len(split.clean) == len(bars)


def test_split_like_gap_is_not_quarantined_away(two_sessions: pd.DataFrame,
                                                market_contract: Contract) -> None:
    bars = two_sessions.copy()
    later = (bars["symbol"] == "NVDA") & (bars["ts"].dt.date == date(2025, 1, 3))
    bars.loc[later, ["open", "high", "low", "close"]] /= 4
    report, split = run_with_quarantine(bars, **_kwargs(market_contract))
    assert split.quarantined.empty
    assert not report.result("no_price_jumps").passed and report.blocking_failed


def test_half_day_bars_after_the_close_are_quarantined_and_the_session_stays_complete(
        tmp_path: Path, market_contract: Contract) -> None:
    day = date(2025, 11, 28)  # half day: regular hours 09:30-13:00 ET (14:30-18:00 UTC)
    bars = read_bars(write_simulated_minutes(tmp_path / "half_day.csv", day.isoformat(),
                                             day.isoformat()))
    close = pd.Timestamp("2025-11-28T18:00Z")
    # regular hours plus the first 5 post-market prints of NVDA, as a vendor feed would send
    regular = bars[(bars["symbol"] == "NVDA") & (bars["ts"] >= pd.Timestamp("2025-11-28T14:30Z"))
                   & (bars["ts"] < close)]
    after = bars[(bars["symbol"] == "NVDA") & (bars["ts"] >= close)].head(5)
    bars = pd.concat([regular, after], ignore_index=True)
    report, split = run_with_quarantine(
        bars, symbols=("NVDA",), sessions=(day,), extended_hours=False, contract=market_contract,
        use_gx=False)
    assert len(after) == 5 and len(regular) == 210
    assert len(split.quarantined) == len(after) and len(split.clean) == len(regular)
    assert (split.quarantined["ts"] >= close).all()
    assert report.result("timestamps_in_session").passed and report.result(
        "no_missing_minutes").passed


def test_migration_adds_market_data_quarantine_on_its_own_branch(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        upgrade_to_head(engine)
        upgrade_to_head(engine)  # idempotent
        columns = {c["name"] for c in sa.inspect(engine).get_columns("market_data_quarantine")}
        assert {"symbol", "ts", "open", "high", "low", "close", "volume", "source", "reason",
                "check_name", "quarantined_at", "partition_key"} <= columns
        with engine.connect() as conn:
            heads = {r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
        assert "0002_quality" in heads
    finally:
        engine.dispose()
