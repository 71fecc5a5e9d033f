"""The one interface every market-data source implements, and the errors sources raise.

A source answers for one (symbol, session) at a time: that is the unit of a Dagster partition,
of IB's 1-minute historical request limit (one day), and of failover. Sources return a
*validated bars frame* (see ``intraday_jules.domain.bars``) with a ``source`` column naming
where each row came from (provenance is stored with every row).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

import pandas as pd

from intraday_jules.domain.calendar import session_window


@dataclass(frozen=True, slots=True)
class BarRequest:
    """Bars for one symbol over one XNYS session, regular hours or extended hours."""

    symbol: str
    session: date
    extended_hours: bool = False

    def describe(self) -> str:
        hours = "extended" if self.extended_hours else "regular"
        return f"{self.symbol} {self.session.isoformat()} ({hours} hours)"

    def expected_bar_starts(self) -> pd.DatetimeIndex:
        return session_window(self.session).bar_starts(extended=self.extended_hours)


@runtime_checkable
class BarSource(Protocol):
    """Anything that can produce 1-minute bars for a (symbol, session)."""

    #: Provenance label stored in ``market_data.source`` (e.g. "simulated", "replay", "ibkr").
    name: str

    def fetch_session(self, request: BarRequest) -> pd.DataFrame:
        """Validated bars frame (BAR_COLUMNS + ``source``) for the request's window.

        Returns only bars inside the session window. May return fewer bars than minutes (a
        minute without trades has no bar). Raises ``SourceError`` when it cannot answer.
        """
        ...

    def close(self) -> None:
        """Release connections; idempotent."""
        ...


class SourceError(RuntimeError):
    """A source could not answer a request. Subclasses say why; failover tries the next one."""

    def __init__(self, source: str, request: BarRequest | None, reason: str) -> None:
        self.source = source
        self.request = request
        self.reason = reason
        target = f" for {request.describe()}" if request is not None else ""
        super().__init__(f"{source}{target}: {reason}")


class SourceUnavailable(SourceError):
    """Connection refused/lost, timeouts: the source is not reachable now."""


class SourceRateLimited(SourceError):
    """The vendor's pacing or quota is exhausted."""


class SourceDataError(SourceError):
    """The vendor answered with something malformed or impossible (nothing of it is written)."""


class SourceRequestError(SourceError):
    """The vendor refused the request itself (unknown symbol, invalid key, premium endpoint)."""


class MissingBarsError(SourceError):
    """The source answered but bars are missing for the requested window."""
