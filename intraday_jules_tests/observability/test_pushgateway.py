"""Push to a real Pushgateway over HTTP and read the values back from its ``/metrics``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.exposition import delete_from_gateway
from prometheus_client.parser import text_string_to_metric_families

from intraday_jules.observability.metrics import (
    PIPELINE_JOB,
    TRADING_JOB,
    PipelineMetrics,
    TradingMetrics,
)

T0 = datetime(2025, 2, 3, 15, 0, tzinfo=UTC)
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def read_group(gateway: str, job: str, instance: str) -> Series:
    """Every sample the gateway serves for (job, instance), keyed by name and other labels."""
    text = httpx.get(f"{gateway}/metrics", timeout=5).text
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("job") == job and s.labels.get("instance") == instance:
                rest = frozenset((k, v) for k, v in s.labels.items()
                                 if k not in ("job", "instance"))
                out[(s.name, rest)] = s.value
    return out


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


@pytest.fixture
def instance(pushgateway_url: str) -> Iterator[str]:
    """A grouping key value of our own, deleted afterwards (CI shares one gateway)."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    for job in (TRADING_JOB, PIPELINE_JOB):
        delete_from_gateway(pushgateway_url, job=job, grouping_key={"instance": name}, timeout=5)


def trading_after_one_bar() -> TradingMetrics:
    trading = TradingMetrics(clock=lambda: T0)
    trading.set_broker_connected(True)
    trading.observe_bar("NVDA", "ibkr", T0 - timedelta(minutes=1, seconds=30))
    for seconds in (0.004, 0.012, 0.030):
        trading.record_decision_latency(seconds)
    trading.update_portfolio(cash=9044.16, value=10001.5, positions={"NVDA": (7, 957.34)},
                             realized=0, unrealized=1.5, drawdown=0, drawdown_limit=100,
                             daily_pnl=1.5, daily_loss_limit=50)
    trading.count_trade("NVDA", "BUY")
    trading.count_action("NVDA", "buy")
    trading.count_action("MSFT", "hold")
    return trading


def test_pushed_trading_metrics_read_back_from_the_gateway(
        pushgateway_url: str, instance: str) -> None:
    assert trading_after_one_bar().push(pushgateway_url, TRADING_JOB, {"instance": instance})
    got = read_group(pushgateway_url, TRADING_JOB, instance)
    expected = {
        key("intraday_jules_portfolio_value_usd"): 10001.5,
        key("intraday_jules_portfolio_cash_usd"): 9044.16,
        key("intraday_jules_position_size_shares", symbol="NVDA"): 7,
        key("intraday_jules_position_notional_usd", symbol="NVDA"): 957.34,
        key("intraday_jules_pnl_unrealized_usd"): 1.5,
        key("intraday_jules_risk_drawdown_limit_usd"): 100,
        key("intraday_jules_risk_daily_loss_limit_usd"): 50,
        key("intraday_jules_risk_state_level"): 0,
        key("intraday_jules_risk_state_bool", state="ACTIVE"): 1,
        key("intraday_jules_risk_halted_bool"): 0,
        key("intraday_jules_broker_connected_bool"): 1,
        key("intraday_jules_bar_age_seconds", symbol="NVDA", source="ibkr"): 30,
        key("intraday_jules_bar_newest_timestamp_seconds", symbol="NVDA", source="ibkr"):
            (T0 - timedelta(seconds=30)).timestamp(),
        key("intraday_jules_trading_trades_total", symbol="NVDA", side="BUY"): 1,
        key("intraday_jules_policy_actions_total", symbol="MSFT", action="hold"): 1,
        key("intraday_jules_decision_latency_seconds_count"): 3,
        key("intraday_jules_decision_latency_seconds_bucket", le="0.005"): 1,
        key("intraday_jules_decision_latency_seconds_bucket", le="0.05"): 3,
        key("intraday_jules_metrics_push_failures_total"): 0,
    }
    assert {k: got.get(k) for k in expected} == expected
    assert got[key("intraday_jules_decision_latency_seconds_sum")] == pytest.approx(0.046)


def test_a_later_push_replaces_the_group_with_the_new_state(
        pushgateway_url: str, instance: str) -> None:
    trading = trading_after_one_bar()
    group = {"instance": instance}
    assert trading.push(pushgateway_url, TRADING_JOB, group)
    trading.set_risk_state("HALTED")
    trading.set_broker_connected(False)
    trading.count_trade("NVDA", "SELL")
    assert trading.push(pushgateway_url, TRADING_JOB, group)
    got = read_group(pushgateway_url, TRADING_JOB, instance)
    assert got[key("intraday_jules_risk_halted_bool")] == 1
    assert got[key("intraday_jules_risk_state_level")] == 2
    assert got[key("intraday_jules_risk_state_bool", state="ACTIVE")] == 0
    assert got[key("intraday_jules_broker_connected_bool")] == 0
    assert got[key("intraday_jules_trading_trades_total", symbol="NVDA", side="SELL")] == 1


def test_a_failed_push_is_counted_and_the_count_arrives_with_the_next_push(
        pushgateway_url: str, instance: str) -> None:
    trading = TradingMetrics()
    assert trading.push(pushgateway_url, TRADING_JOB, {"not-a-label": "x"}) is False  # HTTP 400
    assert trading.push(pushgateway_url, TRADING_JOB, {"instance": instance})
    got = read_group(pushgateway_url, TRADING_JOB, instance)
    assert got[key("intraday_jules_metrics_push_failures_total")] == 1


def test_pushed_pipeline_metrics_read_back_from_the_gateway(
        pushgateway_url: str, instance: str) -> None:
    pipeline = PipelineMetrics(clock=lambda: T0)
    pipeline.record_ingest("MSFT", "alpha_vantage", 390)
    pipeline.count_quality_failure("ohlc_consistent", "ERROR", n=2)
    assert pipeline.push(pushgateway_url, PIPELINE_JOB, {"instance": instance})
    got = read_group(pushgateway_url, PIPELINE_JOB, instance)
    assert got[key("intraday_jules_ingest_rows_total", symbol="MSFT", source="alpha_vantage")] \
        == 390
    assert got[key("intraday_jules_ingest_last_success_timestamp_seconds", symbol="MSFT",
                   source="alpha_vantage")] == T0.timestamp()
    assert got[key("intraday_jules_quality_checks_failed_total", check="ohlc_consistent",
                   severity="ERROR")] == 2
    assert not any(name.startswith("intraday_jules_portfolio") for name, _ in got)
