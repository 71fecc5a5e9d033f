"""The promoted model behind the Policy protocol: the ``LivePolicy`` adapter, and a real
(untrained) RecurrentPPO through the loop, whose LSTM state a restart rebuilds exactly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from intraday_jules.env.actions import BUY, HOLD, SELL
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.trading import Observation
from intraday_jules.trading.promoted import PromotedPolicy
from intraday_jules_tests.trading.conftest import (
    SESSION,
    ScriptedFeed,
    SimulatedCrash,
    item_index,
    ledger_json,
    minute,
    replay,
)


@dataclass
class FakeDecision:
    ts: pd.Timestamp
    per_asset: dict[str, str]


class FakeLive:
    """Stands in for ``LivePolicy`` (our own interface): records what it was given."""

    symbols = ("MSFT", "NVDA")  # the model's order may differ from the session's

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def decide_features(self, ts: Any, raw: np.ndarray, closes: Sequence[float], *,
                        warm: bool, row: int, shares: Sequence[int]) -> FakeDecision:
        self.calls.append({"ts": ts, "raw": raw.tolist(), "closes": list(closes),
                           "warm": warm, "row": row, "shares": list(shares)})
        return FakeDecision(pd.Timestamp(ts), {"NVDA": "buy", "MSFT": "sell"})


def observe(n: int, positions: tuple[int, int], replaying: bool = False) -> Observation:
    return Observation(SESSION, minute(n), n, ("NVDA", "MSFT"), ("f",),
                       np.array([[1.0], [2.0]]), (100.0, 400.0), positions, (0.0, 0.0),
                       replaying, True, n)


def test_adapter_maps_the_models_per_asset_actions_to_the_sessions_symbols() -> None:
    policy = PromotedPolicy(FakeLive())
    assert policy.act(observe(50, (3, 0))) == (BUY, SELL)


def test_adapter_steps_the_model_during_warm_up_on_the_shares_actually_held() -> None:
    live = FakeLive()
    policy = PromotedPolicy(live)
    policy.reset(SESSION)
    assert policy.act(observe(50, (0, 0), replaying=True)) == (HOLD, HOLD)
    assert policy.act(observe(51, (8, 2), replaying=True)) == (HOLD, HOLD)
    assert policy.act(observe(52, (8, 0))) == (BUY, SELL)
    # the minute's own rows, closes and positions, in the model's symbol order (MSFT first)
    assert live.calls == [
        {"ts": minute(n), "raw": [[2.0], [1.0]], "closes": [400.0, 100.0], "warm": True,
         "row": n, "shares": list(shares)}
        for n, shares in ((50, (0, 0)), (51, (2, 8)), (52, (0, 8)))]


def untrained_live_policy(source: ReplaySource) -> Any:
    """A freshly initialised dual RecurrentPPO wrapped in the agent's ``LivePolicy``."""
    import torch
    from sb3_contrib import RecurrentPPO

    from intraday_jules.agent import DateWindow, LivePolicy, ModelBundle, TrainingConfig
    from intraday_jules.agent.data import prepare_data
    from intraday_jules.agent.envs import make_training_env
    from intraday_jules.agent.policy import SequenceLstmPolicy

    torch.set_num_threads(1)
    sessions = [date(2025, 1, 28), date(2025, 1, 29)]
    bars = source.bars.drop(columns=["source"])
    bars = bars[bars["ts"].dt.tz_convert("America/New_York").dt.date.isin(sessions)]
    config = TrainingConfig.dual(n_envs=1, seed=0)
    window = DateWindow.of(sessions)
    data = prepare_data(bars, train_window=window)
    env = make_training_env(data.window(window), 2, config)
    model = RecurrentPPO(SequenceLstmPolicy, env, policy_kwargs=config.policy_kwargs(2),
                         verbose=0, **config.ppo_kwargs())
    bundle = ModelBundle(model, "dual", ("NVDA", "MSFT"), data.spec, data.normalizers,
                         config, window, data.data_hashes)
    return LivePolicy(bundle, seed=0)


@pytest.fixture(scope="module")
def live_factory(replay_source: ReplaySource) -> Any:
    pytest.importorskip("sb3_contrib")
    return lambda: untrained_live_policy(replay_source)


def test_restart_rebuilds_the_lstm_state_and_repeats_the_uninterrupted_decisions(
        tmp_path: Path, replay_source: ReplaySource, live_factory: Any) -> None:
    until = minute(75)
    clean_live = live_factory()
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    replay(clean_url, replay_source, PromotedPolicy(clean_live), until=until).run()

    url, journal = f"sqlite:///{tmp_path / 'crash.db'}", tmp_path / "broker.jsonl"
    crashing = replay(url, replay_source, PromotedPolicy(live_factory()), until=until,
                      journal=journal)
    crashing.feed = ScriptedFeed(crashing.feed, crash_after=item_index(62))  # type: ignore
    with pytest.raises(SimulatedCrash):
        crashing.run()
    restarted_live = live_factory()
    result = replay(url, replay_source, PromotedPolicy(restarted_live), until=until,
                    journal=journal).run()

    assert result.restarted and result.warmup_minutes == 62
    assert ledger_json(url) == ledger_json(clean_url)
    assert ledger_json(url)["orders"], "the untrained model should trade"
    np.testing.assert_array_equal(restarted_live.lstm_state, clean_live.lstm_state)
    assert [d.ts for d in restarted_live.history] == [d.ts for d in clean_live.history]
