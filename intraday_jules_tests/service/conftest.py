"""Service fixtures: tiny models trained on simulated NVDA/MSFT minutes (``sim_minute_file``,
the seeded simulator's stand-in for the recorded Jan-Feb 2025 file, so nothing here needs
../shared), a registry on a SQLite file, and the real server
(``uvicorn intraday_jules.service.app:app``) in a child process over them."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import uvicorn
from fastapi import FastAPI

from intraday_jules.agent import (
    ModelBundle,
    ModelStore,
    prepare_data,
    split_sessions,
    train_dual,
    train_foundation,
)
from intraday_jules.agent.data import DateWindow, cut_to_window
from intraday_jules.db.engine import create_db_engine
from intraday_jules.features import DEFAULT_SPEC, FeatureSpec
from intraday_jules.market_data.replay import read_bars_file
from intraday_jules.service.loadcheck import ServiceProcess, run_service
from intraday_jules_tests.agent.conftest import tiny_config

torch.set_num_threads(1)  # 2 shared cores

SESSION = date(2025, 2, 20)  # in the test split: never seen in training
#: A live spec other than the default: same features, longer warm-up (another hash).
OTHER_SPEC = FeatureSpec(features=DEFAULT_SPEC.features, lookback=60)


@dataclass(frozen=True)
class Models:
    """Ids in the registry: a foundation, two duals, and a dual saved with another spec."""

    store: ModelStore
    foundation: str = "foundation-1"
    dual_a: str = "dual-a"
    dual_b: str = "dual-b"
    other_spec: str = "dual-other-spec"


@pytest.fixture(scope="session")
def sim_bars(sim_minute_file: Path) -> pd.DataFrame:
    """Simulated NVDA+MSFT minutes, 2025-01-02..2025-02-28, extended hours included."""
    return read_bars_file(sim_minute_file)


@pytest.fixture(scope="session")
def session_bars(sim_bars: pd.DataFrame) -> pd.DataFrame:
    """One whole test-split session (extended hours included), in time order."""
    day = cut_to_window(sim_bars, DateWindow(SESSION, SESSION))
    return day.sort_values(["ts", "symbol"]).reset_index(drop=True)


@pytest.fixture(scope="session")
def service_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service_home")


@pytest.fixture(scope="session")
def models(sim_bars: pd.DataFrame, service_home: Path) -> Models:
    """Trains (64 steps each) and saves the models; nothing is promoted yet."""
    days = sorted(set(sim_bars["ts"].dt.tz_convert("America/New_York").dt.date))
    data = prepare_data(sim_bars, train_window=split_sessions(days).train,
                        origin="simulated test file")
    foundation = train_foundation(data, tiny_config(seed=3))
    store = ModelStore(service_home / "models",
                       create_db_engine(f"sqlite:///{service_home / 'intraday_jules.db'}"))
    ids = Models(store)
    store.save(foundation, model_id=ids.foundation)
    duals: dict[str, ModelBundle] = {
        ids.dual_a: train_dual(data, foundation, tiny_config(seed=3)),
        ids.dual_b: train_dual(data, foundation, tiny_config(seed=4))}
    for model_id, bundle in duals.items():
        store.save(bundle, model_id=model_id)
    store.save(replace(duals[ids.dual_a], spec=OTHER_SPEC, model_id=None),
               model_id=ids.other_spec)
    return ids


def set_champion(store: ModelStore, model_id: str | None) -> None:
    """Make ``model_id`` the champion (None: no champion) through the registry's append-only
    decisions, exactly as the promotion gate records them."""
    current = store.champion_id()
    if current == model_id:
        return
    if model_id is None:
        assert current is not None
        store.record_decision(current, "retired", "test: leave the service without a model")
    else:
        store.record_decision(model_id, "promoted", "test: promoted directly")


def service_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a server process: ours, minus any INTRADAY_JULES_* of the shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTRADAY_JULES_")}
    env.update({"INTRADAY_JULES_HOME": str(home),
                "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{home / 'intraday_jules.db'}",
                "INTRADAY_JULES_LOG_LEVEL": "INFO", "OMP_NUM_THREADS": "1", **extra})
    return env


@pytest.fixture(scope="session")
def server(models: Models, service_home: Path) -> Iterator[ServiceProcess]:
    """The module-level app under the uvicorn CLI, configured by environment variables only."""
    with run_service(service_env(service_home), service_home / "service.log") as service:
        yield service


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """``app`` under a real ``uvicorn.Server`` on 127.0.0.1 (ephemeral port) in a thread."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-thread server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def bars_payload(bars: pd.DataFrame) -> list[dict[str, Any]]:
    """Bars as the request's JSON list (ts ISO 8601 UTC)."""
    return [{"symbol": r.symbol, "ts": r.ts.isoformat(), "open": float(r.open),
             "high": float(r.high), "low": float(r.low), "close": float(r.close),
             "volume": int(r.volume)} for r in bars.itertuples(index=False)]


def first_regular_minutes(bars: pd.DataFrame, n: int) -> pd.DataFrame:
    """The session's bars (pre-market included) up to its ``n``-th regular-hours minute."""
    minutes = bars["ts"].dt.tz_convert("America/New_York")
    regular = (minutes.dt.hour * 60 + minutes.dt.minute) >= 9 * 60 + 30
    last = sorted(bars.loc[regular, "ts"].unique())[n - 1]
    return bars[bars["ts"] <= last]
