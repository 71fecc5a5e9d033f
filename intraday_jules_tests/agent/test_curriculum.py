"""Curricula (``TrainingConfig.curriculum``): the stage is a pure function of the steps done,
applied to every training env at each rollout, and recorded with the model."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList

from intraday_jules.agent import TrainingConfig
from intraday_jules.agent.curriculum import (
    CurriculumCallback,
    CurriculumStage,
    curriculum_callbacks,
    curriculum_stage,
)
from intraday_jules.agent.envs import make_training_env
from intraday_jules.agent.policy import SequenceLstmPolicy
from intraday_jules.env import TradingEnvConfig
from intraday_jules.env.synthetic import synthetic_market_arrays
from intraday_jules_tests.agent.conftest import tiny_config

DUAL = ("NVDA", "MSFT")


def test_cost_ramp_rises_linearly_to_full_costs_at_its_fraction() -> None:
    config = tiny_config(total_timesteps=1000, curriculum="cost_ramp", cost_ramp_fraction=0.8)
    multipliers = [curriculum_stage(config, s, DUAL).cost_multiplier
                   for s in (0, 200, 400, 800, 1000, 1200)]
    assert multipliers == pytest.approx([0.0, 0.25, 0.5, 1.0, 1.0, 1.0])
    assert curriculum_stage(config, 400, DUAL).held == ()


def test_nvda_first_holds_the_second_symbol_until_its_split_point() -> None:
    config = tiny_config(total_timesteps=1000, curriculum="nvda_first", nvda_first_fraction=0.3)
    assert curriculum_stage(config, 0, DUAL) == CurriculumStage(1.0, ("MSFT",))
    assert curriculum_stage(config, 299, DUAL).held == ("MSFT",)
    assert curriculum_stage(config, 300, DUAL) == CurriculumStage()
    assert curriculum_stage(config, 0, ("NVDA",)) == CurriculumStage()  # the foundation


def test_no_curriculum_adds_no_callback_and_bad_settings_are_refused() -> None:
    assert curriculum_callbacks(TrainingConfig()) == []
    assert TrainingConfig().curriculum == "none"
    assert curriculum_stage(TrainingConfig(), 0, DUAL) == CurriculumStage()
    with pytest.raises(ValueError, match="curriculum must be one of none, cost_ramp"):
        TrainingConfig(curriculum="ramp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nvda_first_fraction must be in"):
        TrainingConfig(nvda_first_fraction=0.0)


def test_every_design_choice_round_trips_with_the_model_and_old_models_still_load() -> None:
    config = TrainingConfig(curriculum="nvda_first", nvda_first_fraction=0.4,
                            env=TradingEnvConfig(reward="dsr", dsr_eta=0.05,
                                                 decision_interval_minutes=15))
    assert TrainingConfig.from_dict(config.to_dict()) == config
    old = TrainingConfig().to_dict()
    for key in ("curriculum", "cost_ramp_fraction", "nvda_first_fraction"):
        del old[key]
    for key in ("reward", "penalised_drawdown_coef", "penalised_turnover_coef", "dsr_eta",
                "decision_interval_minutes"):
        del old["env"][key]
    assert TrainingConfig.from_dict(old) == TrainingConfig()


class _Fills(BaseCallback):
    """Every step's (rollout, MSFT shares, commission, fills) of env 0."""

    def __init__(self) -> None:
        super().__init__()
        self.rollout = -1
        self.seen: list[tuple[int, int, float, int]] = []

    def _on_rollout_start(self) -> None:
        self.rollout += 1

    def _on_step(self) -> bool:
        info: dict[str, Any] = self.locals["infos"][0]
        self.seen.append((self.rollout, info["shares"][1], info["commission"], info["trades"]))
        return True


def _train(config: TrainingConfig) -> tuple[CurriculumCallback, _Fills]:
    """Two rollouts of a tiny dual model on synthetic sessions, the curriculum applied."""
    arrays = synthetic_market_arrays(n_sessions=2, seed=2)
    env = make_training_env(arrays, 2, config)
    model = RecurrentPPO(SequenceLstmPolicy, env, policy_kwargs=config.policy_kwargs(2),
                         verbose=0, **config.ppo_kwargs())
    curriculum, fills = CurriculumCallback(config), _Fills()
    model.learn(config.total_timesteps, callback=CallbackList([curriculum, fills]))
    env.close()
    return curriculum, fills


def test_nvda_first_training_never_trades_msft_before_the_split_then_does() -> None:
    curriculum, fills = _train(tiny_config(curriculum="nvda_first", nvda_first_fraction=0.5,
                                           ent_coef=0.5))
    assert curriculum.history == [(0, 1.0, ("MSFT",)), (32, 1.0, ())]
    assert all(shares == 0 for rollout, shares, _, _ in fills.seen if rollout == 0)
    assert any(shares != 0 for rollout, shares, _, _ in fills.seen if rollout == 1)


def test_cost_ramp_training_trades_free_first_then_pays_costs() -> None:
    config = replace(tiny_config(curriculum="cost_ramp", cost_ramp_fraction=1.0),
                     ent_coef=0.5)
    curriculum, fills = _train(config)
    assert curriculum.history == [(0, 0.0, ()), (32, 0.5, ())]
    first = [fee for rollout, _, fee, n in fills.seen if rollout == 0 and n]
    second = [fee for rollout, _, fee, n in fills.seen if rollout == 1 and n]
    assert first and all(fee == 0.0 for fee in first)
    assert second and all(fee > 0.0 for fee in second)
