"""Policies behind one protocol: the promoted model, and the baselines it is judged against.

A policy maps an ``Observation`` of one complete minute to one action per symbol (0 sell,
1 hold, 2 buy; ``intraday_jules.env.actions``). It never sizes or sends orders: the loop turns
actions into intents with the env's ``PositionRules`` and the risk engine judges them, so no
action can exceed a limit.

Restart safety: a policy's state (an LSTM's hidden state, a random generator) must depend only
on ``reset(session)`` and the sequence of observations since. The loop rebuilds it after a
restart by replaying the session's stored minutes through ``act`` (warm-up) and discarding the
actions, so a restarted run holds the state an uninterrupted one would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import numpy as np

from intraday_jules.env.actions import BUY, HOLD, SELL

log = logging.getLogger(__name__)
POLICY_NAMES: tuple[str, ...] = ("promoted", "random", "always-buy", "always-sell")
#: ``model:ID`` trades the stored model ID (not necessarily promoted; simulated broker only).
MODEL_PREFIX = "model:"
Actions = tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Observation:
    """What a policy sees on a complete minute (bar ``ts``), before any order for it.

    features: float64 [n_symbols, n_features], raw (not normalised: a model normalises with
        the statistics saved with it), in ``feature_names`` order, symbols in ``symbols`` order.
    positions: shares held per symbol (fills up to this bar's open), as the env's ``shares``.
    position_fractions: shares x close / max position notional, the env's position observation.
    step: index of this decision in the session (0: the first, an LSTM's episode start).
    replaying: True while a restarted run replays stored minutes (warm-up): the action is
        discarded (a stateful policy still steps, so its state is the uninterrupted one's).
    warm: every symbol's features are past their warm-up (``FeatureSpec.lookback``).
    row: the minute's aligned row in the session (complete minutes before it), which with
        ``warm`` places it in the decision schedule (``env.schedule``).
    """

    session: date
    ts: datetime
    step: int
    symbols: tuple[str, ...]
    feature_names: tuple[str, ...]
    features: np.ndarray
    closes: tuple[float, ...]
    positions: tuple[int, ...]
    position_fractions: tuple[float, ...]
    replaying: bool = False
    warm: bool = True
    row: int = 0


class Policy(Protocol):
    """Per-symbol actions from observations; state depends only on what ``act`` has seen."""

    name: str

    def reset(self, session: date) -> None:
        """Start a session with fresh state."""
        ...

    def act(self, observation: Observation) -> Actions:
        """One action per symbol (SELL 0, HOLD 1, BUY 2)."""
        ...


class ConstantPolicy:
    """The same action for every symbol on every minute (always-buy, always-sell, hold)."""

    def __init__(self, action: int, name: str) -> None:
        if action not in (SELL, HOLD, BUY):
            raise ValueError(f"action must be 0, 1 or 2, got {action}")
        self.action = action
        self.name = name

    def reset(self, session: date) -> None:
        """Stateless."""

    def act(self, observation: Observation) -> Actions:
        return (self.action,) * len(observation.symbols)


class RandomPolicy:
    """Uniform random actions, seeded by (seed, session): same seed, same session, same run."""

    def __init__(self, seed: int = 0, name: str = "random") -> None:
        self.seed = seed
        self.name = name
        self._rng = np.random.default_rng(seed)

    def reset(self, session: date) -> None:
        self._rng = np.random.default_rng([self.seed, session.toordinal()])

    def act(self, observation: Observation) -> Actions:
        draws = self._rng.integers(0, 3, size=len(observation.symbols))
        return tuple(int(a) for a in draws)


class FailedPolicy:
    """Stands in for a policy that could not be loaded: holds, and says why.

    The session records the failure (MODEL_LOAD_FAILED -> REDUCING) and keeps running, so open
    positions are still managed and flattened; no order is ever based on this policy.
    """

    def __init__(self, name: str, error: str) -> None:
        self.name = name
        self.error = error

    def reset(self, session: date) -> None:
        """Stateless."""

    def act(self, observation: Observation) -> Actions:
        return (HOLD,) * len(observation.symbols)


PromotedLoader = Callable[[], Policy]


def no_promoted_loader() -> Policy:
    """The default loader: says how to configure one (the CLI and the job pass theirs)."""
    raise LookupError("no promoted-model loader was configured for this session")


def model_ref(name: str) -> str | None:
    """The model id of a ``model:ID`` policy name (None for any other name)."""
    if not name.startswith(MODEL_PREFIX):
        return None
    ref = name[len(MODEL_PREFIX):].strip()
    if not ref:
        raise ValueError(f"policy {name!r} names no model: use model:ID")
    return ref


def is_policy_name(name: str) -> bool:
    """Whether ``name`` is a known policy name or a ``model:ID``."""
    return name in POLICY_NAMES or (name.startswith(MODEL_PREFIX)
                                    and bool(name[len(MODEL_PREFIX):].strip()))


def make_policy(name: str, *, seed: int = 0,
                loader: PromotedLoader = no_promoted_loader) -> Policy:
    """A policy by CLI name; a promoted model that fails to load becomes a ``FailedPolicy``.

    ``loader`` builds the promoted policy, or the model of a ``model:ID`` name
    (``trading.promoted.promoted_loader(..., ref=ID)`` reads the ``ModelStore``). A promoted
    model's load failure is recorded and the session holds; a ``model:ID`` that cannot be
    loaded (an unknown id) raises ``ValueError`` before the session starts, since it is a
    research run asked for by name, not the production policy.
    """
    ref = model_ref(name)
    if ref is not None:
        try:
            return loader()
        except Exception as exc:
            raise ValueError(f"policy {name}: model {ref!r} cannot be loaded: "
                             f"{type(exc).__name__}: {exc}") from exc
    if name == "random":
        return RandomPolicy(seed)
    if name == "always-buy":
        return ConstantPolicy(BUY, name)
    if name == "always-sell":
        return ConstantPolicy(SELL, name)
    if name != "promoted":
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICY_NAMES)}")
    try:
        return loader()
    except Exception as exc:  # any failure to load is a recorded input problem, not a crash
        reason = f"promoted model failed to load: {type(exc).__name__}: {exc}"
        log.error("%s", reason)
        return FailedPolicy(name, reason)
