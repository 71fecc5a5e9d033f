"""``ModelBundle``: a trained policy and everything needed to use it honestly later."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sb3_contrib import RecurrentPPO

from intraday_jules.agent.config import TrainingConfig
from intraday_jules.agent.data import DateWindow
from intraday_jules.agent.execution_spec import ExecutionSpec
from intraday_jules.features import FeatureSpec
from intraday_jules.features.normalize import Normalizer

ModelKind = Literal["foundation", "dual"]


class ModelMismatchError(ValueError):
    """A model does not fit the live system (FeatureSpec hash or observation shape)."""


@dataclass(eq=False)
class ModelBundle:
    """A RecurrentPPO model with its features, normalisation and provenance.

    kind: "foundation" (NVDA only, obs 13, 3 actions) or "dual" (NVDA + MSFT, obs 26, 9).
    symbols: traded symbols in observation order.
    spec: the FeatureSpec the model was trained on (its ``version`` hash must match live).
    normalizers: per symbol, fit on the training window only.
    train_window: the sessions it was trained on (evaluation refuses to overlap them).
    data_hashes: per symbol sha256 of the training bars.
    metrics: training figures (learning curve, wall time, fps) and later evaluation results.
    parent_id: for a transferred dual model, the foundation it started from.
    model_id: set once the bundle is saved in a ``ModelStore``.
    execution: how it trades (``ExecutionSpec``: shorts, step, cap, timing, costs, book).
        None derives it from ``config.env`` and ``symbols`` with the default cost model
        (what training used); a given spec must agree with ``config.env``, so
        ``config.env.position_rules()`` and ``execution.position_rules()`` are the same.
    """

    model: RecurrentPPO
    kind: ModelKind
    symbols: tuple[str, ...]
    spec: FeatureSpec
    normalizers: Mapping[str, Normalizer]
    config: TrainingConfig
    train_window: DateWindow
    data_hashes: Mapping[str, str]
    metrics: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    model_id: str | None = None
    execution: ExecutionSpec = None  # type: ignore[assignment]  # None: derived, see above

    def __post_init__(self) -> None:
        if self.execution is None:
            self.execution = ExecutionSpec.from_training(self.config, self.symbols)
        elif self.execution.symbols != tuple(self.symbols):
            raise ModelMismatchError(f"execution spec symbols {self.execution.symbols} differ "
                                     f"from the model's {tuple(self.symbols)}")
        else:
            differ = self.execution.matches_env(self.config.env)
            if differ:
                raise ModelMismatchError("execution spec and training env disagree: "
                                         + "; ".join(differ))

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.model.observation_space.shape or ())

    @property
    def n_actions(self) -> int:
        return int(self.model.action_space.n)  # type: ignore[attr-defined]  # Discrete

    @property
    def spec_version(self) -> str:
        return self.spec.version

    def expected_obs_shape(self, spec: FeatureSpec) -> tuple[int, ...]:
        """The observation shape a live env with ``spec`` gives for this model's symbols."""
        n = len(self.symbols)
        return (n * len(spec.names) + n,)

    def check_compatible(self, live_spec: FeatureSpec,
                         obs_shape: tuple[int, ...] | None = None) -> None:
        """Refuse (``ModelMismatchError``, naming both hashes/shapes) a model whose
        FeatureSpec or observation shape differs from the live one."""
        name = self.model_id or f"unsaved {self.kind} model"
        if self.spec.version != live_spec.version:
            raise ModelMismatchError(
                f"model {name} was trained with FeatureSpec {self.spec.version}, but the live "
                f"FeatureSpec is {live_spec.version}; retrain it or run the matching spec")
        expected = obs_shape or self.expected_obs_shape(live_spec)
        if tuple(expected) != self.obs_shape:
            raise ModelMismatchError(
                f"model {name} observes shape {self.obs_shape} (FeatureSpec "
                f"{self.spec.version}), the live env gives {tuple(expected)} (FeatureSpec "
                f"{live_spec.version})")
