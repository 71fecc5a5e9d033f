"""A crashed trading run reaches a person: the loop pushes ``trading_run_failed_bool`` = 1 with
HALTED to a real Pushgateway (alerts ``TradingRunFailed`` and ``TradingHalted``); a run that
ends normally pushes 0, which also clears the previous run's failure (same group)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from prometheus_client.exposition import delete_from_gateway
from prometheus_client.parser import text_string_to_metric_families

from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.observability.metrics import TRADING_JOB, TradingMetrics
from intraday_jules.risk import RiskLimits
from intraday_jules.trading import Collaborators
from intraday_jules.trading.defence import SessionCrashed
from intraday_jules_tests.trading.conftest import minute, replay
from intraday_jules_tests.trading.test_bad_ticks import FailingStore

NO_HALT = RiskLimits(daily_loss_limit_usd=Decimal(10**6), drawdown_limit_usd=Decimal(10**6))


def pushed(gateway: str, deployment: str) -> dict[str, float]:
    text = httpx.get(f"{gateway}/metrics", timeout=5).text
    return {s.name: s.value for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.labels.get("job") == TRADING_JOB and s.labels.get("deployment") == deployment
            and not s.labels.get("state")}


@pytest.fixture
def deployment(pushgateway_url: str):  # type: ignore[no-untyped-def]
    """A grouping key of our own, deleted afterwards (CI shares one gateway)."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    delete_from_gateway(pushgateway_url, job=TRADING_JOB, grouping_key={"deployment": name},
                        timeout=5)


def test_a_new_trading_metrics_reports_the_run_not_failed_until_it_crashes() -> None:
    metrics = TradingMetrics()
    assert metrics.value("intraday_jules_trading_run_failed_bool") == 0
    metrics.set_run_failed(True)
    assert metrics.value("intraday_jules_trading_run_failed_bool") == 1


def test_a_crashed_session_pushes_run_failed_and_halted_then_a_normal_run_clears_it(
        tmp_path: Path, replay_source: ReplaySource, pushgateway_url: str,
        deployment: str) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    extras = Collaborators(push_url=pushgateway_url, push_group=(("deployment", deployment),),
                           report=False)
    crashing = replay(url, replay_source, "always-buy", limits=NO_HALT, until=minute(40),
                      extras=extras)
    crashing.store = FailingStore(crashing.store, minute(30))  # type: ignore[assignment]
    with pytest.raises(SessionCrashed, match="disk full"):
        crashing.run()
    after_crash = pushed(pushgateway_url, deployment)
    assert after_crash["intraday_jules_trading_run_failed_bool"] == 1
    assert after_crash["intraday_jules_risk_halted_bool"] == 1  # LOOP_CRASHED latched HALTED

    other = f"sqlite:///{tmp_path / 'clean.db'}"
    replay(other, replay_source, "always-buy", limits=NO_HALT, until=minute(10),
           extras=extras).run()
    after_clean = pushed(pushgateway_url, deployment)
    assert after_clean["intraday_jules_trading_run_failed_bool"] == 0
    assert after_clean["intraday_jules_risk_halted_bool"] == 0
