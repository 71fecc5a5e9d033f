"""Failover across sources, with provenance kept per row.

``FailoverSource([ibkr, alpha_vantage])`` asks the first source; if it fails (connection,
pacing exhausted, refused request, bad payload) or leaves regular-hours minutes missing, it asks
the next one and fills only the minutes still missing, so every stored row keeps the ``source``
that really produced it. If every source fails, the request fails with every source's reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from intraday_jules.domain.bars import validate_bars
from intraday_jules.domain.calendar import session_window
from intraday_jules.market_data.source import BarRequest, BarSource, SourceError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One source's answer to one request, for logs and Dagster metadata."""

    source: str
    rows_used: int
    missing_after: int
    error: str | None = None


class AllSourcesFailed(SourceError):
    """No source could produce any bar; the message carries every source's reason."""

    def __init__(self, request: BarRequest, attempts: Sequence[Attempt]) -> None:
        self.attempts = list(attempts)
        reasons = "; ".join(f"{a.source}: {a.error or 'no bars'}" for a in attempts)
        super().__init__("failover", request, f"every source failed ({reasons})")


def missing_regular_minutes(frame: pd.DataFrame, request: BarRequest) -> pd.DatetimeIndex:
    """Regular-hours minutes of the session with no bar in ``frame``.

    Only regular hours count: in extended hours a minute without trades legitimately has no bar.
    """
    expected = session_window(request.session).bar_starts(extended=False)
    have = pd.DatetimeIndex(frame["ts"]) if not frame.empty else pd.DatetimeIndex([], tz="UTC")
    return expected.difference(have)


class FailoverSource:
    """Try sources in order; fill gaps from later sources; remember who answered what."""

    name = "failover"

    def __init__(self, sources: Sequence[BarSource]) -> None:
        if not sources:
            raise ValueError("FailoverSource needs at least one source")
        self.sources = list(sources)
        self.last_attempts: list[Attempt] = []

    def __repr__(self) -> str:
        return f"FailoverSource([{', '.join(s.name for s in self.sources)}])"

    def fetch_session(self, request: BarRequest) -> pd.DataFrame:
        frame, attempts = self.fetch_with_attempts(request)
        self.last_attempts = attempts
        return frame

    def fetch_with_attempts(self, request: BarRequest) -> tuple[pd.DataFrame, list[Attempt]]:
        collected: pd.DataFrame | None = None
        attempts: list[Attempt] = []
        for source in self.sources:
            try:
                frame = source.fetch_session(request)
            except SourceError as exc:
                log.warning("source %s failed for %s: %s", source.name, request.describe(),
                            exc.reason)
                attempts.append(Attempt(source.name, 0, -1, f"{type(exc).__name__}: {exc.reason}"))
                continue
            collected, used = _merge(collected, frame)
            missing = len(missing_regular_minutes(collected, request))
            attempts.append(Attempt(source.name, used, missing))
            if missing == 0:
                break
            log.info("%s left %d regular-hours minutes missing for %s; trying the next source",
                     source.name, missing, request.describe())
        if collected is None or collected.empty:
            raise AllSourcesFailed(request, attempts)
        return validate_bars(collected, f"failover {request.describe()}"), attempts

    def close(self) -> None:
        for source in self.sources:
            source.close()


def _merge(collected: pd.DataFrame | None, frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Add the rows of ``frame`` whose ts is not yet collected; returns (merged, rows added)."""
    if collected is None or collected.empty:
        return frame, len(frame)
    new = frame[~frame["ts"].isin(collected["ts"])]
    merged = pd.concat([collected, new], ignore_index=True).sort_values("ts", kind="stable")
    return merged.reset_index(drop=True), len(new)
