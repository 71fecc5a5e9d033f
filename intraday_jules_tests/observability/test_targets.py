"""The targets' gauges: ratios from percentages, met flags, and their own Pushgateway group
(pushed to a real gateway, read back from its ``/metrics``)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator

import pytest
from prometheus_client.exposition import delete_from_gateway

from intraday_jules.observability.metrics import METRIC_NAME_RE, TARGETS_JOB, TRADING_JOB
from intraday_jules.observability.targets import TargetMetrics
from intraday_jules_tests.observability.populated import populated_targets
from intraday_jules_tests.observability.test_pushgateway import key, read_group


def test_percentages_become_ratios_and_each_target_has_a_met_flag() -> None:
    metrics = populated_targets()
    assert metrics.value("intraday_jules_pnl_cumulative_usd") == 175.25
    assert metrics.value("intraday_jules_risk_max_drawdown_ratio") == 0.02
    assert metrics.value("intraday_jules_trading_uptime_ratio") == pytest.approx(0.994872)
    assert metrics.value("intraday_jules_trading_uptime_target_ratio") == 0.99
    flags = {t: metrics.value("intraday_jules_trading_target_met_bool", target=t)
             for t in ("pnl", "drawdown", "uptime")}
    assert flags == {"pnl": 0, "drawdown": 1, "uptime": 1}
    names = {s.name for f in metrics.registry.collect() for s in f.samples
             if not s.name.endswith("_created")}
    assert len(names) == 8 and all(METRIC_NAME_RE.match(n) for n in names)


def test_no_uptime_yet_is_nan_not_zero_and_an_unknown_target_is_refused() -> None:
    metrics = TargetMetrics()
    metrics.set_targets(cumulative_pnl_usd=0, pnl_target_usd=1000, max_drawdown_pct=0,
                        drawdown_target_pct=2, uptime_pct=None, uptime_target_pct=99,
                        met={"uptime": False})
    assert math.isnan(metrics.value("intraday_jules_trading_uptime_ratio") or 0.0)
    with pytest.raises(ValueError, match="unknown target"):
        metrics.set_targets(cumulative_pnl_usd=0, pnl_target_usd=1000, max_drawdown_pct=0,
                            drawdown_target_pct=2, uptime_pct=None, uptime_target_pct=99,
                            met={"sharpe": True})


@pytest.fixture
def deployment(pushgateway_url: str) -> Iterator[str]:
    """A deployment label of our own, its groups deleted afterwards (CI shares one gateway)."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    for job in (TRADING_JOB, TARGETS_JOB):
        delete_from_gateway(pushgateway_url, job=job, grouping_key={"deployment": name},
                            timeout=5)


def _group(gateway: str, job: str, deployment: str) -> dict[tuple[str, frozenset[tuple[str, str]]],
                                                               float]:
    return {(name, frozenset(kv for kv in labels if kv[0] != "deployment")): value
            for (name, labels), value in read_group(gateway, job, "").items()
            if ("deployment", deployment) in labels}


def test_targets_push_to_their_own_group_and_leave_the_trading_group_alone(
        pushgateway_url: str, deployment: str) -> None:
    from intraday_jules.observability.metrics import TradingMetrics

    trading = TradingMetrics()
    trading.set_risk_state("REDUCING")
    assert trading.push(pushgateway_url, TRADING_JOB, {"deployment": deployment})
    assert populated_targets().push_targets(pushgateway_url, deployment)
    targets = _group(pushgateway_url, TARGETS_JOB, deployment)
    assert targets[key("intraday_jules_pnl_cumulative_usd")] == 175.25
    assert targets[key("intraday_jules_trading_target_met_bool", target="pnl")] == 0
    assert key("intraday_jules_risk_state_level") not in targets
    assert _group(pushgateway_url, TRADING_JOB, deployment)[
        key("intraday_jules_risk_state_level")] == 1  # still there after the targets' push
