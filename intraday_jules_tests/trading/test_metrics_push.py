"""The loop pushes its metrics to a real Pushgateway on every minute and at the end."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.trading import Collaborators
from intraday_jules_tests.trading.conftest import minute, replay


def test_session_pushes_book_risk_state_latency_and_trades(
        tmp_path: Path, replay_source: ReplaySource, pushgateway_url: str) -> None:
    extras = Collaborators(push_url=pushgateway_url, push_group=(("deployment", "test"),),
                           report=False)
    result = replay(f"sqlite:///{tmp_path / 'm.db'}", replay_source, "always-buy",
                    until=minute(60), extras=extras).run()
    text = httpx.get(f"{pushgateway_url}/metrics", timeout=5).text
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples
               if s.labels.get("deployment") == "test"
               and s.labels.get("job") == "intraday_jules_trading"]

    def value(name: str, **labels: str) -> float:
        [found] = [s.value for s in samples if s.name == name
                   and all(s.labels.get(k) == v for k, v in labels.items())]
        return float(found)

    assert value("intraday_jules_risk_state_level") == 0
    assert value("intraday_jules_decision_latency_seconds_count") == len(result.latencies_ms)
    assert value("intraday_jules_trading_trades_total", symbol="NVDA", side="BUY") == 1
    assert value("intraday_jules_position_size_shares", symbol="NVDA") > 0
    assert value("intraday_jules_portfolio_value_usd") == float(result.end_equity)
    assert value("intraday_jules_broker_connected_bool") == 1
