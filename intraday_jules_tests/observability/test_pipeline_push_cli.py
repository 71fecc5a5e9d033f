"""``intraday-jules ingest``, ``quality`` and ``train`` push their run's metrics to the
Pushgateway of ``INTRADAY_JULES_PUSHGATEWAY_URL`` (a real one), through the same functions as
the Dagster assets; without it they push nothing, and a dead gateway never fails the command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from prometheus_client.exposition import delete_from_gateway
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from intraday_jules.cli import ingest_cmd, quality_cmd, train_cmd
from intraday_jules.observability.metrics import PIPELINE_JOB
from intraday_jules_tests.builders import session_bars, write_csv
from intraday_jules_tests.observability.conftest import (
    free_port,
    pushgateway_url,  # noqa: F401 - fixture
)

GROUPS = ([{"pipeline": "ingest", "symbol": s} for s in ("NVDA", "MSFT")]
          + [{"pipeline": "quality", "symbol": s} for s in ("NVDA", "MSFT")]
          + [{"pipeline": "training", "model": m} for m in ("foundation", "dual")])
FAILED = "intraday_jules_quality_checks_failed_total"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    for command in (ingest_cmd, quality_cmd, train_cmd):
        command.register(app)
    return app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        pushgateway_url: str) -> Iterator[pytest.MonkeyPatch]:  # noqa: F811
    """Settings of a ci deployment pushing to the test gateway; its groups deleted after."""
    monkeypatch.setenv("INTRADAY_JULES_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INTRADAY_JULES_DATABASE_URL", f"sqlite:///{tmp_path / 'ij.db'}")
    monkeypatch.setenv("INTRADAY_JULES_DEPLOYMENT", "ci")
    monkeypatch.setenv("INTRADAY_JULES_PUSHGATEWAY_URL", pushgateway_url)
    monkeypatch.setenv("INTRADAY_JULES_FOUNDATION_STEPS", "64")
    monkeypatch.setenv("INTRADAY_JULES_DUAL_STEPS", "64")
    yield monkeypatch
    for group in GROUPS:
        delete_from_gateway(pushgateway_url, job=PIPELINE_JOB,
                            grouping_key={"deployment": "ci", **group}, timeout=5)


def group(gateway: str, **labels: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(name, other labels) -> value of the ci group with ``labels``."""
    text = httpx.get(f"{gateway}/metrics", timeout=5).text
    wanted = {"job": PIPELINE_JOB, "deployment": "ci", **labels}
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if all(s.labels.get(k) == v for k, v in wanted.items()):
                rest = frozenset((k, v) for k, v in s.labels.items()
                                 if k not in wanted and k != "instance")
                out[(s.name, rest)] = s.value
    return out


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def replay_file(tmp_path: Path, nvda_minutes: int) -> Path:
    """2025-01-03: ``nvda_minutes`` NVDA minutes, a full MSFT session."""
    import pandas as pd

    path = tmp_path / "bars.csv"
    write_csv(path, pd.concat([session_bars("NVDA", n=nvda_minutes, source=None),
                               session_bars("MSFT", price=400.0, source=None)]))
    return path


def run(app: typer.Typer, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--json"])


def test_ingest_pushes_rows_newest_bar_and_checks_per_symbol(
        app: typer.Typer, env: pytest.MonkeyPatch, tmp_path: Path,
        pushgateway_url: str) -> None:  # noqa: F811
    path = replay_file(tmp_path, nvda_minutes=390)
    result = run(app, "ingest", "--symbols", "NVDA,MSFT", "--start", "2025-01-03",
                 "--end", "2025-01-03", "--source", "replay", "--replay-path", str(path))
    assert result.exit_code == 0, result.output
    msft = group(pushgateway_url, pipeline="ingest", symbol="MSFT")
    assert msft[key("intraday_jules_ingest_rows_total", source="replay")] == 390
    # 15:59 ET bar closes 16:00 ET = 21:00 UTC
    assert msft[key("intraday_jules_ingest_newest_bar_timestamp_seconds",
                    source="replay")] == 1735938000.0
    assert msft[key(FAILED, check="ohlc_consistent", severity="ERROR")] == 0
    assert msft[key("intraday_jules_metrics_push_failures_total")] == 0
    nvda = group(pushgateway_url, pipeline="ingest", symbol="NVDA")
    assert nvda[key("intraday_jules_ingest_rows_total", source="replay")] == 390


def test_quality_pushes_each_symbols_failed_checks_to_its_own_group(
        app: typer.Typer, env: pytest.MonkeyPatch, tmp_path: Path,
        pushgateway_url: str) -> None:  # noqa: F811
    path = replay_file(tmp_path, nvda_minutes=200)  # NVDA misses 190 minutes, MSFT is whole
    result = run(app, "quality", "--symbols", "NVDA,MSFT", "--start", "2025-01-03",
                 "--end", "2025-01-03", "--source", "replay", "--replay-path", str(path))
    assert result.exit_code == 1, result.output  # an ERROR check failed
    failed = {c["name"] for c in json.loads(result.stdout)["checks"]
              if c["severity"] == "ERROR" and not c["passed"]}
    assert failed
    nvda = group(pushgateway_url, pipeline="quality", symbol="NVDA")
    msft = group(pushgateway_url, pipeline="quality", symbol="MSFT")
    for check in failed:
        assert nvda[key(FAILED, check=check, severity="ERROR")] == 1, check
        assert msft[key(FAILED, check=check, severity="ERROR")] == 0, check
    assert not group(pushgateway_url, pipeline="ingest", symbol="NVDA")  # no ingest group


def test_train_pushes_each_models_steps_and_speed(
        app: typer.Typer, env: pytest.MonkeyPatch, sim_minute_file: Path,
        pushgateway_url: str) -> None:  # noqa: F811
    result = run(app, "train", "--source", "replay", "--replay-path", str(sim_minute_file),
                 "--end", "2025-02-14")
    assert result.exit_code == 0, result.output
    models = json.loads(result.stdout)["models"]
    for name in ("foundation", "dual"):
        pushed = group(pushgateway_url, pipeline="training", model=name)
        # whole rollouts: 16 envs x 64 steps for a budget of 64
        assert pushed[key("intraday_jules_training_steps_total")] == 1024
        assert pushed[key("intraday_jules_training_steps_per_second")] == (
            models[name]["steps_per_s"])
        assert pushed[key("intraday_jules_training_last_success_timestamp_seconds")] > 0
        # 64 steps per env finish no 335-step session: no reward rather than a made-up one
        assert key("intraday_jules_training_mean_episode_reward_usd") not in pushed


def test_a_dead_gateway_is_logged_and_the_ingest_still_succeeds(
        app: typer.Typer, env: pytest.MonkeyPatch, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    env.setenv("INTRADAY_JULES_PUSHGATEWAY_URL", f"http://127.0.0.1:{free_port()}")
    path = replay_file(tmp_path, nvda_minutes=390)
    result = run(app, "ingest", "--symbols", "MSFT", "--start", "2025-01-03",
                 "--end", "2025-01-03", "--source", "replay", "--replay-path", str(path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["symbols"]["MSFT"]["inserted"] == 390
    assert any("metrics push" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)
