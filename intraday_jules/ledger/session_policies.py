"""Which policy traded a session: one ``session_policies`` row per start of a session run.

The shadow replay (``pipelines.session_reconciliation``) reads it to replay a session with the
model, seed and action mode that traded it. A restarted run appends another row; the rows of
one session normally agree (``SessionPolicy.same_policy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from intraday_jules.domain.clock import Clock
from intraday_jules.ledger.schema import session_policies


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """The policy of one session run.

    policy: the policy's name (``promoted``, ``model:ID``, ``random``...).
    model_id: the model's id in the ``ModelStore`` (None for a policy without a model).
    seed / mode: what the model's actions were drawn with (None where they do not apply).
    broker: the broker's name (``simulated``, ``ibkr``).
    recorded_at: when the run started (set by the ledger's clock on writing).
    """

    session: date
    policy: str
    model_id: str | None
    seed: int | None
    mode: str | None
    broker: str
    recorded_at: datetime | None = None

    def same_policy(self, other: SessionPolicy) -> bool:
        """Whether two runs traded the same model the same way (the clock aside)."""
        return ((self.policy, self.model_id, self.seed, self.mode, self.broker)
                == (other.policy, other.model_id, other.seed, other.mode, other.broker))


class SessionPolicies:
    """``session_policies`` on the ledger's engine (a part of ``Ledger``)."""

    engine: Engine
    clock: Clock

    def record_session_policy(self, record: SessionPolicy) -> SessionPolicy:
        """Append the policy of a session run (stamped with the ledger's clock)."""
        recorded_at = self.clock()
        with self.engine.begin() as conn:
            conn.execute(sa.insert(session_policies).values(
                session=record.session, recorded_at=recorded_at, policy=record.policy,
                model_id=record.model_id, seed=record.seed, mode=record.mode,
                broker=record.broker))
        return SessionPolicy(record.session, record.policy, record.model_id, record.seed,
                             record.mode, record.broker, recorded_at)

    def session_policies(self, session: date) -> list[SessionPolicy]:
        """Every recorded run of ``session``, oldest first."""
        query = sa.select(session_policies).where(
            session_policies.c.session == session).order_by(session_policies.c.id)
        with self.engine.connect() as conn:
            return [SessionPolicy(r["session"], r["policy"], r["model_id"],
                                  None if r["seed"] is None else int(r["seed"]), r["mode"],
                                  r["broker"], r["recorded_at"])
                    for r in conn.execute(query).mappings()]
