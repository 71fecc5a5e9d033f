"""The promoted model behind the ``Policy`` protocol: an adapter over ``agent.LivePolicy``.

The loop computes each minute's raw feature rows once (``observe.SessionBars``) and hands them
over in the observation; the adapter passes them, with the minute's aligned row, warm flag,
closes and the shares actually held (so risk denials and partial fills are what the model
sees), to ``LivePolicy.decide_features``, which normalises them with the model's statistics
and steps its LSTM on the schedule's decision bars. During a restart's warm-up (replayed
stored minutes) it steps the same way and discards the action, so the LSTM state after a
restart equals an uninterrupted run's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from intraday_jules.env.actions import ACTION_NAMES, HOLD
from intraday_jules.trading.policies import Actions, Observation, Policy

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

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


def promoted_loader(models_dir: Path, engine: Engine, *, seed: int = 0
                    ) -> Callable[[], Policy]:
    """A loader of the promoted model from the ``ModelStore`` (imports torch when called)."""

    def load() -> Policy:
        from intraday_jules.agent import PROMOTED, LivePolicy, ModelStore

        store = ModelStore(models_dir, engine, migrate=False)
        return PromotedPolicy(LivePolicy.from_store(store, PROMOTED, seed=seed))

    return load
