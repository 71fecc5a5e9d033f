"""Every Grafana panel query and every alert rule names a metric the code emits.

"Emits" is read from the code's own registries: ``populated()`` builds TradingMetrics,
PipelineMetrics and TrainingMetrics through their typed setters and collects the sample names
(histograms as ``_bucket``/``_sum``/``_count``), not a grep of the source. Besides those, a
query may name a recording rule of ``alerts.yml`` or a series the Pushgateway itself adds to
every pushed group (``PUSHGATEWAY_SERIES``), each listed here by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from intraday_jules_tests.observability.populated import emitted_series_names
from intraday_jules_tests.observability.test_alert_rules import metric_names, recorded, rules

DASHBOARDS = Path(__file__).resolve().parents[2] / "docker" / "grafana" / "dashboards"
#: Series the Pushgateway serves for each group it holds (time of the last push and of the
#: last failed one), never sent by our code.
PUSHGATEWAY_SERIES = frozenset({"push_time_seconds", "push_failure_time_seconds"})


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def dashboard_queries() -> list[tuple[str, str]]:
    """(dashboard file: panel title, expr) of every panel target of every dashboard."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in panels(json.loads(path.read_text())):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((f"{path.name}: {panel['title']}", target["expr"]))
    return found


def alert_queries() -> list[tuple[str, str]]:
    return [(rule.get("alert") or rule["record"], rule["expr"]) for rule in rules()]


def known_series() -> frozenset[str]:
    return emitted_series_names() | recorded() | PUSHGATEWAY_SERIES


def unknown_metrics(queries: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Where -> the names its query selects that nothing emits."""
    known = known_series()
    out = {}
    for where, expr in queries:
        unknown = metric_names(expr) - known
        if unknown:
            out[where] = unknown
    return out


def dashboard_metric_names() -> set[str]:
    """Every series name the dashboards query (what the end-to-end test looks for)."""
    return {name for _, expr in dashboard_queries() for name in metric_names(expr)}


def test_every_dashboard_panel_query_names_a_metric_the_code_emits() -> None:
    queries = dashboard_queries()
    assert len(queries) >= 30
    assert all(metric_names(expr) for _, expr in queries), "a query without a metric"
    assert unknown_metrics(queries) == {}


def test_every_alert_rule_names_a_metric_the_code_emits_or_a_recording_rule() -> None:
    queries = alert_queries()
    assert {"DataQualityErrors", "BarsStale", "TradingHalted"} <= {w for w, _ in queries}
    assert unknown_metrics(queries) == {}


def test_the_check_reports_a_panel_naming_a_metric_that_does_not_exist() -> None:
    fake = [("fake: typo", 'sum by (symbol) (rate(intraday_jules_ingest_row_total{x="y"}[5m]))'),
            ("fake: scrape", "max(up) - max(push_time_seconds)"),
            ("fake: fine", "time() - max(intraday_jules_ingest_last_success_timestamp_seconds)")]
    assert unknown_metrics(fake) == {"fake: typo": {"intraday_jules_ingest_row_total"},
                                     "fake: scrape": {"up"}}


def test_the_pipeline_row_shows_ingest_quality_and_training_metrics() -> None:
    queried = dashboard_metric_names()
    for name in ("ingest_rows_total", "ingest_last_success_timestamp_seconds",
                 "ingest_newest_bar_timestamp_seconds", "quality_checks_failed_total",
                 "training_steps_per_second", "training_mean_episode_reward_usd",
                 "training_steps_total"):
        assert f"intraday_jules_{name}" in queried, name
