"""``intraday-jules report --start D1 --end D2 --out FILE.html``: QuantStats's tearsheet of the
hand-built two-session ledger (``targets_ledger.py``), and clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from intraday_jules.cli import app
from intraday_jules.ledger import Ledger
from intraday_jules.ledger.performance import load_performance
from intraday_jules.trading.tearsheet import daily_returns
from intraday_jules_tests.targets_ledger import seeded_cli_env


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return seeded_cli_env(tmp_path)


def report(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, ["report", *args], env=env)


def test_the_sessions_returns_compound_to_the_cumulative_pnl(env: dict[str, str]) -> None:
    ledger = Ledger.connect(env["INTRADAY_JULES_DATABASE_URL"])
    try:
        returns = daily_returns(load_performance(ledger))
    finally:
        ledger.engine.dispose()
    assert [d.isoformat()[:10] for d in returns.index] == ["2025-02-03", "2025-02-04"]
    assert returns.tolist() == [50 / 10000, 125.25 / 10050]
    assert (1 + returns).prod() - 1 == pytest.approx(175.25 / 10000, abs=1e-15)


def test_report_writes_a_quantstats_tearsheet_of_the_period(env: dict[str, str],
                                                            tmp_path: Path) -> None:
    out = tmp_path / "tearsheet.html"
    result = report(env, "--start", "2025-02-01", "--end", "2025-02-28", "--out", str(out),
                    "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["out"] == str(out)
    assert (payload["start"], payload["end"]) == ("2025-02-01", "2025-02-28")
    assert payload["sessions"] == ["2025-02-03", "2025-02-04"]
    assert payload["targets"]["cumulative_pnl_usd"] == "175.25"
    html = out.read_text(encoding="utf-8")
    assert "IntradayJules paper trading 2025-02-01 .. 2025-02-28" in html
    assert "QuantStats" in html
    # the strategy's returns: +1.7525% compounded (10175.25 / 10000), daily +0.5% and +1.25%
    assert "<td>Cumulative Return</td><td>1.75%</td>" in html
    assert "<td>Best Day</td><td>1.25%</td>" in html
    assert "<td>Worst Day</td><td>0.5%</td>" in html
    assert not list(tmp_path.glob(".*.partial"))


def test_a_period_without_a_traded_session_is_a_clear_error(env: dict[str, str],
                                                             tmp_path: Path) -> None:
    out = tmp_path / "none.html"
    result = report(env, "--start", "2025-03-01", "--end", "2025-03-31", "--out", str(out))
    assert result.exit_code == 1
    assert "no traded session between 2025-03-01 and 2025-03-31" in str(result.exception)
    assert not out.exists()


@pytest.mark.parametrize(("args", "words"), [
    (["--start", "2025-02-30", "--end", "2025-03-01"], "--start '2025-02-30' is not a date"),
    (["--start", "2025-02-04", "--end", "yesterday"], "--end 'yesterday' is not a date"),
    (["--start", "2025-02-05", "--end", "2025-02-03"], "--start 2025-02-05 is after --end"),
])
def test_bad_dates_are_refused_before_anything_is_written(
        env: dict[str, str], tmp_path: Path, args: list[str], words: str) -> None:
    out = tmp_path / "x.html"
    result = report(env, *args, "--out", str(out))
    assert result.exit_code == 1 and words in str(result.exception)
    assert not out.exists()


def test_an_unwritable_out_is_refused_before_the_work(env: dict[str, str], tmp_path: Path
                                                      ) -> None:
    period = ["--start", "2025-02-03", "--end", "2025-02-04"]
    missing = report(env, *period, "--out", str(tmp_path / "no" / "such" / "t.html"))
    assert missing.exit_code == 1 and "does not exist" in str(missing.exception)
    assert "is a directory" in str(report(env, *period, "--out", str(tmp_path)).exception)
    if os.geteuid() == 0:
        return  # root writes anywhere: the permission case cannot be staged
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = report(env, *period, "--out", str(locked / "t.html"))
    assert result.exit_code == 1 and "is not writable" in str(result.exception)
