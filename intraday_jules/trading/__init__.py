"""The intraday trading session as a library: one in-process loop per session.

``run_session(config, feed=..., broker=..., policy=..., ledger=..., risk=..., store=...,
metrics=...)`` runs store bar -> features -> policy -> risk -> broker -> ledger -> metrics on
every completed minute, restart-safe, and returns a ``SessionResult`` with the session report.
``build_replay_session`` wires a replay. See docs/trading.md.
"""

from intraday_jules.domain.clock import ReplayClock, system_clock
from intraday_jules.market_data.feed import BarFeed, ReplayFeed, StreamFeed
from intraday_jules.trading.config import Phase, SessionConfig
from intraday_jules.trading.context import MetricsSink, NoQualityGate, QualityGate
from intraday_jules.trading.intake import Minute
from intraday_jules.trading.policies import (
    POLICY_NAMES,
    ConstantPolicy,
    FailedPolicy,
    Observation,
    Policy,
    RandomPolicy,
    make_policy,
)
from intraday_jules.trading.replay import ReplaySession, build_replay_session
from intraday_jules.trading.report import SessionReport, build_session_report
from intraday_jules.trading.result import SessionResult
from intraday_jules.trading.session import Collaborators, run_session

__all__ = [
    "POLICY_NAMES",
    "BarFeed",
    "Collaborators",
    "ConstantPolicy",
    "FailedPolicy",
    "MetricsSink",
    "Minute",
    "NoQualityGate",
    "Observation",
    "Phase",
    "Policy",
    "QualityGate",
    "RandomPolicy",
    "ReplayClock",
    "ReplayFeed",
    "ReplaySession",
    "SessionConfig",
    "SessionReport",
    "SessionResult",
    "StreamFeed",
    "build_replay_session",
    "build_session_report",
    "make_policy",
    "run_session",
    "system_clock",
]
