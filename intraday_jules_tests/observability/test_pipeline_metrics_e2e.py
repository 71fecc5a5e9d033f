"""End to end: a small pipeline (ingest two simulated sessions of NVDA + MSFT with their
quality checks, a tiny training run, the first hour of a replayed trading session and the
seed's targets over it) pushes to a real Pushgateway, and every metric the Grafana dashboard
queries is then served by it.

Every group of this test carries its own ``deployment`` label (the gateway may be shared with
other test runs) and is deleted afterwards. Nothing is excluded: the one series no code of ours
sends, ``push_time_seconds``, is added by the Pushgateway to each pushed group."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from prometheus_client.exposition import delete_from_gateway
from prometheus_client.parser import text_string_to_metric_families

from intraday_jules.agent import TrainingConfig, prepare_data, split_sessions
from intraday_jules.agent.training import train_foundation
from intraday_jules.domain.clock import system_clock
from intraday_jules.env import TradingEnvConfig
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.market_data.store import BarStore
from intraday_jules.observability.metrics import PIPELINE_JOB, TARGETS_JOB, TRADING_JOB
from intraday_jules.pipelines.ingest import QualityGate, ingest_partition, push_ingest_metrics
from intraday_jules.pipelines.performance import push_targets, track_targets
from intraday_jules.pipelines.training import push_training_metrics
from intraday_jules.settings import Settings
from intraday_jules.trading import Collaborators
from intraday_jules_tests.observability.conftest import pushgateway_url  # noqa: F401 - fixture
from intraday_jules_tests.observability.test_dashboard_metrics import dashboard_metric_names
from intraday_jules_tests.trading.conftest import minute, replay

SYMBOLS = ("NVDA", "MSFT")
SESSIONS = (date(2025, 2, 3), date(2025, 2, 4))
#: Smallest run whose episodes finish (so the mean episode reward exists): 16-step episodes.
TINY = TrainingConfig(total_timesteps=64, n_envs=2, n_steps=32, batch_size=32, n_epochs=1,
                      lstm_hidden_size=8, net_arch=(8,), checkpoint_freq=0,
                      episode_mode="env", env=TradingEnvConfig(episode_length=16))


@pytest.fixture
def deployment(pushgateway_url: str) -> Iterator[str]:  # noqa: F811
    """A deployment label of our own; every group pushed under it is deleted afterwards."""
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    yield name
    groups = [(TRADING_JOB, {"deployment": name}), (TARGETS_JOB, {"deployment": name})]
    groups += [(PIPELINE_JOB, {"deployment": name, "pipeline": "ingest", "symbol": s})
               for s in SYMBOLS]
    groups += [(PIPELINE_JOB, {"deployment": name, "pipeline": "training",
                               "model": "foundation"})]
    for job, key in groups:
        delete_from_gateway(pushgateway_url, job=job, grouping_key=key, timeout=5)


def served(gateway: str, deployment: str) -> dict[str, list[float]]:
    """Series name -> values the gateway serves under ``deployment``."""
    text = httpx.get(f"{gateway}/metrics", timeout=5).text
    out: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("deployment") == deployment:
                out.setdefault(sample.name, []).append(sample.value)
    return out


def ingest_and_check(source: ReplaySource, database: str, gateway: str, deployment: str) -> None:
    store = BarStore.open(database)
    gate = QualityGate(clock=system_clock, known_symbols=SYMBOLS)
    try:
        results = [ingest_partition(source, store, symbol, day, gate=gate)
                   for day in SESSIONS for symbol in SYMBOLS]
    finally:
        store.close()
    assert [r.written for r in results] == [390] * 4
    push_ingest_metrics(gateway, deployment, results)


def train_tiny(source: ReplaySource, gateway: str, deployment: str) -> None:
    bars = source.bars
    splits = split_sessions(sorted(set(bars["ts"].dt.tz_convert("America/New_York").dt.date)))
    data = prepare_data(bars, train_window=splits.train, origin="simulated minutes")
    bundle = train_foundation(data, TINY)
    assert bundle.metrics["learning_curve"], "no episode finished: no reward to report"
    push_training_metrics(gateway, deployment, "foundation", bundle.metrics)


def push_tracked_targets(ledger_url: str, home: Path, gateway: str, deployment: str) -> None:
    """What the trading job does after each session: the targets over the ledger, pushed."""
    settings = Settings.from_env({}, home=home / "home", database_url=ledger_url,
                                 pushgateway_url=gateway, deployment=deployment)
    ledger = Ledger.connect(ledger_url)
    try:
        assert push_targets(track_targets(ledger, settings), settings)
    finally:
        ledger.engine.dispose()


def test_a_small_pipeline_pushes_every_metric_the_dashboard_queries(
        tmp_path: Path, sim_regular_minute_file: Path, pushgateway_url: str,  # noqa: F811
        deployment: str) -> None:
    source = ReplaySource(sim_regular_minute_file)
    ingest_and_check(source, f"sqlite:///{tmp_path / 'bars.db'}", pushgateway_url, deployment)
    train_tiny(source, pushgateway_url, deployment)
    extras = Collaborators(push_url=pushgateway_url, push_group=(("deployment", deployment),),
                           report=False)
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    replay(ledger_url, source, "always-buy", until=minute(60), extras=extras).run()
    push_tracked_targets(ledger_url, tmp_path, pushgateway_url, deployment)

    got = served(pushgateway_url, deployment)
    wanted = dashboard_metric_names()
    assert len(wanted) >= 25
    assert sorted(wanted - set(got)) == [], " ".join(sorted(wanted - set(got)))
    assert got["intraday_jules_ingest_rows_total"] == [780.0, 780.0]  # 2 sessions x 390, each
    assert got["intraday_jules_training_steps_total"] == [64.0]
    # one per pushed group: ingest x 2 symbols, training, trading, targets
    assert got["intraday_jules_metrics_push_failures_total"] == [0.0] * 5
