"""Training curricula (``TrainingConfig.curriculum``): the task eases the agent in.

- "none": every rollout is the evaluated task (costs 1x, every symbol traded).
- "cost_ramp": the envs' cost multiplier is ``min(1, progress / cost_ramp_fraction)``, so the
  agent first learns what moves prices without costs drowning every signal (with $1,000
  positions a ~$1 commission is as large as a typical one-minute move), then learns to trade
  only what pays for its costs.
- "nvda_first": for the first ``nvda_first_fraction`` of the steps every symbol after the
  first is forced to hold (the dual model trades NVDA alone, the task its foundation knows),
  then the policy trades both: the seed's "curriculum learning with dual-ticker actions".

``progress`` is the steps done / ``total_timesteps``. The stage is a pure function of it, set
on every env at the start of each rollout (``CurriculumCallback``), so a run resumed from a
checkpoint continues the same curriculum. The stages applied are kept in
``CurriculumCallback.history`` as ``(steps, cost multiplier, held symbols)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stable_baselines3.common.callbacks import BaseCallback

from intraday_jules.agent.config import TrainingConfig


@dataclass(frozen=True)
class CurriculumStage:
    """What the envs do during one rollout: scale their costs, hold some symbols."""

    cost_multiplier: float = 1.0
    held: tuple[str, ...] = ()


def curriculum_stage(config: TrainingConfig, steps_done: int,
                     symbols: Sequence[str]) -> CurriculumStage:
    """The stage of ``config.curriculum`` after ``steps_done`` of ``config.total_timesteps``
    steps, for envs trading ``symbols`` (first = the one "nvda_first" keeps)."""
    progress = min(max(steps_done / config.total_timesteps, 0.0), 1.0)
    if config.curriculum == "cost_ramp":
        return CurriculumStage(cost_multiplier=min(1.0, progress / config.cost_ramp_fraction))
    if config.curriculum == "nvda_first" and progress < config.nvda_first_fraction:
        return CurriculumStage(held=tuple(symbols[1:]))
    return CurriculumStage()


class CurriculumCallback(BaseCallback):
    """Sets ``curriculum_stage`` on every training env before each rollout."""

    def __init__(self, config: TrainingConfig) -> None:
        super().__init__()
        self.config = config
        self.history: list[tuple[int, float, tuple[str, ...]]] = []
        self._applied: CurriculumStage | None = None

    def _on_training_start(self) -> None:
        self._apply()

    def _on_rollout_start(self) -> None:
        self._apply()

    def _on_step(self) -> bool:
        return True

    def _apply(self) -> None:
        env = self.training_env
        symbols = tuple(env.get_attr("symbols", indices=[0])[0])
        stage = curriculum_stage(self.config, self.num_timesteps, symbols)
        if stage == self._applied:
            return
        env.env_method("set_cost_multiplier", stage.cost_multiplier)
        env.env_method("hold_symbols", stage.held)
        self._applied = stage
        self.history.append((self.num_timesteps, stage.cost_multiplier, stage.held))


def curriculum_callbacks(config: TrainingConfig) -> list[BaseCallback]:
    """The callbacks ``config.curriculum`` needs (none for "none")."""
    return [] if config.curriculum == "none" else [CurriculumCallback(config)]
