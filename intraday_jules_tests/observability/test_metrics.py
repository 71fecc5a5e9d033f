"""The metrics module on its own: names, registries, typed setters, push failure handling."""

from __future__ import annotations

import logging
import math
import shutil
import socket
import subprocess
import time
from datetime import datetime, timedelta

import prometheus_client
import pytest

from intraday_jules.observability.metrics import (
    DECISION_LATENCY_BUCKETS,
    METRIC_NAME_RE,
    RISK_STATES,
    TradingMetrics,
    metric_specs,
    public_url,
)
from intraday_jules_tests.observability.populated import (
    T0,
    every_metric_set,
    metric_names,
    populated,
)


def test_every_declared_and_exposed_metric_name_follows_the_naming_rule() -> None:
    names = {s.name for s in metric_specs()}.union(*(metric_names(m) for m in populated()))
    assert len(names) >= 20
    assert [n for n in names if not METRIC_NAME_RE.match(n)] == []


@pytest.mark.parametrize("name", [
    "intraday_jules_latency", "jules_portfolio_value_usd", "intraday_jules_portfolio_value_dollars",
    "intraday_jules_nonsense_value_usd", "intraday_jules_portfolio_usd",
])
def test_naming_rule_rejects_names_without_area_name_and_unit(name: str) -> None:
    assert not METRIC_NAME_RE.match(name)


def test_the_exposition_holds_exactly_the_declared_metrics() -> None:
    declared = {s.name for s in metric_specs()}
    assert set().union(*(metric_names(m) for m in every_metric_set())) == declared


def test_metrics_never_touch_the_global_default_registry() -> None:
    first, _, _ = populated()
    second = TradingMetrics()
    second.set_risk_state("HALTED")
    global_names = {s.name for fam in prometheus_client.REGISTRY.collect() for s in fam.samples}
    assert not any(n.startswith("intraday_jules_") for n in global_names)
    assert first.value("intraday_jules_risk_halted_bool") == 0
    assert second.value("intraday_jules_risk_halted_bool") == 1


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool absent (apt-get install prometheus)")
def test_promtool_lints_each_exposition_clean() -> None:
    for metrics in populated():
        result = subprocess.run(["promtool", "check", "metrics"], input=metrics.exposition(),
                                capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_update_portfolio_reports_the_book_and_zeroes_a_closed_position() -> None:
    trading, _, _ = populated()
    assert trading.value("intraday_jules_portfolio_cash_usd") == 9000.5
    assert trading.value("intraday_jules_portfolio_value_usd") == 10010.25
    assert trading.value("intraday_jules_position_notional_usd", symbol="NVDA") == 955.84
    assert trading.value("intraday_jules_pnl_unrealized_usd") == -1.5
    assert trading.value("intraday_jules_risk_drawdown_limit_usd") == 100
    assert trading.value("intraday_jules_risk_daily_loss_limit_usd") == 50
    trading.update_portfolio(cash=9950, value=9950, positions={"MSFT": (-2, -830.0)},
                             realized=0, unrealized=0, drawdown=0, drawdown_limit=100)
    assert trading.value("intraday_jules_position_size_shares", symbol="NVDA") == 0
    assert trading.value("intraday_jules_position_notional_usd", symbol="NVDA") == 0
    assert trading.value("intraday_jules_position_size_shares", symbol="MSFT") == -2
    assert trading.value("intraday_jules_risk_daily_loss_limit_usd") == 50  # optional: kept


@pytest.mark.parametrize("state", RISK_STATES)
def test_set_risk_state_sets_level_one_hot_flags_and_the_kill_switch(state: str) -> None:
    trading = TradingMetrics()
    trading.set_risk_state(state.lower())
    assert trading.value("intraday_jules_risk_state_level") == RISK_STATES.index(state)
    flags = {s: trading.value("intraday_jules_risk_state_bool", state=s) for s in RISK_STATES}
    assert flags == {s: float(s == state) for s in RISK_STATES}
    assert trading.value("intraday_jules_risk_halted_bool") == float(state == "HALTED")


def test_set_risk_state_with_an_unknown_state_raises_naming_it() -> None:
    with pytest.raises(ValueError, match="'PANIC'"):
        TradingMetrics().set_risk_state("PANIC")


def test_a_new_trading_metrics_starts_active_and_disconnected() -> None:
    trading = TradingMetrics()
    assert trading.value("intraday_jules_risk_state_level") == 0
    assert trading.value("intraday_jules_broker_connected_bool") == 0
    trading.set_broker_connected(True)
    assert trading.value("intraday_jules_broker_connected_bool") == 1


def test_observe_bar_reports_close_time_and_age_from_the_injected_clock() -> None:
    trading = TradingMetrics(clock=lambda: T0)
    age = trading.observe_bar("MSFT", "replay", T0 - timedelta(minutes=3))
    assert age == 120.0  # closed at T0 - 2 min
    labels = {"symbol": "MSFT", "source": "replay"}
    assert trading.value("intraday_jules_bar_age_seconds", **labels) == 120.0
    assert trading.value("intraday_jules_bar_newest_timestamp_seconds", **labels) == (
        (T0 - timedelta(minutes=2)).timestamp())
    assert trading.value("intraday_jules_bar_received_total", **labels) == 1


def test_observe_bar_with_a_naive_timestamp_raises() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        TradingMetrics().observe_bar("NVDA", "ibkr", datetime(2025, 2, 3, 14, 31))  # noqa: DTZ001


def test_latency_buckets_resolve_the_50_ms_target() -> None:
    below = [b for b in DECISION_LATENCY_BUCKETS if b <= 0.05]
    assert 0.05 in DECISION_LATENCY_BUCKETS and len(below) >= 8
    trading = TradingMetrics()
    trading.record_decision_latency(0.012)
    bucket = "intraday_jules_decision_latency_seconds_bucket"
    assert trading.value(bucket, le="0.01") == 0
    assert trading.value(bucket, le="0.015") == 1


@pytest.mark.parametrize("bad", [-0.001, math.nan, math.inf])
def test_an_impossible_latency_is_logged_not_raised_nor_recorded(
        bad: float, caplog: pytest.LogCaptureFixture) -> None:
    trading = TradingMetrics()
    trading.record_decision_latency(bad)
    assert trading.value("intraday_jules_decision_latency_seconds_count") == 0
    assert "ignored decision latency" in caplog.text


def test_counts_normalise_case_and_accept_a_seed_from_the_ledger() -> None:
    trading = TradingMetrics()
    trading.count_trade("NVDA", "sell", n=4)
    trading.count_action("MSFT", "Hold")
    assert trading.value("intraday_jules_trading_trades_total", symbol="NVDA", side="SELL") == 4
    assert trading.value("intraday_jules_policy_actions_total", symbol="MSFT",
                         action="hold") == 1


def test_record_ingest_counts_rows_and_stamps_the_time() -> None:
    _, pipeline, _ = populated()  # 390 rows, newest bar T0 - 20 h
    pipeline.record_ingest("NVDA", "simulated", 10, at=T0 + timedelta(hours=1),
                           newest_bar=T0 - timedelta(hours=30))  # an older session: kept out
    labels = {"symbol": "NVDA", "source": "simulated"}
    assert pipeline.value("intraday_jules_ingest_rows_total", **labels) == 400
    assert pipeline.value("intraday_jules_ingest_last_success_timestamp_seconds", **labels) == (
        (T0 + timedelta(hours=1)).timestamp())
    assert pipeline.value("intraday_jules_ingest_newest_bar_timestamp_seconds", **labels) == (
        (T0 - timedelta(hours=20)).timestamp())
    assert pipeline.value("intraday_jules_quality_checks_failed_total",
                          check="no_session_gaps", severity="WARN") == 1
    with pytest.raises(ValueError, match="tz-aware"):
        pipeline.record_ingest("NVDA", "simulated", 1, at=datetime(2025, 2, 3))  # noqa: DTZ001


def test_record_run_reports_steps_speed_reward_and_end_time_per_model() -> None:
    _, _, training = populated()
    assert training.value("intraday_jules_training_steps_total", model="foundation") == 2048
    assert training.value("intraday_jules_training_steps_per_second",
                          model="foundation") == 812.5
    assert training.value("intraday_jules_training_mean_episode_reward_usd",
                          model="foundation") == -3.25
    assert training.value("intraday_jules_training_last_success_timestamp_seconds",
                          model="foundation") == T0.timestamp()
    training.record_run("dual", steps=64, steps_per_s=None, mean_episode_reward=None)
    assert training.value("intraday_jules_training_steps_total", model="dual") == 64
    # unknown (no episode finished): no series rather than a made-up 0
    assert training.value("intraday_jules_training_mean_episode_reward_usd", model="dual") is None
    assert training.value("intraday_jules_training_steps_per_second", model="dual") is None


def test_public_url_strips_credentials_and_adds_a_scheme() -> None:
    assert public_url("https://bob:s3cret@gw.example:9091/base") == (
        "https://gw.example:9091/base", "bob", "s3cret")
    assert public_url("127.0.0.1:9091") == ("http://127.0.0.1:9091", None, None)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_push_to_a_dead_gateway_returns_false_counts_and_never_logs_the_password(
        caplog: pytest.LogCaptureFixture) -> None:
    trading = TradingMetrics()
    with caplog.at_level(logging.WARNING):
        ok = trading.push(f"http://bob:s3cret@127.0.0.1:{closed_port()}", "intraday_jules_test")
    assert ok is False
    assert trading.value("intraday_jules_metrics_push_failures_total") == 1
    assert "push to http://127.0.0.1:" in caplog.text
    assert "s3cret" not in caplog.text and "bob" not in caplog.text


def test_push_to_a_gateway_that_never_answers_gives_up_after_the_timeout() -> None:
    with socket.socket() as listener:  # accepts TCP (backlog) but never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        trading = TradingMetrics(push_timeout_s=0.3)
        started = time.monotonic()
        ok = trading.push(f"http://127.0.0.1:{port}", "intraday_jules_test")
        elapsed = time.monotonic() - started
    assert ok is False and elapsed < 3.0
    assert trading.value("intraday_jules_metrics_push_failures_total") == 1
