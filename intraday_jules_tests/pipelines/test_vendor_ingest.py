"""Issue 4's "done means": the real CLI ingests from the fake TWS gateway (real ib_async client)
and from the Alpha Vantage replay server (real HTTP client) and stores exactly the replay
file's bars; with the gateway killed mid-backfill, failover completes from Alpha Vantage with
correct provenance."""

import json
import os
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

from intraday_jules.domain.calendar import session_window
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.market_data.store import BarStore
from intraday_jules.testing.alpha_vantage_server import AlphaVantageServer
from intraday_jules.testing.fake_tws import FakeTwsThread

KEY = "AVKEY-7Q2X9PLM"
START, END = "2025-01-06", "2025-01-10"  # 4 sessions (01-09 was a market closure)


@pytest.fixture
def replay_path(sim_minute_file):
    """Two months of realistic NVDA+MSFT minutes (the seeded simulator, all hours)."""
    return sim_minute_file


@pytest.fixture
def env(tmp_path):
    home = tmp_path / "home"
    return {**os.environ, "INTRADAY_JULES_HOME": str(home),
            "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{home / 'ij.db'}",
            "INTRADAY_JULES_ALPHA_VANTAGE_KEY": KEY, "INTRADAY_JULES_AV_CALLS_PER_MINUTE": "100",
            "INTRADAY_JULES_AV_CALLS_PER_DAY": "100", "INTRADAY_JULES_LOG_LEVEL": "DEBUG"}


def ingest(env, source, timeout=240):
    proc = subprocess.run(
        [sys.executable, "-m", "intraday_jules.cli", "ingest", "--symbols", "NVDA,MSFT",
         "--start", START, "--end", END, "--source", source, "--json"],
        env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert KEY not in proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def expected_regular_bars(replay_path):
    bars = ReplaySource(replay_path).bars
    keep = pd.Series(False, index=bars.index)
    for day in pd.bdate_range(START, END).date:
        try:
            w = session_window(day)
        except ValueError:
            continue
        keep |= (bars["ts"] >= w.open) & (bars["ts"] < w.close)
    return bars[keep].drop(columns="source").sort_values(["symbol", "ts"]).reset_index(drop=True)


def stored(env):
    store = BarStore.open(env["INTRADAY_JULES_DATABASE_URL"])
    try:
        return store.read()
    finally:
        store.close()


def test_ibkr_source_through_the_cli_stores_the_replay_files_bars(env, replay_path):
    with FakeTwsThread(replay_path) as gateway:
        env = {**env, "INTRADAY_JULES_IB_PORT": str(gateway.port)}
        data = ingest(env, "ibkr")
    assert data["symbols"]["NVDA"]["sources"] == ["ibkr"]
    got = stored(env)
    assert set(got["source"]) == {"ibkr"}
    pd.testing.assert_frame_equal(got.drop(columns="source"), expected_regular_bars(replay_path))


def test_alpha_vantage_source_through_the_cli_stores_the_replay_files_bars(env, replay_path):
    with AlphaVantageServer.from_replay_file(replay_path, api_key=KEY) as server:
        env = {**env, "INTRADAY_JULES_AV_BASE_URL": server.base_url}
        ingest(env, "alpha_vantage")
        requests = len(server.requests)
    got = stored(env)
    assert set(got["source"]) == {"alpha_vantage"}
    pd.testing.assert_frame_equal(got.drop(columns="source"), expected_regular_bars(replay_path))
    assert requests == 2  # one month per symbol, cached on disk for the other sessions


def test_gateway_killed_mid_backfill_completes_from_alpha_vantage_with_provenance(
        env, replay_path):
    gateway = FakeTwsThread(replay_path)
    port = gateway.start()

    def kill_after_three_requests() -> None:
        deadline = time.monotonic() + 120
        while len(gateway.gateway.historical_requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        gateway.stop()

    killer = threading.Thread(target=kill_after_three_requests, daemon=True)
    killer.start()
    with AlphaVantageServer.from_replay_file(replay_path, api_key=KEY) as server:
        env = {**env, "INTRADAY_JULES_IB_PORT": str(port),
               "INTRADAY_JULES_AV_BASE_URL": server.base_url}
        data = ingest(env, "ibkr,alpha_vantage")
    killer.join(5)
    got = stored(env)
    pd.testing.assert_frame_equal(got.drop(columns="source"), expected_regular_bars(replay_path))
    by_source = got.groupby("source").size().to_dict()
    assert by_source.get("ibkr", 0) >= 390  # sessions served before the kill keep "ibkr"
    assert by_source.get("alpha_vantage", 0) >= 390  # the rest came from the failover
    reported = set(data["symbols"]["NVDA"]["sources"]) | set(data["symbols"]["MSFT"]["sources"])
    assert reported == {"ibkr", "alpha_vantage"}
    first_session = got[got["ts"] < pd.Timestamp("2025-01-07", tz="UTC")]
    assert set(first_session["source"]) == {"ibkr"}  # served before the gateway died
