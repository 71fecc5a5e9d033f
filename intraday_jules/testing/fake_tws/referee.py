"""IB's historical-data pacing rules, checked from the gateway's side.

IB's own wording ("Historical Data Limitations", pacing violations for small bars):
- making identical historical data requests within 15 seconds;
- making six or more historical data requests for the same Contract, Exchange and Tick Type
  within two seconds;
- making more than 60 requests within any ten minute period.

The client's limiter (``intraday_jules.adapters.ibkr.pacing``) is a separate implementation;
a gateway started with ``enforce_pacing=True`` answers violating requests with error 162, so a
test or benchmark proves the client never broke a rule rather than trusting the limiter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from intraday_jules.testing.fake_tws.incoming import HistoricalRequest


@dataclass(frozen=True, slots=True)
class PacingLimits:
    identical_gap: timedelta = timedelta(seconds=15)
    per_contract_violation: int = 6  # six or more ...
    per_contract_window: timedelta = timedelta(seconds=2)
    max_requests: int = 60  # more than 60 ...
    window: timedelta = timedelta(minutes=10)


def violation(history: Sequence[HistoricalRequest], new: HistoricalRequest,
              limits: PacingLimits = PacingLimits()) -> str | None:
    """Why ``new`` breaks a pacing rule given the earlier requests, or None if it does not.

    Subscriptions (keepUpToDate) count like any other request; the 'within' windows are
    half-open: a request exactly 15 s after an identical one is allowed.
    """
    t = new.received_at
    identical = [r for r in history if r.identity == new.identity
                 and t - r.received_at < limits.identical_gap]
    if identical:
        return f"identical request {identical[-1].req_id} less than 15 s earlier"
    contract_key = (new.symbol, new.contract.exchange, new.what_to_show)
    same_contract = [r for r in history
                     if (r.symbol, r.contract.exchange, r.what_to_show) == contract_key
                     and t - r.received_at < limits.per_contract_window]
    if len(same_contract) + 1 >= limits.per_contract_violation:
        return f"{len(same_contract) + 1} requests for {new.symbol} within 2 s"
    recent = [r for r in history if t - r.received_at < limits.window]
    if len(recent) + 1 > limits.max_requests:
        return f"{len(recent) + 1} requests within 10 minutes"
    return None
