"""``trading/performance_report``: rebuilt by the trade job after each replayed session (real
Dagster runs, the simulated broker, a real SQLite ledger) and on demand, with the equity and
drawdown PNG, and its targets pushed to a real Pushgateway."""

from __future__ import annotations

import base64
import re
from datetime import date
from decimal import Decimal

import dagster as dg
import httpx
import pytest
from prometheus_client.exposition import delete_from_gateway
from prometheus_client.parser import text_string_to_metric_families

from intraday_jules.definitions import build_definitions
from intraday_jules.defs.common.resources import ledger_resource
from intraday_jules.defs.trading.assets import PERFORMANCE_KEY, performance_report_asset
from intraday_jules.defs.trading.jobs import TRADE_JOB_NAME
from intraday_jules.ledger import Ledger
from intraday_jules.observability.metrics import TARGETS_JOB, TRADING_JOB
from intraday_jules.trading.report import png_size
from intraday_jules_tests.observability.conftest import pushgateway_url  # noqa: F401 - fixture

SESSIONS = ("2025-01-31", "2025-02-03")
QUIET = {"console": {"config": {"log_level": "ERROR"}}}
PNG_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)")


@pytest.fixture
def settings(settings_for, sim_regular_minute_file, tmp_path, pushgateway_url):  # noqa: F811
    yield settings_for(market_sources=("replay",), replay_path=sim_regular_minute_file,
                       database_url=f"sqlite:///{tmp_path / 'job.db'}",
                       pushgateway_url=pushgateway_url)
    for job in (TRADING_JOB, TARGETS_JOB):  # CI shares one gateway
        delete_from_gateway(pushgateway_url, job=job, grouping_key={"deployment": "ci"},
                            timeout=5)


def _trade(defs: dg.Definitions, instance: dg.DagsterInstance, session: str):  # type: ignore[no-untyped-def]
    return defs.resolve_job_def(TRADE_JOB_NAME).execute_in_process(
        instance=instance, run_config={"ops": {"trade_session": {"config": {
            "session": session, "feed": "replay", "policy": "random"}}}, "loggers": QUIET})


def _png(markdown: str) -> bytes:
    found = PNG_URI.search(markdown)
    assert found, markdown[:200]
    return base64.b64decode(found.group(1))


def _pushed_targets(gateway: str) -> dict[str, float]:
    text = httpx.get(f"{gateway}/metrics", timeout=5).text
    return {s.name + (f"{{{s.labels['target']}}}" if "target" in s.labels else ""): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.labels.get("job") == TARGETS_JOB and s.labels.get("deployment") == "ci"}


def test_each_replayed_session_rebuilds_the_performance_report_from_the_ledger(
        settings, pushgateway_url) -> None:  # noqa: F811
    defs = build_definitions(settings)
    outputs, reports = [], []
    with dg.DagsterInstance.ephemeral() as instance:
        for session in SESSIONS:
            result = _trade(defs, instance, session)
            assert result.success
            outputs.append(result.output_for_node("trade_session"))
            reports.append([e.event_specific_data.materialization for e in result.all_events
                            if e.event_type_value == "ASSET_MATERIALIZATION"
                            and e.asset_key == PERFORMANCE_KEY])
    assert [len(r) for r in reports] == [1, 1]
    meta = reports[-1][0].metadata
    assert meta["sessions"].value == 2
    assert png_size(_png(meta["equity_png"].value)) == (1000, 600)
    # the session P&Ls of the runs (the book's) add up to the ledger's cumulative P&L
    pnls = [Decimal(o["pnl"]) for o in outputs]
    targets = meta["targets"].value
    assert Decimal(targets["cumulative_pnl_usd"]) == sum(pnls)
    assert [o["decisions"] for o in outputs] == [390, 390]  # every minute live: 100% uptime
    assert targets["uptime_pct"] == 100.0 and targets["pnl_target_usd"] == "1000"
    daily = meta["daily"].value["sessions"]
    assert [(d["session"], Decimal(d["pnl_usd"])) for d in daily] == list(zip(SESSIONS, pnls,
                                                                              strict=True))
    report = meta["report"].value
    assert "| uptime (%) | 100.0 | >= 99.0 | yes |" in report
    assert f"| {SESSIONS[0]} | 10000 |" in report
    pushed = _pushed_targets(pushgateway_url)
    assert pushed["intraday_jules_trading_uptime_ratio"] == 1.0
    assert pushed["intraday_jules_pnl_cumulative_usd"] == pytest.approx(float(sum(pnls)))
    assert pushed["intraday_jules_trading_target_met_bool{uptime}"] == 1


def test_the_asset_materializes_on_its_own_with_the_targets_start_setting(
        settings, settings_for, sim_regular_minute_file, tmp_path) -> None:
    defs = build_definitions(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        for session in SESSIONS:
            assert _trade(defs, instance, session).success
    later = settings_for(database_url=settings.database_url,
                         targets_start=date.fromisoformat(SESSIONS[1]))
    result = dg.materialize([performance_report_asset(later)],
                            resources={"ledger": ledger_resource(later)})
    assert result.success
    meta = result.asset_materializations_for_node("trading__performance_report")[0].metadata
    ledger = Ledger.connect(settings.database_url)
    try:
        equity = [d.equity for d in ledger.decisions(date.fromisoformat(SESSIONS[1]))]
    finally:
        ledger.engine.dispose()
    assert meta["sessions"].value == 1
    assert meta["targets"].value["cumulative_pnl_usd"] == str(
        (equity[-1] - equity[0]).normalize())
    assert meta["targets_met"].value["pnl"] is False
    assert png_size(_png(meta["equity_png"].value))[0] == 1000
