"""What a check says: ``Failure`` (one located problem), ``CheckResult`` (one named property),
``QualityReport`` (every check over one partition or range).

Kept free of pandas logic so that reports read back from ``data_quality_reports`` and reports
fresh from a run are the same objects: storage, the Markdown table, the PNG and the CLI JSON all
work from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import pandas as pd

#: How many Failure records a check keeps in memory; ``failure_count`` keeps the true total.
MAX_FAILURES_KEPT = 1000
#: How many of the worst examples a check keeps for reports.
WORST_KEPT = 10


class Severity(StrEnum):
    """ERROR checks block downstream assets; WARN checks are recorded and shown."""

    ERROR = "ERROR"
    WARN = "WARN"


class CheckStatus(StrEnum):
    """What a check concluded: the property holds, does not hold, or could not be judged
    (``skipped``: nothing to judge, e.g. 0 rows or too few sessions; the reason is kept)."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Failure:
    """One located problem. ``ts`` is None for problems of a whole session or of the frame."""

    symbol: str | None
    session: date | None
    ts: datetime | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """The CLI/JSON shape: symbol, session, ts (only when there is one), detail."""
        out: dict[str, Any] = {
            "symbol": self.symbol,
            "session": self.session.isoformat() if self.session else None,
        }
        if self.ts is not None:
            out["ts"] = pd.Timestamp(self.ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
        out["detail"] = self.detail
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Failure:
        session = data.get("session")
        ts = data.get("ts")
        return cls(
            symbol=data.get("symbol"),
            session=date.fromisoformat(session) if session else None,
            ts=pd.Timestamp(ts).to_pydatetime() if ts else None,
            detail=str(data.get("detail", "")),
        )


def _empty_offending() -> pd.DataFrame:
    return pd.DataFrame({"position": pd.Series([], dtype="int64"),
                         "detail": pd.Series([], dtype=object),
                         "quarantinable": pd.Series([], dtype=bool)})


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one named property over a bars frame.

    ``failures`` may be truncated (at ``MAX_FAILURES_KEPT`` in memory, fewer once stored);
    ``failure_count`` is always the true total. ``offending`` lists the offending rows by
    position (``iloc``) in the frame that was checked, with a reason and whether the contract
    lets that row be quarantined; it is empty for checks about absent data (missing minutes,
    missing sessions) and for reports read back from the database. ``stats`` holds JSON-safe
    figures (per-session counts) that the PNG is drawn from.

    ``skipped_reason`` is set when the check could not judge (0 rows, too few sessions, no
    second source...): such a result has ``passed`` True (so it never blocks, and old readers
    of ``passed`` see what they always saw) and ``status`` ``skipped``; it has no failures.
    """

    name: str
    severity: Severity
    passed: bool
    rows_checked: int
    failures: list[Failure] = field(default_factory=list)
    worst: list[Failure] = field(default_factory=list)
    failure_count: int = -1
    note: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    offending: pd.DataFrame = field(default_factory=_empty_offending, repr=False, compare=False)
    skipped_reason: str = ""

    def __post_init__(self) -> None:
        if self.skipped_reason and (not self.passed or self.failure_count > 0 or self.failures):
            raise ValueError(f"check {self.name!r} is marked skipped ({self.skipped_reason})"
                             " but has failures or passed=False: a skipped check judged nothing")
        if self.failure_count < 0:
            object.__setattr__(self, "failure_count", len(self.failures))
        if len(self.failures) > MAX_FAILURES_KEPT:
            object.__setattr__(self, "failures", self.failures[:MAX_FAILURES_KEPT])
        if not self.worst and self.failures:
            object.__setattr__(self, "worst", self.failures[:WORST_KEPT])

    @property
    def status(self) -> CheckStatus:
        """``skipped`` when the check could not judge, else ``passed`` or ``failed``."""
        if self.skipped_reason:
            return CheckStatus.SKIPPED
        return CheckStatus.PASSED if self.passed else CheckStatus.FAILED

    @property
    def skipped(self) -> bool:
        return bool(self.skipped_reason)

    @property
    def blocking(self) -> bool:
        """True if this result alone must stop downstream assets (a skipped check never does)."""
        return self.severity is Severity.ERROR and not self.passed


def offending_rows(bars: pd.DataFrame, result: CheckResult, limit: int | None = None
                   ) -> pd.DataFrame:
    """The rows of ``bars`` (the frame the result was computed on) that failed ``result``,
    with ``check_name`` and ``detail`` columns: for Dagster metadata tables and debugging."""
    table = result.offending if limit is None else result.offending.head(limit)
    rows = bars.iloc[table["position"].to_numpy()]
    return rows.assign(check_name=result.name, detail=table["detail"].to_numpy())


@dataclass(frozen=True)
class QualityReport:
    """Every check over one bars frame (a partition or a CLI range), in contract order."""

    contract: str
    checks: list[CheckResult]
    rows: int = 0
    symbols: tuple[str, ...] = ()
    sessions: tuple[date, ...] = ()
    extended_hours: bool = False
    checked_at: datetime | None = None
    #: Source rows the partition's request did not take (other symbols, outside the session
    #: window, weekend/holiday): ``SkippedRows.to_json()``; empty when none or not known.
    skipped: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking_failed(self) -> bool:
        """True when any ERROR check failed: features, training and trading must not run."""
        return any(c.blocking for c in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    @property
    def skipped_checks(self) -> list[CheckResult]:
        """Checks that could not judge this frame (each says why in ``skipped_reason``)."""
        return [c for c in self.checks if c.skipped]

    def result(self, name: str) -> CheckResult:
        """The result of the check called ``name`` (KeyError naming the checks that ran)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check {name!r} in this report; ran: {[c.name for c in self.checks]}")
