"""The promoted model behind the ``Policy`` protocol: an adapter over ``agent.LivePolicy``.

The loop computes each minute's raw feature rows once (``observe.SessionBars``) and hands them
over in the observation; the adapter passes them, with the minute's aligned row, warm flag,
closes and the shares actually held (so risk denials and partial fills are what the model
sees), to ``LivePolicy.decide_features``, which normalises them with the model's statistics
and steps its LSTM on the schedule's decision bars. During a restart's warm-up (replayed
stored minutes) it steps the same way and discards the action, so the LSTM state after a
restart equals an uninterrupted run's.

A model trades under its own ``ExecutionSpec``: ``promoted_loader`` refuses
(``ExecutionSpecMismatch``, every reason, before the weights are read) a model the session's
risk limits cannot honour, which the loop records as MODEL_LOAD_FAILED with no order; and
``model_session_config`` gives the session the model's position rules, timing and costs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from intraday_jules.env.actions import ACTION_NAMES, HOLD
from intraday_jules.risk.limits import RiskLimits
from intraday_jules.trading.config import SessionConfig
from intraday_jules.trading.policies import Actions, Observation, Policy

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from intraday_jules.agent.execution_spec import ExecutionSpec

PROMOTED_REF = "promoted"  # agent.model_store.PROMOTED, without importing torch here

log = logging.getLogger(__name__)


class PromotedPolicy:
    """``Policy`` over a ``LivePolicy`` (anything with ``symbols`` and ``decide_features``)."""

    def __init__(self, live: Any, name: str = "promoted") -> None:
        self.live = live
        self.name = name

    def reset(self, session: date) -> None:
        """Nothing to do: ``LivePolicy`` starts its state at each new session's first bar."""

    def act(self, observation: Observation) -> Actions:
        order = [observation.symbols.index(s) for s in self.live.symbols]
        decision = self.live.decide_features(
            observation.ts, np.asarray(observation.features)[order],
            [observation.closes[i] for i in order], warm=observation.warm,
            row=observation.row, shares=[observation.positions[i] for i in order])
        if observation.replaying:
            return (HOLD,) * len(observation.symbols)
        ts = pd.Timestamp(observation.ts)
        if decision is None or decision.ts != ts:
            log.warning("promoted model made no decision on %s (its decision bars differ "
                        "from the session's): holding", ts)
            return (HOLD,) * len(observation.symbols)
        return tuple(ACTION_NAMES.index(decision.per_asset[s]) for s in observation.symbols)

    # What traded, for the ledger's ``session_policies`` (the shadow replay reads it back).
    @property
    def model_id(self) -> str | None:
        return getattr(getattr(self.live, "bundle", None), "model_id", None)

    @property
    def seed(self) -> int | None:
        return getattr(self.live, "seed", None)

    @property
    def mode(self) -> str | None:
        return getattr(self.live, "mode", None)


def promoted_loader(models_dir: Path, engine: Engine, *, seed: int = 0,
                    ref: str = PROMOTED_REF, limits: RiskLimits | None = None,
                    symbols: tuple[str, ...] | None = None) -> Callable[[], Policy]:
    """A loader of model ``ref`` (an id, or "promoted") from the ``ModelStore`` (imports
    torch when called). Its ExecutionSpec is checked first against ``limits`` (default
    ``RiskLimits()``) and the session's ``symbols``: ``ExecutionSpecMismatch`` names every
    reason and both sides, and nothing is loaded."""

    def load() -> Policy:
        from intraday_jules.agent import LivePolicy, ModelStore

        store = ModelStore(models_dir, engine, migrate=False)
        model_id = store.resolve(ref)
        store.execution_spec(model_id).check_honoured(limits or RiskLimits(), symbols,
                                                      model=model_id)
        name = "promoted" if ref == PROMOTED_REF else f"model:{ref}"
        return PromotedPolicy(LivePolicy.from_store(store, model_id, seed=seed), name=name)

    return load


def model_execution_spec(models_dir: Path, engine: Engine,
                         ref: str = PROMOTED_REF) -> ExecutionSpec | None:
    """Model ``ref``'s ExecutionSpec (no weights read), or None when there is no such model
    or its spec cannot be read (the loader then records why the model failed to load)."""
    from intraday_jules.agent import ModelStore

    try:
        return ModelStore(models_dir, engine, migrate=False).execution_spec(ref)
    except Exception as exc:  # the loader reports the same failure as MODEL_LOAD_FAILED
        log.warning("no execution spec for model %s: %s: %s", ref, type(exc).__name__, exc)
        return None


def model_session_config(config: SessionConfig, spec: ExecutionSpec | None) -> SessionConfig:
    """``config`` trading under the model's spec: its position rules, warm-up, flatten time
    and cost model (the simulated broker's), so the session decides and sizes on exactly
    the bars and rules the model was evaluated with. None leaves ``config`` as it is."""
    if spec is None:
        return config
    return replace(config, position_rules=spec.position_rules(), lookback=spec.lookback,
                   flatten_minutes_before_close=spec.flatten_bars_before_close,
                   decision_interval_minutes=spec.decision_interval_minutes,
                   execution=spec.execution_config())
