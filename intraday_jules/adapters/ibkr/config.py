"""Settings of the Interactive Brokers adapter, plain values the settings layer maps onto.

Paper trading is the default everywhere: port 7497 is TWS's paper-trading API port (7496 is
TWS live; IB Gateway uses 4002 paper / 4001 live), and the data source connects read-only so
that it can never touch orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: ``initial_s * factor**attempt``, capped at ``max_s``.

    attempts: how many retries before giving up (the first try is not counted). No jitter:
    one process talks to one gateway, and deterministic delays keep tests exact.
    """

    initial_s: float = 1.0
    factor: float = 2.0
    max_s: float = 30.0
    attempts: int = 5

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return float(min(self.max_s, self.initial_s * self.factor ** attempt))


class ClientRole(IntEnum):
    """Which connection of a deployment a client id is for: its offset from the base id.

    TWS refuses a second connection with a client id already in use (error 326), and the
    ingestion source, the broker and the trading job's live feed may all be connected at
    once; one base id (``ib_client_id``) plus a fixed offset per role keeps them apart.
    ``CLOCK`` reads the gateway's time when a session trades on it (``GatewayClock``).
    """

    DATA = 0
    BROKER = 1
    LIVE_FEED = 2
    CLOCK = 3


@dataclass(frozen=True, slots=True)
class IbkrConfig:
    """How to reach TWS / IB Gateway and how patient to be with it.

    host, port, client_id: the API socket (the client id must be unique per connection; TWS
        refuses a second connection with the same id with error 326).
    extended_hours: default for live streaming (historical requests follow
        ``BarRequest.extended_hours``): False asks IB for regular trading hours only (useRTH=1).
    connect_timeout_s: TCP connect plus API handshake.
    request_timeout_s: one historical request; a silent gateway past this is unavailable.
    restore_timeout_s: after error 1100, how long to wait for 1101/1102 before giving up.
    pacing_backoff: waits after error 162 (pacing violation); IB asks for a pause, and an
        identical request is not allowed within 15 s anyway, hence the 15 s start.
    reconnect_backoff: waits between reconnect attempts after the socket drops.
    min_rth_coverage: a finished regular session with fewer bars than this fraction of its
        minutes is reported as missing bars (so failover can fill it from another vendor).
    readonly: connect without order access (the data source never trades).
    account: the account to use when the login manages several; masked in ``repr``.
    """

    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 1
    extended_hours: bool = False
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 60.0
    restore_timeout_s: float = 60.0
    pacing_backoff: Backoff = field(
        default_factory=lambda: Backoff(initial_s=15.0, factor=2.0, max_s=120.0, attempts=4))
    reconnect_backoff: Backoff = field(
        default_factory=lambda: Backoff(initial_s=1.0, factor=2.0, max_s=30.0, attempts=6))
    min_rth_coverage: float = 0.95
    readonly: bool = True
    account: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"IBKR port must be 1..65535, got {self.port}")
        if self.client_id < 0:
            raise ValueError(f"IBKR client id must be >= 0, got {self.client_id}")
        if not 0.0 <= self.min_rth_coverage <= 1.0:
            raise ValueError(f"min_rth_coverage must be within [0, 1], got {self.min_rth_coverage}")

    @classmethod
    def for_role(cls, base_id: int, role: ClientRole, **fields: Any) -> IbkrConfig:
        """The connection of ``role``: client id ``base_id + role``; only the broker may
        place orders, every other role connects read-only."""
        return cls(client_id=base_id + role, readonly=role is not ClientRole.BROKER, **fields)

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port} (client id {self.client_id})"

    def __repr__(self) -> str:
        account = "None" if self.account is None else f"'{self.account[:2]}***'"
        return (f"IbkrConfig(host={self.host!r}, port={self.port}, client_id={self.client_id}, "
                f"extended_hours={self.extended_hours}, readonly={self.readonly}, "
                f"account={account})")
