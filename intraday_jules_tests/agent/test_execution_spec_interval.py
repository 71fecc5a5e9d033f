"""A model trained with a 5-minute decision interval records it in its ExecutionSpec (a new
spec version), and its evaluation decides on exactly the bars of the spec's ``SessionSchedule``
(the schedule ``LivePolicy`` and the trading loop ask)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from intraday_jules.agent import DateWindow, ExecutionSpec, PreparedData, evaluate
from intraday_jules.agent.rollout import build_envs, rollout
from intraday_jules.agent.training import train_dual_from_scratch
from intraday_jules.env import DualTickerTradingEnv, TradingEnvConfig
from intraday_jules.risk import RiskLimits
from intraday_jules_tests.agent.conftest import tiny_config

HOLD_BOTH = 4


def test_the_spec_carries_the_interval_both_ways_and_builds_its_schedule() -> None:
    env = TradingEnvConfig(decision_interval_minutes=15)
    spec = ExecutionSpec.from_env(env, ("NVDA", "MSFT"))
    assert spec.decision_interval_minutes == 15
    assert spec.env_config().decision_interval_minutes == 15
    assert spec.version != ExecutionSpec.from_env(TradingEnvConfig(), spec.symbols).version
    assert ExecutionSpec.from_dict(spec.to_dict()) == spec
    assert spec.matches_env(replace(env, decision_interval_minutes=5)) == [
        "decision_interval_minutes: spec 15, env 5"]
    spec.check_honoured(RiskLimits(), ("NVDA", "MSFT"))
    schedule = spec.session_schedule(date(2025, 2, 5))
    assert (schedule.interval_minutes, schedule.lookback, schedule.flatten_bars) == (15, 50, 5)
    with pytest.raises(ValueError, match="decision interval 7 minutes is not supported"):
        replace(spec, decision_interval_minutes=7).session_schedule(date(2025, 2, 5))


def test_a_five_minute_model_is_evaluated_on_its_spec_schedules_bars(
        real_data: PreparedData, short_validation: DateWindow) -> None:
    config = tiny_config(seed=5, env=TradingEnvConfig(decision_interval_minutes=5))
    bundle = train_dual_from_scratch(real_data, config)
    spec = bundle.execution
    assert spec.decision_interval_minutes == 5
    report = evaluate(bundle, real_data, window=short_validation, seeds=1)
    assert report.to_dict()["execution_spec"]["decision_interval_minutes"] == 5

    arrays = real_data.window(short_validation, bundle.symbols)
    env_config = spec.env_config(bundle.config.env)
    envs = build_envs(arrays, DualTickerTradingEnv, env_config, spec.execution_model(), 1)
    trajectory = rollout(envs, lambda _k, obs, _shares: np.full(len(obs), HOLD_BOTH))[0]
    starts, stops = arrays.session_bounds()
    for session, day in enumerate(arrays.session_dates):
        span = slice(int(starts[session]), int(stops[session]))
        ts_us = arrays.ts[span].astype("datetime64[us]").view(np.int64)
        mask = spec.session_schedule(day).decision_rows(
            np.arange(len(ts_us)), arrays.warmup[span], ts_us)
        evaluated = trajectory.bar[trajectory.session == session] - starts[session]
        assert evaluated.tolist() == np.flatnonzero(mask).tolist()
        minutes = (ts_us[evaluated] - ts_us[0]) // 60_000_000
        assert all(m % 5 == 0 for m in minutes[:-1].tolist())  # the last is the flatten
