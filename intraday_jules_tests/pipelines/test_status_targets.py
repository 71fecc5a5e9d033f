"""``status``: the seed's targets, the last traded session, and stale bars in trading hours
(an injected clock; the hand-built ledger of ``targets_ledger.py``, on a real SQLite file)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from intraday_jules.cli import app
from intraday_jules.cli.status_cmd import _render
from intraday_jules.market_data.store import BarStore
from intraday_jules.pipelines.status import collect_status
from intraday_jules.settings import Settings
from intraday_jules_tests.builders import session_bars
from intraday_jules_tests.targets_ledger import REDUCING_REASON, seeded_cli_env

TARGET_KEYS = {"cumulative_pnl_usd", "pnl_target_usd", "max_drawdown_pct", "drawdown_target_pct",
               "uptime_pct", "uptime_target_pct"}
LAST_SESSION_KEYS = {"session", "pnl_usd", "fills", "risk_state", "risk_reason"}
AFTER_CLOSE = datetime(2025, 2, 5, 22, 0, tzinfo=UTC)  # 17:00 ET
THIRD = date(2025, 2, 5)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return seeded_cli_env(tmp_path)


def status(env: dict[str, str], now: datetime, **settings: object) -> dict[str, object]:
    return collect_status(Settings.from_env(env, **settings), now=now)


def test_status_reports_the_targets_and_the_last_traded_session(env: dict[str, str]) -> None:
    payload = status(env, AFTER_CLOSE)
    assert {"market", "freshness", "quality", "model", "risk", "today", "broker"} <= set(payload)
    assert payload["targets"] == {
        "cumulative_pnl_usd": "175.25", "pnl_target_usd": "1000", "max_drawdown_pct": 2.0,
        "drawdown_target_pct": 2.0, "uptime_pct": 99.4872, "uptime_target_pct": 99.0}
    assert payload["last_session"] == {"session": "2025-02-04", "pnl_usd": "125.25",
                                       "fills": 1, "risk_state": "REDUCING",
                                       "risk_reason": REDUCING_REASON}
    assert payload["targets_window"] == {"start": "2025-02-03", "end": "2025-02-04",
                                         "sessions": 2, "met": {"pnl": False,
                                                                "drawdown": True,
                                                                "uptime": True}}
    assert payload["bars"]["stale"] is False  # after the close nothing is stale


def test_the_targets_start_and_thresholds_are_settings(env: dict[str, str]) -> None:
    payload = status(env, AFTER_CLOSE, targets_start=date(2025, 2, 4),
                     uptime_target_pct=Decimal("98.5"))
    assert payload["targets"]["cumulative_pnl_usd"] == "125.25"
    assert payload["targets"]["uptime_pct"] == 98.9744
    assert payload["targets"]["uptime_target_pct"] == 98.5
    assert payload["targets_window"]["met"]["uptime"] is True
    assert payload["last_session"]["session"] == "2025-02-04"


def test_status_before_any_session_has_no_last_session(tmp_path: Path) -> None:
    env = {"INTRADAY_JULES_HOME": str(tmp_path / "home"),
           "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    payload = status(env, AFTER_CLOSE)
    assert payload["last_session"] is None
    assert payload["targets"]["cumulative_pnl_usd"] == "0"
    assert payload["targets"]["uptime_pct"] is None


def _store_morning(env: dict[str, str], n: int, symbols: tuple[str, ...] = ("NVDA", "MSFT")
                   ) -> None:
    """The first ``n`` bars of 2025-02-05 (n=29: 09:30..09:58 ET, the last closes 14:59 UTC)."""
    store = BarStore.open(env["INTRADAY_JULES_DATABASE_URL"])
    try:
        for symbol in symbols:
            store.upsert(session_bars(symbol, THIRD, n=n, source=None), source="simulated")
    finally:
        store.close()


@pytest.mark.parametrize(("now", "stale", "age_s"), [
    (datetime(2025, 2, 5, 15, 1, 30, tzinfo=UTC), False, 150.0),  # within 300 s
    (datetime(2025, 2, 5, 15, 10, tzinfo=UTC), True, 660.0),  # 10:10 ET, 11 min old
    (datetime(2025, 2, 5, 21, 10, tzinfo=UTC), False, 22260.0),  # after the close
])
def test_bars_are_flagged_stale_only_during_trading_hours(
        env: dict[str, str], now: datetime, stale: bool, age_s: float) -> None:
    _store_morning(env, 29)
    bars = status(env, now)["bars"]
    assert (bars["stale"], bars["age_s"], bars["stale_after_s"]) == (stale, age_s, 300.0)
    assert bars["symbols"]["NVDA"]["newest_bar"] == "2025-02-05T14:58:00+00:00"


def test_a_symbol_without_any_bar_is_stale_after_the_opening_grace(env: dict[str, str]) -> None:
    _store_morning(env, 29, symbols=("NVDA",))
    bars = status(env, datetime(2025, 2, 5, 15, 0, tzinfo=UTC))["bars"]
    assert bars["stale"] is True and bars["age_s"] is None
    assert bars["symbols"]["MSFT"] == {"newest_bar": None, "age_s": None}
    opening = status(env, datetime(2025, 2, 5, 14, 33, tzinfo=UTC))["bars"]  # 09:33 ET
    assert opening["trading_hours"] is True and opening["stale"] is False


def test_the_screen_shows_the_targets_the_last_session_and_a_stale_warning(
        env: dict[str, str]) -> None:
    payload = status(env, datetime(2025, 2, 5, 15, 10, tzinfo=UTC))
    console = Console(record=True, width=140)
    _render(console, payload)
    text = console.export_text()
    assert "STALE BARS during trading hours: no bar stored (limit 300 s)" in text
    assert "session 2025-02-04: P&L 125.25 USD, 1 fills; ended REDUCING" in text
    assert "cumulative P&L 175.25 USD (target 1000): not met" in text
    assert "max drawdown 2.0% (target <= 2.0%): met" in text
    assert "uptime 99.4872% (target >= 99.0%): met" in text


def test_status_json_command_prints_the_targets_keys(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload["targets"]) == TARGET_KEYS
    assert set(payload["last_session"]) == LAST_SESSION_KEYS
    assert {"stale", "age_s"} <= set(payload["bars"])
