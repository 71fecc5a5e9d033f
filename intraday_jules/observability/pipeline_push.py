"""Push one ingested partition's data-quality verdict to the Pushgateway (alert
``DataQualityErrors`` in ``docker/prometheus/alerts.yml``).

One group per (deployment, symbol): the latest ingest of a symbol replaces the previous one, so
an ERROR check that failed keeps the alert firing until the symbol's next ingest passes, and a
passing ingest pushes a group without failures (the alert resolves). Inputs are plain values
(check name, severity, passed), so this module imports no pipeline code. Like every push, a
failure is logged and counted, never raised: metrics must not fail an ingest.
"""

from __future__ import annotations

from collections.abc import Iterable

from intraday_jules.observability.metrics import PIPELINE_JOB, PipelineMetrics

#: (check name, severity ERROR | WARN, passed)
CheckOutcome = tuple[str, str, bool]


def quality_metrics(outcomes: Iterable[CheckOutcome]) -> PipelineMetrics:
    """A registry with one ``quality_checks_failed_total{check,severity}`` per failed check."""
    metrics = PipelineMetrics()
    for check, severity, passed in outcomes:
        if not passed:
            metrics.count_quality_failure(check, severity)
    return metrics


def push_partition_quality(gateway_url: str | None, *, deployment: str, symbol: str,
                           outcomes: Iterable[CheckOutcome]) -> bool:
    """Push the partition's failed checks; False when no gateway is configured (nothing
    pushed) or the push failed (logged and counted by ``push``)."""
    if not gateway_url:
        return False
    return quality_metrics(outcomes).push(gateway_url, PIPELINE_JOB,
                                          {"deployment": deployment, "symbol": symbol})
