"""Push what an ingestion, data-quality or training run did to the Pushgateway (the Grafana
"Pipeline" row, alert ``DataQualityErrors`` in ``docker/prometheus/alerts.yml``).

Every group goes to the job ``intraday_jules_pipeline`` under a stable grouping key:

- ``{deployment, pipeline="ingest", symbol}``: the symbol's latest ingest (the Dagster bars
  asset, or ``intraday-jules ingest`` over a range): rows written, last success, newest bar,
  and the data-quality checks run at ingest (0 for a passing check). The next ingest of the
  symbol replaces the group, so an ERROR check that failed keeps the alert firing until the
  symbol's next ingest passes.
- ``{deployment, pipeline="quality", symbol}``: the symbol's latest ``intraday-jules quality``
  check of a range (it writes nothing, so it gets its own group and never hides an ingest's).
- ``{deployment, pipeline="training", model}``: the model kind's (foundation, dual, scratch)
  latest training run: steps done, steps/s, mean episode reward, end time.

Inputs are plain values (check name, severity, passed; rows; times), so this module imports no
pipeline code. ``gateway_url`` None or empty (``settings.pushgateway_url`` unset) pushes
nothing. Like every push, a failure is logged as a warning and counted, never raised: metrics
must not fail a run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from intraday_jules.observability.metrics import (
    PIPELINE_JOB,
    PipelineMetrics,
    TrainingMetrics,
)

#: (check name, severity ERROR | WARN, passed)
CheckOutcome = tuple[str, str, bool]


@dataclass(frozen=True)
class IngestOutcome:
    """One ingested (session, symbol) partition, as the metrics see it."""

    symbol: str
    #: where the written rows came from (``"ibkr"``, ``"ibkr,alpha_vantage"`` after failover)
    source: str
    rows_written: int
    #: close time of the newest bar stored, None when nothing was stored
    newest_bar: datetime | None
    checks: tuple[CheckOutcome, ...] = ()


def count_checks(metrics: PipelineMetrics, outcomes: Iterable[CheckOutcome]) -> None:
    """One ``quality_checks_failed_total{check,severity}`` per check: +1 if it failed, +0
    (the series exists at 0) if it passed."""
    for check, severity, passed in outcomes:
        metrics.count_quality_failure(check, severity, 0 if passed else 1)


def quality_metrics(outcomes: Iterable[CheckOutcome]) -> PipelineMetrics:
    """A registry with the checks' verdicts (see ``count_checks``)."""
    metrics = PipelineMetrics()
    count_checks(metrics, outcomes)
    return metrics


def ingest_metrics(outcomes: Iterable[IngestOutcome], *,
                   at: datetime | None = None) -> PipelineMetrics:
    """A registry with the partitions' rows, newest bar, last success (``at``, default now)
    and check verdicts, summed over the partitions."""
    metrics = PipelineMetrics()
    for outcome in outcomes:
        metrics.record_ingest(outcome.symbol, outcome.source, outcome.rows_written, at,
                              newest_bar=outcome.newest_bar)
        count_checks(metrics, outcome.checks)
    return metrics


def _push(metrics: PipelineMetrics | TrainingMetrics, gateway_url: str | None,
          group: dict[str, str]) -> bool:
    if not gateway_url:
        return False
    return metrics.push(gateway_url, PIPELINE_JOB, group)


def push_ingest(gateway_url: str | None, *, deployment: str, symbol: str,
                outcomes: Iterable[IngestOutcome], at: datetime | None = None) -> bool:
    """Replace the symbol's ingest group; False when no gateway is configured (nothing
    pushed) or the push failed (logged and counted by ``push``)."""
    outcomes = list(outcomes)
    others = sorted({o.symbol for o in outcomes} - {symbol})
    if others:
        raise ValueError(f"push_ingest for {symbol!r} got outcomes of {others}: one group "
                         "per symbol, push each symbol's own")
    return _push(ingest_metrics(outcomes, at=at), gateway_url,
                 {"deployment": deployment, "pipeline": "ingest", "symbol": symbol})


def push_quality(gateway_url: str | None, *, deployment: str, symbol: str,
                 outcomes: Iterable[CheckOutcome]) -> bool:
    """Replace the symbol's group of ``intraday-jules quality`` (a check without an ingest)."""
    return _push(quality_metrics(outcomes), gateway_url,
                 {"deployment": deployment, "pipeline": "quality", "symbol": symbol})


def push_training(gateway_url: str | None, *, deployment: str, model: str, steps: int,
                  steps_per_s: float | None, mean_episode_reward: float | None,
                  at: datetime | None = None) -> bool:
    """Replace the group of ``model``'s (foundation | dual | scratch) training runs."""
    metrics = TrainingMetrics()
    metrics.record_run(model, steps=steps, steps_per_s=steps_per_s,
                       mean_episode_reward=mean_episode_reward, at=at)
    return _push(metrics, gateway_url,
                 {"deployment": deployment, "pipeline": "training", "model": model})
