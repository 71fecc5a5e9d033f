"""The Grafana dashboard queries only metrics that ``metrics.py`` declares, in valid PromQL,
through the provisioned datasource, and has the panels an operator needs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from intraday_jules.observability.metrics import exposed_series_names

DOCKER = Path(__file__).resolve().parents[2] / "docker"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "intraday_jules.json"
DATASOURCES = DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"
OUR_NAME = re.compile(r"\bintraday_jules_\w+")
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
#: Grafana's macros, replaced by what Grafana would send so promtool can parse the query.
MACROS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def exprs() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


def test_dashboard_queries_only_metrics_declared_in_metrics_py() -> None:
    referenced = {name for e in exprs() for name in OUR_NAME.findall(QUOTED.sub('""', e))}
    assert len(referenced) >= 15
    assert referenced - exposed_series_names() == set()


def test_every_panel_uses_the_provisioned_datasource_by_uid() -> None:
    uid = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]["uid"]
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert all(t["datasource"]["uid"] == uid for t in panel["targets"]), panel["title"]


def test_dashboard_has_a_panel_for_every_fact_an_operator_watches() -> None:
    by_expr = " ".join(exprs())
    for metric in ("portfolio_value_usd", "portfolio_cash_usd", "position_size_shares",
                   "position_notional_usd", "trading_trades_total", "pnl_realized_usd",
                   "pnl_unrealized_usd", "risk_drawdown_usd", "risk_drawdown_limit_usd",
                   "risk_state_level", "risk_halted_bool", "decision_latency_seconds_bucket",
                   "bar_newest_timestamp_seconds", "broker_connected_bool",
                   "policy_actions_total"):
        assert f"intraday_jules_{metric}" in by_expr, metric
    assert "histogram_quantile(0.5," in by_expr and "histogram_quantile(0.99," in by_expr
    assert dashboard()["schemaVersion"] >= 36 and dashboard()["uid"]


def test_risk_state_panel_maps_levels_to_state_names() -> None:
    panel = next(p for p in panels() if p["title"] == "Risk state")
    assert "intraday_jules_risk_state_level" in panel["targets"][0]["expr"]
    assert panel["type"] == "stat"
    options = panel["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {k: v["text"] for k, v in options.items()} == {
        "0": "ACTIVE", "1": "REDUCING", "2": "HALTED"}
    assert options["2"]["color"] == "red"


def test_panel_ids_and_positions_do_not_collide() -> None:
    all_panels = dashboard()["panels"]
    assert len({p["id"] for p in all_panels}) == len(all_panels)
    cells = set()
    for p in all_panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps another panel"
                cells.add((x, y))


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool absent (apt-get install prometheus)")
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = []
    for i, expr in enumerate(exprs()):
        for macro, value in MACROS.items():
            expr = expr.replace(macro, value)
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout
