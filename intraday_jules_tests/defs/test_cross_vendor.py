"""Where both vendors have the same bars, `sources_agree` (WARN) compares them on each
partition: IB through the real ib_async client and the fake gateway, Alpha Vantage through the
real HTTP client and the replay server."""

import dagster as dg

from intraday_jules.definitions import build_definitions
from intraday_jules.defs.common.partitions import partition_key
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.testing.alpha_vantage_server import AlphaVantageServer
from intraday_jules.testing.fake_tws import FakeTwsThread

KEY = "AVKEY-CROSS-CHECK-1"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _run(settings_for, gateway_port, av_url, monkeypatch):
    monkeypatch.setenv("INTRADAY_JULES_ALPHA_VANTAGE_KEY", KEY)
    settings = settings_for(market_sources=("ibkr", "alpha_vantage"), cross_vendor_check=True,
                            ib_port=gateway_port, av_base_url=av_url, av_calls_per_minute=100,
                            av_calls_per_day=100)
    defs = build_definitions(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("ingest_bars_job").execute_in_process(
            instance=instance, partition_key=str(partition_key("2025-01-06", "NVDA")),
            run_config=QUIET)
    return result, {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_identical_vendors_agree(settings_for, sim_minute_file, monkeypatch):
    path = sim_minute_file
    with FakeTwsThread(path) as gateway, \
            AlphaVantageServer.from_replay_file(path, api_key=KEY) as server:
        result, checks = _run(settings_for, gateway.port, server.base_url, monkeypatch)
    assert result.success
    assert checks["sources_agree"].passed
    meta = result.asset_materializations_for_node("market_data__bars")[0].metadata
    assert meta["source"].value == "ibkr"


def test_disagreeing_vendors_fail_the_warn_check_with_the_worst_examples(
        settings_for, sim_minute_file, monkeypatch):
    path = sim_minute_file
    bars = ReplaySource(path).bars.drop(columns="source")
    shifted = bars.copy()
    bad = (shifted["symbol"] == "NVDA") & (shifted["ts"].dt.strftime("%Y-%m-%d") == "2025-01-06")
    factor = 1.02  # every NVDA price 2% off on that day: far outside the tolerance in bps
    for column in ("open", "high", "low", "close"):
        shifted.loc[bad, column] = (shifted.loc[bad, column] * factor).round(4)
    with FakeTwsThread(path) as gateway, \
            AlphaVantageServer(shifted, api_key=KEY) as server:
        result, checks = _run(settings_for, gateway.port, server.base_url, monkeypatch)
    assert result.success  # WARN: recorded and shown, not blocking
    check = checks["sources_agree"]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    offending = check.metadata["offending"].value
    assert offending and offending[0]["symbol"] == "NVDA"
    assert check.metadata["failures"].value > 0
