"""Build the configured source (or failover chain) from plain settings values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intraday_jules.market_data.failover import FailoverSource
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.market_data.simulated import SimulatedSource
from intraday_jules.market_data.source import BarSource

PATTERN_SOURCES = {"simulated-planted": "planted", "simulated-destroyed": "destroyed"}


@dataclass(frozen=True)
class SourceOptions:
    """Everything needed to build any source; no secrets here (keys come from ``secrets``)."""

    names: tuple[str, ...] = ("simulated",)
    replay_path: Path | None = None
    sim_seed: int = 7
    extended_hours: bool = False
    ib_host: str = "127.0.0.1"
    ib_port: int = 7497
    ib_client_id: int = 17
    av_base_url: str = "https://www.alphavantage.co/query"
    av_calls_per_minute: int = 5
    av_calls_per_day: int = 25
    home: Path | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> SourceOptions:
        """The options a ``Settings`` resolves to (duck-typed: market_data never imports the
        settings module)."""
        return cls(names=tuple(settings.market_sources), replay_path=settings.replay_path,
                   sim_seed=settings.sim_seed, extended_hours=settings.extended_hours,
                   ib_host=settings.ib_host, ib_port=settings.ib_port,
                   ib_client_id=settings.ib_client_id, av_base_url=settings.av_base_url,
                   av_calls_per_minute=settings.av_calls_per_minute,
                   av_calls_per_day=settings.av_calls_per_day, home=settings.home)


def build_source(options: SourceOptions) -> BarSource:
    """One source, or a ``FailoverSource`` over several, in the configured order."""
    sources = [_build_one(name, options) for name in options.names]
    return sources[0] if len(sources) == 1 else FailoverSource(sources)


def _build_one(name: str, options: SourceOptions) -> BarSource:
    if name == "simulated":
        return SimulatedSource(seed=options.sim_seed)
    if name in PATTERN_SOURCES:  # the positive control's planted / destroyed markets
        return SimulatedSource(seed=options.sim_seed, pattern=PATTERN_SOURCES[name])
    if name == "replay":
        if options.replay_path is None:
            raise ValueError("source 'replay' needs a replay path (--replay-path or "
                             "INTRADAY_JULES_REPLAY_PATH)")
        return ReplaySource(options.replay_path)
    if name in ("ibkr", "alpha_vantage"):
        return _build_vendor(name, options)
    raise ValueError(f"unknown source {name!r}; known: simulated, "
                     f"{', '.join(PATTERN_SOURCES)}, replay, ibkr, alpha_vantage")


def _build_vendor(name: str, options: SourceOptions) -> BarSource:
    # Imported lazily: vendor clients pull in network stacks the default path never needs.
    from intraday_jules.adapters import vendors

    return vendors.build_vendor_source(name, options)


