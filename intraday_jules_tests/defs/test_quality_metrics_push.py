"""The data-quality alert and the Pipeline panels have something to watch: ingesting a
partition pushes its rows, newest bar and checks (failed: 1, passed: 0) to a real Pushgateway,
one group per (deployment, pipeline="ingest", symbol); the symbol's next passing ingest
replaces it with a group without failures (alert ``DataQualityErrors`` resolves)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from prometheus_client.exposition import delete_from_gateway
from prometheus_client.parser import text_string_to_metric_families

from intraday_jules.definitions import build_definitions
from intraday_jules.defs.common.partitions import partition_key
from intraday_jules.observability.metrics import PIPELINE_JOB
from intraday_jules.observability.pipeline_push import push_ingest, quality_metrics
from intraday_jules_tests.builders import session_bars, write_csv
from intraday_jules_tests.observability.conftest import pushgateway_url  # noqa: F401 - fixture

BARS = dg.AssetKey(["market_data", "bars"])
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
FAILED = "intraday_jules_quality_checks_failed_total"
GROUP = {"deployment": "ci", "pipeline": "ingest", "symbol": "NVDA"}


def group_samples(gateway: str, symbol: str) -> list[Any]:
    """The samples of the ci ingest group of ``symbol``."""
    text = httpx.get(f"{gateway}/metrics", timeout=5).text
    return [s for family in text_string_to_metric_families(text) for s in family.samples
            if s.labels.get("job") == PIPELINE_JOB and s.labels.get("deployment") == "ci"
            and s.labels.get("pipeline") == "ingest" and s.labels.get("symbol") == symbol]


def failures(gateway: str, symbol: str) -> dict[tuple[str, str], float] | None:
    """(check, severity) -> count of the ci group of ``symbol``; None if there is no group."""
    group = group_samples(gateway, symbol)
    if not group:
        return None
    return {(s.labels["check"], s.labels["severity"]): s.value for s in group if s.name == FAILED}


@pytest.fixture
def nvda_group(pushgateway_url: str) -> Iterator[None]:  # noqa: F811
    delete_from_gateway(pushgateway_url, job=PIPELINE_JOB, grouping_key=GROUP, timeout=5)
    yield
    delete_from_gateway(pushgateway_url, job=PIPELINE_JOB, grouping_key=GROUP, timeout=5)


def ingest(settings: Any, day: str) -> dg.ExecuteInProcessResult:
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection={BARS})
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(partition_key=str(partition_key(day, "NVDA")),
                                      instance=instance, raise_on_error=False,
                                      run_config=QUIET)


def test_quality_metrics_count_failed_checks_by_name_and_severity_and_passed_ones_at_0() -> None:
    metrics = quality_metrics([("no_missing_sessions", "ERROR", False),
                               ("ohlc_consistent", "ERROR", True),
                               ("volume_regime_stable", "WARN", False)])
    assert metrics.value(FAILED, check="no_missing_sessions", severity="ERROR") == 1
    assert metrics.value(FAILED, check="volume_regime_stable", severity="WARN") == 1
    assert metrics.value(FAILED, check="ohlc_consistent", severity="ERROR") == 0
    assert metrics.value(FAILED, check="ohlc_consistent", severity="WARN") is None


def test_without_a_gateway_nothing_is_pushed() -> None:
    assert push_ingest(None, deployment="ci", symbol="NVDA", outcomes=[]) is False


def test_an_ingest_failing_an_error_check_is_pushed_and_the_next_passing_ingest_clears_it(
        settings_for: Any, tmp_path: Path, pushgateway_url: str,  # noqa: F811
        nvda_group: None) -> None:
    truncated = tmp_path / "truncated.csv"  # 200 of 390 minutes
    write_csv(truncated, session_bars("NVDA", n=200, source=None))
    failing = ingest(settings_for(market_sources=("replay",), replay_path=truncated,
                                  pushgateway_url=pushgateway_url), "2025-01-03")
    assert not failing.success  # the blocking check failed the step
    pushed = failures(pushgateway_url, "NVDA")
    assert pushed is not None and pushed[("no_missing_sessions", "ERROR")] == 1
    assert pushed[("ohlc_consistent", "ERROR")] == 0  # ran and passed

    complete = tmp_path / "complete.csv"
    write_csv(complete, session_bars("NVDA", source=None))
    passing = ingest(settings_for(market_sources=("replay",), replay_path=complete,
                                  pushgateway_url=pushgateway_url), "2025-01-03")
    assert passing.success
    after = failures(pushgateway_url, "NVDA")
    assert after is not None  # the group is there (pushed) ...
    assert after[("no_missing_sessions", "ERROR")] == 0  # ... without an ERROR failure
    assert not [key for key, n in after.items() if key[1] == "ERROR" and n > 0]
    pushed_ingest = {s.name: s for s in group_samples(pushgateway_url, "NVDA")
              if s.name.startswith("intraday_jules_ingest_")}
    assert pushed_ingest["intraday_jules_ingest_rows_total"].value == 190  # 200 of 390 were stored
    assert pushed_ingest["intraday_jules_ingest_rows_total"].labels["source"] == "replay"
    # the complete session's 15:59 ET bar closes at 16:00 ET = 21:00 UTC
    assert pushed_ingest["intraday_jules_ingest_newest_bar_timestamp_seconds"].value == (
        datetime(2025, 1, 3, 21, 0, tzinfo=UTC).timestamp())
