from datetime import date

import pandas as pd
import pytest

from intraday_jules.market_data.failover import AllSourcesFailed, FailoverSource
from intraday_jules.market_data.source import BarRequest, SourceUnavailable
from intraday_jules_tests.builders import session_bars

DAY = date(2025, 1, 3)


class FrameSource:
    """A BarSource over a fixed frame (our own interface, so a fake is fair here)."""

    def __init__(self, name: str, frame: pd.DataFrame | None = None,
                 error: Exception | None = None) -> None:
        self.name, self.frame, self.error, self.calls = name, frame, error, 0

    def fetch_session(self, request: BarRequest) -> pd.DataFrame:
        self.calls += 1
        if self.error is not None:
            raise self.error
        assert self.frame is not None
        return self.frame.assign(source=self.name)

    def close(self) -> None:
        pass


def test_complete_primary_is_used_alone():
    primary = FrameSource("ibkr", session_bars())
    backup = FrameSource("alpha_vantage", session_bars(price=50))
    frame = FailoverSource([primary, backup]).fetch_session(BarRequest("NVDA", DAY))
    assert len(frame) == 390 and set(frame["source"]) == {"ibkr"}
    assert backup.calls == 0


def test_missing_minutes_are_filled_from_the_next_source_with_provenance():
    full = session_bars()
    primary = FrameSource("ibkr", full.drop(index=range(100, 150)))
    backup = FrameSource("alpha_vantage", full)
    failover = FailoverSource([primary, backup])
    frame = failover.fetch_session(BarRequest("NVDA", DAY))
    assert len(frame) == 390
    assert frame["source"].value_counts().to_dict() == {"ibkr": 340, "alpha_vantage": 50}
    assert [(a.source, a.rows_used, a.missing_after) for a in failover.last_attempts] == [
        ("ibkr", 340, 50), ("alpha_vantage", 50, 0)]


def test_connection_failure_falls_over_and_records_the_reason():
    primary = FrameSource("ibkr", error=SourceUnavailable("ibkr", None, "connection refused"))
    backup = FrameSource("alpha_vantage", session_bars())
    failover = FailoverSource([primary, backup])
    frame = failover.fetch_session(BarRequest("NVDA", DAY))
    assert set(frame["source"]) == {"alpha_vantage"}
    assert "connection refused" in failover.last_attempts[0].error


def test_when_every_source_fails_the_error_names_every_reason():
    failover = FailoverSource([
        FrameSource("ibkr", error=SourceUnavailable("ibkr", None, "connection refused")),
        FrameSource("alpha_vantage", error=SourceUnavailable("alpha_vantage", None, "HTTP 503")),
    ])
    with pytest.raises(AllSourcesFailed) as err:
        failover.fetch_session(BarRequest("NVDA", DAY))
    assert "connection refused" in str(err.value) and "HTTP 503" in str(err.value)
    assert "NVDA 2025-01-03" in str(err.value)
