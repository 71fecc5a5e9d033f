"""The promoted model behind the ``Policy`` protocol: an adapter over ``agent.LivePolicy``.

``LivePolicy.decide(session_bars, book=...)`` computes the new bars' features incrementally
and steps its LSTM once per decision bar it has not seen, in order; ``book`` gives the shares
actually held before each decision bar. The adapter keeps that book from the observations
(so risk denials and partial fills are what the model sees, as after a restart), and during
a restart's warm-up it only records the book: the first live minute's ``decide`` then
replays every earlier decision bar in one call and reaches the uninterrupted LSTM state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from intraday_jules.env.actions import ACTION_NAMES, HOLD
from intraday_jules.trading.policies import Actions, Observation, Policy

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


class PromotedPolicy:
    """``Policy`` over a ``LivePolicy`` (anything with ``symbols`` and ``decide``)."""

    def __init__(self, live: Any, name: str = "promoted") -> None:
        self.live = live
        self.name = name
        self._book: dict[pd.Timestamp, tuple[int, ...]] = {}

    def reset(self, session: date) -> None:
        self._book = {}

    def act(self, observation: Observation) -> Actions:
        held = dict(zip(observation.symbols, observation.positions, strict=True))
        ts = pd.Timestamp(observation.ts)
        self._book[ts] = tuple(held.get(s, 0) for s in self.live.symbols)
        if observation.replaying:
            return (HOLD,) * len(observation.symbols)
        decision = self.live.decide(observation.session_bars(), book=self._book)
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
                    ref: str = "promoted") -> Callable[[], Policy]:
    """A loader of the model ``ref`` (default: the promoted one; else a model id, for
    ``trade --policy model:ID``) from the ``ModelStore`` (imports torch when called)."""

    def load() -> Policy:
        from intraday_jules.agent import LivePolicy, ModelStore

        store = ModelStore(models_dir, engine, migrate=False)
        name = "promoted" if ref == "promoted" else f"model:{ref}"
        return PromotedPolicy(LivePolicy.from_store(store, ref, seed=seed), name=name)

    return load
