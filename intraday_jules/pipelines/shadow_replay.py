"""The shadow replay of one session: its stored bars through the evaluation path.

Exactly what ``agent.evaluation.evaluate`` runs for a model, on one session: features built
from the bars (``evaluation_data``) and normalised with the model's statistics, the env with
the model's ``PositionRules`` and the execution model of the simulated broker, and the policy
stepped by evaluation's own decide function (``PolicyStepper`` + ``choose_actions`` keyed on
(seed, bar ts)), its LSTM state zeroed at the session's first decision bar. Only the session's
bars are used: features restart each session, as in the live loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from intraday_jules.agent.bundle import ModelBundle
from intraday_jules.agent.data import DateWindow
from intraday_jules.agent.evaluation import agent_decide, evaluation_data
from intraday_jules.agent.policy import ActionMode
from intraday_jules.agent.rollout import build_envs, rollout
from intraday_jules.agent.training import torch_threads
from intraday_jules.env import DualTickerTradingEnv, ExecutionModel, SingleTickerTradingEnv
from intraday_jules.env.actions import ACTION_NAMES, decode_action


@dataclass(frozen=True, slots=True)
class ReplayStep:
    """One decision bar of the replay.

    actions: per symbol, "sell" | "hold" | "buy" (what the policy chose).
    trades: per symbol, signed shares the env traded on this decision (non-zero only).
    forced_flatten: the env's forced flatten step (its trades are not the policy's orders).
    """

    ts: datetime
    actions: dict[str, str]
    trades: dict[str, int]
    forced_flatten: bool


def replay_session(bundle: ModelBundle, bars: pd.DataFrame, session: date, *, seed: int,
                   mode: ActionMode, execution: ExecutionModel) -> list[ReplayStep]:
    """Every decision bar of ``session`` in ``bars`` (that session's bars, any symbols), as
    the evaluation of ``bundle`` with evaluation seed ``seed`` and ``mode`` decides it."""
    data = evaluation_data(bundle, bars, origin=f"stored bars of session {session}")
    arrays = data.window(DateWindow(session, session), bundle.symbols)
    env_cls = SingleTickerTradingEnv if len(bundle.symbols) == 1 else DualTickerTradingEnv
    # two envs: evaluation's decide steps the seeded policy and, last, the argmax one
    envs = build_envs(arrays, env_cls, bundle.config.env, execution, 2)
    with torch_threads(bundle.config.torch_threads):
        trajectory = rollout(envs, agent_decide(bundle, envs[0], [seed], mode))[0]
    flatten = envs[0].schedule.flatten
    symbols = envs[0].symbols
    steps = []
    before = np.zeros(len(symbols), dtype=np.int64)
    for k in range(len(trajectory.actions)):
        after = trajectory.shares[k]
        per_asset = decode_action(int(trajectory.actions[k]), len(symbols))
        ts = pd.Timestamp(arrays.ts[trajectory.bar[k]]).tz_localize(UTC).to_pydatetime()
        steps.append(ReplayStep(
            ts=ts, actions={s: ACTION_NAMES[a] for s, a in zip(symbols, per_asset, strict=True)},
            trades={s: int(q) for s, q in zip(symbols, after - before, strict=True) if q},
            forced_flatten=bool(flatten[k])))
        before = after
    return steps
