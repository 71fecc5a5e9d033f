"""Every metric set of ``metrics.py`` with every metric holding a sample, built through the
typed setters the code calls: what the code can emit, read from the registries themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from intraday_jules.observability.metrics import PipelineMetrics, TradingMetrics, TrainingMetrics
from intraday_jules.observability.targets import TargetMetrics

T0 = datetime(2025, 2, 3, 14, 31, tzinfo=UTC)
MetricSet = TradingMetrics | PipelineMetrics | TrainingMetrics | TargetMetrics


def populated() -> tuple[TradingMetrics, PipelineMetrics, TrainingMetrics]:
    """The three metric sets, every labelled metric with at least one series."""
    trading = TradingMetrics(clock=lambda: T0)
    trading.observe_bar("NVDA", "simulated", T0 - timedelta(minutes=2))
    trading.record_decision_latency(0.012)
    trading.update_portfolio(cash=Decimal("9000.50"), value=Decimal("10010.25"),
                             positions={"NVDA": (7, Decimal("955.84"))}, realized=Decimal("3.1"),
                             unrealized=-1.5, drawdown=4, drawdown_limit=Decimal("100"),
                             daily_pnl=-2.5, daily_loss_limit=50)
    trading.count_trade("NVDA", "buy")
    trading.count_action("NVDA", "BUY")
    pipeline = PipelineMetrics(clock=lambda: T0)
    pipeline.record_ingest("NVDA", "simulated", 390, newest_bar=T0 - timedelta(hours=20))
    pipeline.count_quality_failure("no_session_gaps", "warn")
    training = TrainingMetrics(clock=lambda: T0)
    training.record_run("foundation", steps=2048, steps_per_s=812.5, mean_episode_reward=-3.25)
    return trading, pipeline, training


def populated_targets() -> TargetMetrics:
    """Every target gauge holding a value (the hand-built ledger's whole-ledger targets)."""
    metrics = TargetMetrics()
    metrics.set_targets(cumulative_pnl_usd=175.25, pnl_target_usd=1000, max_drawdown_pct=2,
                        drawdown_target_pct=2, uptime_pct=99.4872, uptime_target_pct=99,
                        met={"pnl": False, "drawdown": True, "uptime": True})
    return metrics


def every_metric_set() -> tuple[MetricSet, ...]:
    """Every metric set the code pushes, populated: the loop's, the pipelines', the targets'."""
    return (*populated(), populated_targets())


def sample_names(metrics: MetricSet) -> set[str]:
    """Every series name the registry exposes (histograms as ``_bucket``/``_sum``/``_count``;
    prometheus_client's ``_created`` companions left out: a push does not send them to
    queries we write)."""
    return {sample.name for family in metrics.registry.collect() for sample in family.samples
            if not sample.name.endswith("_created")}


def metric_names(metrics: MetricSet) -> set[str]:
    """Metric names as exposed, histogram series folded back into their metric's name."""
    names = set()
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            names.add(family.name if family.type == "histogram" else sample.name)
    return names


def emitted_series_names() -> frozenset[str]:
    """Every series name the code's metric sets emit once populated."""
    return frozenset(name for metrics in every_metric_set() for name in sample_names(metrics))
