"""ExecutionSpec: hashed like the FeatureSpec, the source of every consumer's rules, and
refused (every reason, both sides named) where the live limits cannot honour it."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from intraday_jules.agent import (
    ExecutionSpec,
    ExecutionSpecMismatch,
    ModelBundle,
    ModelMismatchError,
    TrainingConfig,
)
from intraday_jules.env import ExecutionConfig, PositionRules, TradingEnvConfig
from intraday_jules.risk import RiskLimits

SPEC = ExecutionSpec(symbols=("NVDA", "MSFT"))


def test_the_defaults_are_the_live_loops_long_only_one_minute_rules() -> None:
    assert SPEC.allow_short is False and SPEC.decision_interval_minutes == 1
    assert SPEC.position_rules() == PositionRules(1000.0, 1000.0, allow_short=False)
    assert ExecutionSpec.from_training(TrainingConfig(), ("NVDA", "MSFT")) == SPEC
    assert SPEC.evaluation_book_usd == TradingEnvConfig().initial_cash == 10_000.0
    assert SPEC.execution_config() == ExecutionConfig()
    SPEC.check_honoured(RiskLimits(), ("MSFT", "NVDA"))  # the live defaults honour it


def test_version_is_the_sha256_of_canonical_json_and_changes_with_any_rule() -> None:
    assert len(SPEC.version) == 64
    assert SPEC.canonical_json() == json.dumps(SPEC.to_dict(), sort_keys=True,
                                               separators=(",", ":"))
    assert ExecutionSpec.from_dict(json.loads(SPEC.canonical_json())) == SPEC
    assert ExecutionSpec.from_dict(SPEC.to_dict()).version == SPEC.version
    changed = [replace(SPEC, allow_short=True), replace(SPEC, step_notional=500.0),
               replace(SPEC, max_position_notional=900.0), replace(SPEC, lookback=60),
               replace(SPEC, flatten_bars_before_close=10), replace(SPEC, symbols=("NVDA",)),
               replace(SPEC, decision_interval_minutes=5),
               replace(SPEC, costs=ExecutionConfig(impact_bps="1")),
               replace(SPEC, evaluation_book_usd=20_000.0)]
    versions = {s.version for s in changed}
    assert len(versions) == len(changed) and SPEC.version not in versions


@pytest.mark.parametrize(("field", "value"), [
    ("decision_interval_minutes", 0), ("flatten_bars_before_close", 0), ("lookback", -1),
    ("step_notional", 0.0), ("max_position_notional", -5.0), ("evaluation_book_usd", 0.0),
    ("symbols", ()), ("symbols", ("NVDA", "NVDA")), ("allow_short", "yes"),
])
def test_bad_values_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"ExecutionSpec.{field}"):
        replace(SPEC, **{field: value})


def test_the_env_config_carries_the_spec_and_keeps_the_bases_other_settings() -> None:
    spec = replace(SPEC, allow_short=True, step_notional=250.0, lookback=40,
                   evaluation_book_usd=5_000.0)
    base = TradingEnvConfig(drawdown_penalty=0.5, episode_length=None)
    env = spec.env_config(base)
    assert env.drawdown_penalty == 0.5 and env.episode_length is None
    assert env.position_rules() == spec.position_rules() and env.initial_cash == 5_000.0
    assert ExecutionSpec.from_env(env, spec.symbols, spec.costs) == spec
    assert replace(spec, decision_interval_minutes=5).env_config().decision_interval_minutes == 5
    with pytest.raises(ValueError, match="decision interval 7 minutes is not supported"):
        replace(spec, decision_interval_minutes=7).env_config()


def test_every_reason_the_limits_cannot_honour_it_is_listed_naming_both_sides() -> None:
    spec = replace(SPEC, allow_short=True, max_position_notional=2500.0,
                   step_notional=1500.0, decision_interval_minutes=7)
    with pytest.raises(ExecutionSpecMismatch) as caught:
        spec.check_honoured(RiskLimits(), ("NVDA", "AAPL"), model="dual-x")
    reasons = caught.value.reasons
    assert len(reasons) == 5
    message = str(caught.value)
    assert message.startswith("model dual-x's execution spec cannot be honoured: ")
    for both_sides in ("long/short (allow_short=True)", "forbid shorts (allow_short=False)",
                       "cap $2500.0", "max position per asset $1000",
                       "step $1500.0", "max order $1000",
                       "trades NVDA, MSFT", "session trades NVDA, AAPL",
                       "every 7 minutes", "every 1, 5, 15 minutes only"):
        assert both_sides in message
    allowing = RiskLimits(allow_short=True, max_position_usd=Decimal("2500"),
                          max_order_usd=Decimal("1500"))
    for supported in (1, 5, 15):
        assert replace(spec, decision_interval_minutes=supported).unhonoured(
            allowing, ("MSFT", "NVDA")) == []


def test_a_bundle_derives_its_spec_from_its_config_and_refuses_one_that_disagrees(
        dual: ModelBundle) -> None:
    assert dual.execution.symbols == dual.symbols == ("NVDA", "MSFT")
    assert dual.execution.position_rules() == dual.config.env.position_rules()
    assert dual.execution == ExecutionSpec.from_training(dual.config, dual.symbols)
    with pytest.raises(ModelMismatchError, match="allow_short: spec True, env False"):
        replace(dual, execution=replace(dual.execution, allow_short=True))
    with pytest.raises(ModelMismatchError, match="symbols"):
        replace(dual, execution=replace(dual.execution, symbols=("NVDA",)))
