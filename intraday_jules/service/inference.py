"""Answers to ``/predict``: the served model on a session's bars or on observations.

Stateless: every call starts the LSTM from a zero state and replays the sequence it is given.
With bars this is ``LivePolicy.decide`` itself (a fresh ``LivePolicy`` per request): the same
features, normalisation, decision bars, intended book and keyed sampling as the trading loop
and evaluation, so the answer equals what ``LivePolicy`` gives on those bars, bit for bit.
With observations the policy's ``PolicyStepper`` runs over them in order (the first one
starts the session) and the action is chosen from the last step's probabilities exactly as
``LivePolicy`` chooses (``choose_actions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from intraday_jules.agent import LiveDecision, LivePolicy
from intraday_jules.agent.policy import PolicyStepper, choose_actions
from intraday_jules.domain.bars import BarValidationError
from intraday_jules.domain.calendar import session_date_of, session_window
from intraday_jules.env import MarketArraysError, decode_action
from intraday_jules.env.actions import ACTION_NAMES
from intraday_jules.features import FeatureInputError
from intraday_jules.service.schemas import BarIn, PredictRequest, PredictResponse
from intraday_jules.service.serving import ServedModel

#: What ``LivePolicy.decide`` raises for bars it cannot use: the client's input, a 422.
DECIDE_ERRORS = (FeatureInputError, MarketArraysError, BarValidationError)


class InputRefused(ValueError):
    """The request is well-formed but the model cannot use it (``loc`` names the field)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def predict(served: ServedModel, request: PredictRequest) -> PredictResponse:
    if request.bars is not None:
        return predict_bars(served, request)
    return predict_observations(served, request)


def predict_bars(served: ServedModel, request: PredictRequest) -> PredictResponse:
    """``LivePolicy.decide`` on the request's bars (one session so far)."""
    assert request.bars is not None
    mode = request.resolved_mode()
    policy = LivePolicy(served.bundle, seed=request.seed, mode=mode)
    book = {pd.Timestamp(e.ts): tuple(e.shares[s] for s in policy.symbols)
            for e in request.book or ()}
    window = session_window(session_date_of(request.bars[0].ts))
    regular = any(window.contains(b.ts) for b in request.bars)
    try:
        decision = policy.decide(bars_frame(request.bars), book=book) if regular else None
    except DECIDE_ERRORS as exc:
        raise InputRefused(("body", "bars"), str(exc)) from None
    base: dict[str, Any] = {"model_id": served.id, "spec_version": served.record.spec_version,
            "mode": mode, "seed": request.seed, "steps": len(policy.history)}
    if not regular:
        return PredictResponse(decided=False, reason=(
            f"no bar is inside the session's regular hours yet (it opens at "
            f"{window.open.isoformat()})"), **base)
    if decision is None:
        return PredictResponse(decided=False, reason=why_no_decision(
            policy, max(b.ts for b in request.bars)), **base)
    return PredictResponse(**decision_fields(policy, decision), **base)


def decision_fields(policy: LivePolicy, decision: LiveDecision) -> dict[str, Any]:
    """A decision's response fields (``/predict`` and ``/sessions/{id}/bars`` alike)."""
    symbols = policy.symbols
    return {
        "decided": True, "ts": decision.ts.to_pydatetime(), "action": decision.action,
        "per_asset": dict(decision.per_asset), "probabilities": list(decision.probabilities),
        "per_asset_probabilities": {
            s: dict(zip(ACTION_NAMES, decision.per_asset_probabilities[s], strict=True))
            for s in symbols},
        "forced_flatten": decision.forced_flatten,
        "shares_before": dict(zip(symbols, decision.shares_before, strict=True))}


def predict_observations(served: ServedModel, request: PredictRequest) -> PredictResponse:
    """The policy over the observations from a zero LSTM state; decides on the last one."""
    assert request.observations is not None
    mode = request.resolved_mode()
    obs = np.asarray(request.observations, dtype=np.float32)
    stepper = PolicyStepper(served.bundle.model.policy, batch=1)
    probs = np.empty(0)
    for k, row in enumerate(obs):
        probs = stepper.step(row[None, :], np.array([k == 0]))[0]
    ts_us = 0 if request.ts is None else int(pd.Timestamp(request.ts).value // 1000)
    action = int(choose_actions(probs[None, :], mode, [request.seed], ts_us)[0])
    symbols = served.bundle.symbols
    joint = probs.reshape((3,) * len(symbols))
    marginals = {}
    for i, symbol in enumerate(symbols):
        axes = tuple(j for j in range(len(symbols)) if j != i)
        marginals[symbol] = dict(zip(ACTION_NAMES, (float(p) for p in joint.sum(axis=axes)),
                                     strict=True))
    return PredictResponse(
        model_id=served.id, spec_version=served.record.spec_version, decided=True,
        ts=request.ts, action=action,
        per_asset={s: ACTION_NAMES[a] for s, a in zip(symbols, decode_action(
            action, len(symbols)), strict=True)},
        probabilities=[float(p) for p in probs], per_asset_probabilities=marginals,
        mode=mode, seed=request.seed, steps=len(obs))


def bars_frame(bars: Sequence[BarIn]) -> pd.DataFrame:
    """The request's bars as a bars frame (``ts`` datetime64[us, UTC]), in request order."""
    return pd.DataFrame({
        "symbol": pd.Series([b.symbol for b in bars], dtype=object),
        "ts": pd.to_datetime([b.ts for b in bars], utc=True).as_unit("us"),
        **{c: np.array([getattr(b, c) for b in bars], dtype=np.float64)
           for c in ("open", "high", "low", "close")},
        "volume": np.array([b.volume for b in bars], dtype=np.int64)})


def why_no_decision(policy: LivePolicy, latest: datetime) -> str:
    """Why the bar starting at ``latest`` (the latest one given) gets no decision."""
    lookback = policy.config.lookback
    if policy.history:
        last = policy.history[-1].ts.isoformat()
        return (f"the latest bar is after the forced flatten ({last}, "
                f"{policy.config.flatten_bars_before_close + 1} minutes before the close): "
                "the session's decisions are over")
    return (f"the latest bar ({latest.isoformat()}) is in the warm-up: decisions start after "
            f"the first {lookback} regular-hours minutes that have bars of every symbol "
            f"{list(policy.symbols)}")
